/// <reference types="mocha" />
// Records each test's outcome for npm test's per-feature table (test-results/vscode.json).
// Loaded first (the name sorts first), so its root-level hook covers every suite.
import { appendFileSync } from "node:fs";
import * as path from "node:path";

const out = process.env.SHARED_NOTES_TEST_RESULTS;

afterEach(function () {
  const test = this.currentTest;
  if (!out || !test) return;
  const built = path.basename(test.file ?? "unknown.test.js").replace(/\.js$/, ".ts");
  const record = {
    file: `test/vscode/suite/${built}`,
    title: test.fullTitle(),
    passed: test.state === "passed",
    skipped: test.isPending(),
  };
  appendFileSync(out, `${JSON.stringify(record)}\n`);
});
