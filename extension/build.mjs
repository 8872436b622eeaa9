#!/usr/bin/env node
// Bundles the extension into dist/extension.js (one file: convex and ws included) and
// the integration suites into dist/test/suite/. `--production` minifies the extension and
// skips the suites (for the VSIX).
import { build } from "esbuild";
import { readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const production = process.argv.includes("--production");

const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // `vscode` is provided by the extension host; ws's native speed-ups are optional.
  external: ["vscode", "bufferutil", "utf-8-validate"],
  logLevel: "warning",
  sourcemap: production ? false : "linked",
};

await build({
  ...common,
  entryPoints: [path.join(root, "extension/extension.ts")],
  outfile: path.join(root, "dist/extension.js"),
  minify: production,
});

if (!production) {
  const suiteDir = path.join(root, "test/vscode/suite");
  const entries = readdirSync(suiteDir)
    .filter((f) => f.endsWith(".test.ts") || f === "index.ts")
    .map((f) => path.join(suiteDir, f));
  if (entries.length > 0) {
    await build({
      ...common,
      entryPoints: entries,
      outdir: path.join(root, "dist/test/suite"),
      // mocha is loaded by the harness from node_modules; the suites use its globals.
      external: [...common.external, "mocha", "../../../test/vscode/mocha-in-host.cjs"],
    });
  }
}
