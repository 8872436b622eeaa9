#!/usr/bin/env node
// The one build, run by `npm ci` (prepare), `npm test` (vitest builds the CLI before its
// tests; the VS Code stages build everything), `npm start` and `npm run package`:
//   dist/extension.js   the extension, one file (convex and ws included)
//   dist/cli.mjs        the `shared-notes` command (cli/main.ts); packages stay in node_modules
//   dist/test/suite/    the integration suites run inside VS Code
// `--production` builds only the minified extension (the VSIX holds nothing else).
// Every file is written whole under a temporary name and renamed into place, so a process
// loading dist/ while another run rebuilds it never reads half a file.
import { build } from "esbuild";
import { chmodSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const node = { bundle: true, platform: "node", target: "node20", logLevel: "warning", write: false };

/** The extension and, unless `production`, the suites. */
export async function buildExtension({ production = false } = {}) {
  const common = {
    ...node,
    format: "cjs",
    // `vscode` is provided by the extension host; ws's native speed-ups are optional.
    external: ["vscode", "bufferutil", "utf-8-validate"],
    sourcemap: production ? false : "linked",
  };
  await emit(build({ ...common, entryPoints: [path.join(root, "extension/extension.ts")], outfile: path.join(root, "dist/extension.js"), minify: production }));
  if (production) return;
  const suiteDir = path.join(root, "test/vscode/suite");
  const entries = readdirSync(suiteDir)
    .filter((f) => f.endsWith(".test.ts") || f === "index.ts")
    .map((f) => path.join(suiteDir, f));
  if (entries.length === 0) return;
  await emit(
    build({
      ...common,
      entryPoints: entries,
      outdir: path.join(root, "dist/test/suite"),
      // mocha is loaded by the harness from node_modules; the suites use its globals.
      external: [...common.external, "mocha", "../../../test/vscode/mocha-in-host.cjs"],
    }),
  );
}

/** The command line: an ES module (it awaits at top level) beside node_modules, which it imports from. */
export async function buildCli() {
  const outfile = path.join(root, "dist/cli.mjs");
  await emit(
    build({
      ...node,
      format: "esm",
      packages: "external",
      sourcemap: "linked",
      banner: { js: "#!/usr/bin/env node" },
      entryPoints: [path.join(root, "cli/main.ts")],
      outfile,
    }),
  );
  chmodSync(outfile, 0o755);
}

async function emit(built) {
  for (const file of (await built).outputFiles) {
    mkdirSync(path.dirname(file.path), { recursive: true });
    if (sameAs(file.path, file.contents)) continue;
    const temporary = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
  }
}

function sameAs(file, contents) {
  try {
    return Buffer.compare(readFileSync(file), contents) === 0;
  } catch {
    return false;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const production = process.argv.includes("--production");
  await buildExtension({ production });
  if (!production) await buildCli();
}
