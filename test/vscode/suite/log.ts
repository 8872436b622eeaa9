import * as path from "node:path";

/** The harness's testLog: a line that reaches the runner's terminal, not just the workbench. */
export function testLog(message: string): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const harness = require(path.resolve(__dirname, "../../../test/vscode/mocha-in-host.cjs")) as { testLog(m: string): void };
  harness.testLog(message);
}
