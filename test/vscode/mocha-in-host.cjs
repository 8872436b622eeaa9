'use strict';
// Runs mocha inside VS Code's extension host. A suite's tests entry (the file passed as
// extensionTestsPath) exports `run()` and calls runMocha() with its test files.
//
// Why it looks like this:
// - The extension host loads the tests entry with Node's own require, so `mocha` is
//   resolved the ordinary way from the entry's location (the repo's node_modules). A
//   bundled entry (esbuild) must therefore keep mocha external, or bundle it whole.
// - VS Code turns run()'s promise into the exit code: resolve -> 0, reject -> 1.
// - Extension-host console output goes to the workbench (browser console), not to any
//   stdout the runner sees, so every reporter line is also appended to the file named by
//   SHARED_NOTES_TEST_OUTPUT, which the runners stream to their stdout.
const fs = require('node:fs');
const path = require('node:path');
const util = require('node:util');

// The extension host makes console.* read-only (assignments are silently ignored) and
// forwards it to the workbench only, so output is captured at mocha's reporter seam
// (Base.consoleLog) instead of by patching globals.
let outFd = null;
function put(text) {
  if (outFd === null) return;
  try { fs.writeSync(outFd, text); } catch { /* runner gone */ }
}

/** Like console.log, but also reaches the runner's stdout. Use it for test diagnostics. */
function testLog(...args) {
  put(util.format(...args) + '\n');
  console.log(...args);
}

function teeReporter(Mocha) {
  const file = process.env.SHARED_NOTES_TEST_OUTPUT;
  if (file) outFd = fs.openSync(file, 'a');
  const Base = Mocha.reporters.Base;
  const orig = Base.consoleLog;
  Base.consoleLog = (...args) => {
    put(util.format(...args) + '\n');
    orig(...args);
  };
  return () => {
    Base.consoleLog = orig;
    if (outFd !== null) { try { fs.closeSync(outFd); } catch { /* closed */ } outFd = null; }
  };
}

function findTests(dir, pattern = /\.test\.c?js$/) {
  const out = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...findTests(p, pattern));
    else if (pattern.test(e.name)) out.push(p);
  }
  return out.sort();
}

/**
 * @param {{files?: string[], dir?: string, pattern?: RegExp, timeout?: number, grep?: string}} opts
 * @returns {Promise<void>} rejects when any test failed
 */
async function runMocha(opts = {}) {
  const Mocha = require('mocha');
  const restore = teeReporter(Mocha);
  try {
    const mocha = new Mocha({
      ui: 'bdd',
      // Real editors and networks are slow on 2 cores; tests assert behaviour, not speed.
      timeout: opts.timeout ?? Number(process.env.SHARED_NOTES_MOCHA_TIMEOUT || 60000),
      color: false,
      reporter: 'spec',
      grep: opts.grep ?? process.env.SHARED_NOTES_MOCHA_GREP,
    });
    const files = opts.files ?? findTests(opts.dir, opts.pattern);
    if (files.length === 0) throw new Error(`no test files found in ${opts.dir}`);
    for (const f of files) mocha.addFile(f);
    const { failures, passes } = await new Promise((resolve, reject) => {
      try {
        const runner = mocha.run((failures) => resolve({ failures, passes: runner.stats?.passes ?? 0 }));
      } catch (err) {
        reject(err);
      }
    });
    // Machine-readable summary line the outer runner picks up for its totals.
    testLog(`SHARED_NOTES_MOCHA_RESULT ${JSON.stringify({ passes, failures })}`);
    if (failures > 0) throw new Error(`${failures} test(s) failed`);
  } finally {
    restore();
  }
}

module.exports = { runMocha, findTests, testLog };
