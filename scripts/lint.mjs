#!/usr/bin/env node
// The lint stage of `npm test`: ESLint over the whole tree (eslint.config.mjs), reported
// as one test in test-results/lint.json so the summary counts it like any other.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = spawnSync("npx", ["eslint", "--max-warnings", "0", "."], { cwd: root, stdio: "inherit" });
mkdirSync(join(root, "test-results"), { recursive: true });
const passed = run.status === 0;
writeFileSync(join(root, "test-results", "lint.json"), JSON.stringify({ tests: [{ file: "eslint.config.mjs", title: "the tree lints clean (ESLint, typescript-eslint, Convex's rules)", passed }] }));
console.log(passed ? "lint: clean" : "lint: problems above");
process.exit(passed ? 0 : 1);
