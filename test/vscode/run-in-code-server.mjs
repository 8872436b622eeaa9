#!/usr/bin/env node
// Command line: runs an extension's mocha suites inside the real extension host of
// code-server (VS Code 1.139 for the web), driven by headless Chromium. The pieces live in
// harness/vscode/ (launcher, browser, runner), which the e2e harness and `npm start` share.
//
// CLI:
//   node test/vscode/run-in-code-server.mjs \
//     --extension-development-path <dir> --extension-tests-path <entry.js> \
//     [--env NAME=VALUE]... [--folder <dir> | --workspace <file.code-workspace>] \
//     [--open-file <file>] [--timeout <seconds>] [--name <label>] [--verbose]
// Environment fallbacks: VSCODE_TEST_EXTENSION_PATH, VSCODE_TEST_TESTS_PATH,
// VSCODE_TEST_FOLDER, VSCODE_TEST_TIMEOUT (seconds), VSCODE_TEST_VERBOSE=1.
// The runner's own environment is inherited by the extension host, so e.g.
// SHARED_NOTES_SERVER_URL set for the runner reaches the extension.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runTestsInCodeServer } from '../../harness/vscode/runSuite.mjs';

async function main() {
  const { values } = parseArgs({
    options: {
      'extension-development-path': { type: 'string', short: 'e' },
      'extension-tests-path': { type: 'string', short: 't' },
      env: { type: 'string', multiple: true },
      folder: { type: 'string' },
      workspace: { type: 'string' },
      'open-file': { type: 'string' },
      'install-extension': { type: 'string', multiple: true },
      timeout: { type: 'string' },
      name: { type: 'string' },
      'results-dir': { type: 'string' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const usage = 'usage: run-in-code-server.mjs -e <extensionDevelopmentPath> -t <extensionTestsPath> [--env K=V]... [--folder D | --workspace F] [--open-file F] [--install-extension VSIX]... [--timeout S] [--name N] [--verbose]';
  if (values.help) { console.log(usage); return 0; }
  const dev = values['extension-development-path'] || process.env.VSCODE_TEST_EXTENSION_PATH;
  const tests = values['extension-tests-path'] || process.env.VSCODE_TEST_TESTS_PATH;
  if (!dev || !tests) { console.error(usage); return 2; }
  const env = {};
  for (const kv of values.env || []) {
    const i = kv.indexOf('=');
    if (i < 1) { console.error(`--env wants NAME=VALUE, got ${kv}`); return 2; }
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  for (const p of [dev, tests]) if (!existsSync(p)) { console.error(`not found: ${p}`); return 2; }
  const r = await runTestsInCodeServer({
    extensionDevelopmentPath: resolve(dev),
    extensionTestsPath: resolve(tests),
    env,
    folder: values.folder || process.env.VSCODE_TEST_FOLDER,
    workspace: values.workspace,
    openFile: values['open-file'],
    installExtensions: values['install-extension'],
    timeoutMs: Number(values.timeout || process.env.VSCODE_TEST_TIMEOUT || 600) * 1000,
    name: values.name,
    resultsDir: values['results-dir'],
    verbose: values.verbose || process.env.VSCODE_TEST_VERBOSE === '1',
  });
  if (r.passes !== undefined) console.log(`vscode: ${r.passes} passed, ${r.failures} failed`);
  return r.exitCode;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => { process.exitCode = code; },
    (err) => { console.error(err?.stack || err); process.exitCode = 1; },
  );
}
