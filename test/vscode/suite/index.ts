// Tests entry for the extension's suites: the extension host calls run().
import * as path from "node:path";

interface Harness {
  runMocha(opts: { dir: string; pattern: RegExp; timeout?: number }): Promise<void>;
}

export function run(): Promise<void> {
  // Loaded at run time from the repo (not bundled), so the suites share its output file.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const harness = require(path.resolve(__dirname, "../../../test/vscode/mocha-in-host.cjs")) as Harness;
  return harness.runMocha({ dir: __dirname, pattern: /\.test\.js$/ });
}
