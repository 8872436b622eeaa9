#!/usr/bin/env node
// The README's test command: every stage that proves the product, one after another,
// then the per-feature table from feature_list.json and one closing line
// "N passed, N failed[, N skipped]". Each stage writes test-results/<stage>.json as
// {tests: [{file, title, passed, skipped?}]} so results can be matched to features.
//
//   node scripts/test-all.mjs [stage …]     all stages, or only the named ones
//
// Stages that need real VS Code run after its setup (scripts/setup-vscode.sh, a no-op once
// installed); when the setup fails, only those stages fail and the others still run.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const results = join(root, "test-results");

const stages = [
  { name: "lint", command: ["node", "scripts/lint.mjs"], read: readStageFile("lint") },
  { name: "unit", command: ["npx", "vitest", "run", "--reporter=default", "--reporter=json", `--outputFile=${join(results, "vitest-raw.json")}`], read: readVitest },
  { name: "vscode", command: ["node", "test/vscode/run-suites.mjs"], read: readStageFile("vscode"), needsVscode: true },
  { name: "e2e", command: ["node", "test/e2e/run.mjs"], read: readStageFile("e2e"), needsVscode: true },
];

function readVitest() {
  const raw = JSON.parse(readFileSync(join(results, "vitest-raw.json"), "utf8"));
  return raw.testResults.flatMap((file) => {
    const name = file.name.slice(root.length + 1);
    const tests = file.assertionResults.map((t) => ({
      file: name,
      title: t.fullName,
      passed: t.status === "passed",
      skipped: t.status === "skipped" || t.status === "pending" || t.status === "todo",
    }));
    // A file that failed to load has no test results, only a message: count it.
    if (file.status === "failed" && !tests.some((t) => !t.passed && !t.skipped)) {
      tests.push({ file: name, title: `${name} failed to run: ${String(file.message ?? "").split("\n")[0]}`, passed: false });
    }
    return tests;
  });
}

function readStageFile(name) {
  return () => JSON.parse(readFileSync(join(results, `${name}.json`), "utf8")).tests;
}

rmSync(results, { recursive: true, force: true });
mkdirSync(results, { recursive: true });

const only = process.argv.slice(2);
const wanted = stages.filter((s) => !only.length || only.includes(s.name));

/** Undefined once real VS Code is ready; otherwise why it is not. Set up at most once. */
let vscodeProblem = null;
function setUpVscode() {
  if (vscodeProblem !== null) return vscodeProblem;
  // Real VS Code and Chromium: installed once into a cache, a no-op afterwards.
  const setup = spawnSync("bash", ["scripts/setup-vscode.sh"], { cwd: root, stdio: "inherit" });
  vscodeProblem = setup.status === 0 ? undefined : `setup of code-server/Chromium failed (scripts/setup-vscode.sh exited ${setup.status ?? setup.signal})`;
  return vscodeProblem;
}

const all = [];
const failedStages = [];
for (const stage of wanted) {
  console.log(`\n=== ${stage.name}: ${stage.command.join(" ")}`);
  const problem = stage.needsVscode ? setUpVscode() : undefined;
  if (problem) {
    console.log(`stage ${stage.name} cannot run: ${problem}`);
    all.push({ file: stage.name, title: `${stage.name} stage did not run: ${problem}`, passed: false });
    failedStages.push(stage.name);
    continue;
  }
  const run = spawnSync(stage.command[0], stage.command.slice(1), { cwd: root, stdio: "inherit" });
  let tests = [];
  try {
    tests = stage.read();
  } catch (err) {
    console.log(`stage ${stage.name} left no results (${err.message})`);
  }
  if (run.status !== 0 && !tests.some((t) => !t.passed && !t.skipped)) {
    // A stage that crashed before reporting a failing test still failed.
    tests.push({ file: stage.name, title: `${stage.name} stage exited with ${run.status ?? run.signal}`, passed: false });
  }
  if (run.status !== 0) failedStages.push(stage.name);
  all.push(...tests);
}

const features = checkFeatures(all);
const passed = all.filter((t) => t.passed).length;
const failed = all.filter((t) => !t.passed && !t.skipped).length + features.failed;
const skipped = all.filter((t) => t.skipped);
if (skipped.length) {
  console.log(`\nskipped (${skipped.length}):`);
  for (const t of skipped) console.log(`  ${t.file}: ${t.title}`);
}
console.log(`\n${failedStages.length} stage(s) failed${failedStages.length ? `: ${failedStages.join(", ")}` : ""}`);
console.log(`${passed} passed, ${failed} failed${skipped.length ? `, ${skipped.length} skipped` : ""}`);
process.exit(failed > 0 || failedStages.length > 0 ? 1 : 0);

// Every feature names tests as "file" or "file#title fragment"; each must exist, have run
// (when its stage ran) and passed. Failing tests no feature names go in an "other" row, so
// the table can never read all-pass above a non-zero failure count.
function checkFeatures(tests) {
  const path = join(root, "feature_list.json");
  const { features } = existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : { features: [] };
  const ran = new Set(tests.map((t) => t.file));
  const claimed = new Set();
  let failedFeatures = 0;
  console.log("\nfeature   result  title");
  for (const f of features) {
    const problems = [];
    const skips = [];
    for (const ref of f.tests) {
      const [file, fragment] = ref.split("#");
      if (!existsSync(join(root, file))) {
        problems.push(`${file} does not exist`);
        continue;
      }
      if (only.length && !ran.has(file)) continue;
      const matching = tests.filter((t) => t.file === file && (!fragment || t.title.includes(fragment)));
      for (const t of matching) claimed.add(t);
      if (matching.length === 0) problems.push(`no test ran for ${ref}`);
      else if (matching.some((t) => !t.passed && !t.skipped)) problems.push(`${ref} failed`);
      else if (matching.every((t) => t.skipped)) skips.push(`${ref} was skipped`);
    }
    if (problems.length) failedFeatures += 1;
    const result = problems.length ? "FAIL" : skips.length ? "skip" : "pass";
    const notes = [...problems, ...skips];
    console.log(`${f.id.padEnd(9)} ${result}    ${f.title}${notes.length ? `\n          ${notes.join("; ")}` : ""}`);
  }
  const others = tests.filter((t) => !t.passed && !t.skipped && !claimed.has(t));
  console.log(`${"other".padEnd(9)} ${others.length ? "FAIL" : "pass"}    tests no feature names${others.map((t) => `\n          ${t.file}: ${t.title}`).join("")}`);
  return { failed: failedFeatures };
}
