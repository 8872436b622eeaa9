#!/usr/bin/env node
// Runs TypeScript without a build step: esbuild bundles the entry (our own sources;
// packages stay external so node_modules load normally) into node_modules/.cache/run-ts/
// and Node imports the result. The cache sits inside the repo so that bare imports in
// the bundle resolve against the repo's node_modules.
//
//   node scripts/run-ts.mjs <entry.ts> [args...]      run a script
//   import { importTs } from "./run-ts.mjs"           load a module (tests and benchmarks)
import { build } from "esbuild";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, realpathSync, rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export async function importTs(entry) {
  const entryPath = path.resolve(entry);
  const outDir = path.join(repo, "node_modules", ".cache", "run-ts");
  mkdirSync(outDir, { recursive: true });
  const hash = createHash("sha1").update(entryPath).digest("hex").slice(0, 12);
  // One file per load: processes started together (tests run several CLIs at once) would
  // otherwise rewrite one shared file while another imports it.
  const outfile = path.join(outDir, `${path.basename(entryPath, path.extname(entryPath))}-${hash}-${process.pid}-${randomBytes(4).toString("hex")}.mjs`);
  await build({
    entryPoints: [entryPath],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    sourcemap: "inline",
    logLevel: "error",
  });
  try {
    return await import(pathToFileURL(outfile).href);
  } finally {
    rmSync(outfile, { force: true });
  }
}

const invokedDirectly = process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (invokedDirectly) {
  const [entry, ...rest] = process.argv.slice(2);
  if (!entry) {
    process.stderr.write("usage: node scripts/run-ts.mjs <entry.ts> [args...]\n");
    process.exit(2);
  }
  process.argv = [process.argv[0], path.resolve(entry), ...rest];
  await importTs(entry);
}
