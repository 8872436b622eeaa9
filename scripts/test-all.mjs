#!/usr/bin/env node
// The README's test command: every stage that proves the product, one after another,
// then the per-feature table from feature_list.json and one closing line
// "N passed, N failed". Each stage writes test-results/<stage>.json as
// {tests: [{file, title, passed}]} so results can be matched to features.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const results = join(root, "test-results");

const stages = [
  { name: "unit", command: ["npx", "vitest", "run", "--reporter=default", "--reporter=json", `--outputFile=${join(results, "vitest-raw.json")}`], read: readVitest },
  { name: "vscode", command: ["node", "test/vscode/run-suites.mjs"], read: readStageFile("vscode") },
  { name: "e2e", command: ["node", "test/e2e/run.mjs"], read: readStageFile("e2e") },
];

function readVitest() {
  const raw = JSON.parse(readFileSync(join(results, "vitest-raw.json"), "utf8"));
  return raw.testResults.flatMap((file) =>
    file.assertionResults.map((t) => ({
      file: file.name.slice(root.length + 1),
      title: t.fullName,
      passed: t.status === "passed",
      skipped: t.status === "skipped" || t.status === "pending" || t.status === "todo",
    })),
  );
}

function readStageFile(name) {
  return () => JSON.parse(readFileSync(join(results, `${name}.json`), "utf8")).tests;
}

rmSync(results, { recursive: true, force: true });
mkdirSync(results, { recursive: true });

const only = process.argv.slice(2);
const wanted = stages.filter((s) => !only.length || only.includes(s.name));
if (wanted.some((s) => s.name !== "unit")) {
  // Real VS Code and Chromium: installed once into a cache, a no-op afterwards.
  const setup = spawnSync("bash", ["scripts/setup-vscode.sh"], { cwd: root, stdio: "inherit" });
  if (setup.status !== 0) {
    console.log("setup of code-server/Chromium failed: the VS Code stages cannot run");
    console.log("0 passed, 1 failed");
    process.exit(1);
  }
}
const all = [];
let stagesFailed = 0;
for (const stage of wanted) {
  console.log(`\n=== ${stage.name}: ${stage.command.join(" ")}`);
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
  if (run.status !== 0) stagesFailed += 1;
  all.push(...tests);
}

const features = checkFeatures(all);
const passed = all.filter((t) => t.passed).length;
const failed = all.filter((t) => !t.passed && !t.skipped).length + features.failed;
const skipped = all.filter((t) => t.skipped).length;
console.log(`\n${stagesFailed} stage(s) failed`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 || stagesFailed > 0 ? 1 : 0);

// Every feature names tests as "file" or "file#title fragment"; each must exist, have run
// (when its stage ran) and passed.
function checkFeatures(tests) {
  const path = join(root, "feature_list.json");
  if (!existsSync(path)) return { failed: 0 };
  const { features } = JSON.parse(readFileSync(path, "utf8"));
  const ran = new Set(tests.map((t) => t.file));
  let failedFeatures = 0;
  console.log("\nfeature   result  title");
  for (const f of features) {
    const problems = [];
    for (const ref of f.tests) {
      const [file, fragment] = ref.split("#");
      if (!existsSync(join(root, file))) {
        problems.push(`${file} does not exist`);
        continue;
      }
      if (only.length && !ran.has(file)) continue;
      const matching = tests.filter((t) => t.file === file && (!fragment || t.title.includes(fragment)));
      if (matching.length === 0) problems.push(`no test ran for ${ref}`);
      else if (matching.some((t) => !t.passed && !t.skipped)) problems.push(`${ref} failed`);
    }
    if (problems.length) failedFeatures += 1;
    console.log(`${f.id.padEnd(9)} ${problems.length ? "FAIL" : "pass"}    ${f.title}${problems.length ? `\n          ${problems.join("; ")}` : ""}`);
  }
  return { failed: failedFeatures };
}
