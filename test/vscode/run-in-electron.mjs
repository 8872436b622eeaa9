#!/usr/bin/env node
// Runs the same mocha suites in desktop VS Code through @vscode/test-electron, for users'
// machines that have (or can download) VS Code. These CI machines cannot download it:
// there, use run-in-code-server.mjs. Same CLI as run-in-code-server.mjs:
//   node test/vscode/run-in-electron.mjs -e <extensionDevelopmentPath> -t <extensionTestsPath>
//     [--env NAME=VALUE]... [--folder <dir> | --workspace <file>] [--open-file <file>]
// VSCODE_EXECUTABLE_PATH picks an installed VS Code; otherwise VSCODE_TEST_VERSION
// (default "stable") is downloaded into .vscode-test/.
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

export async function runTestsInElectron(o) {
  const { runTests } = await import('@vscode/test-electron');
  const launchArgs = [
    ...(o.folder || o.workspace || o.openFile ? [resolve(o.folder || o.workspace || o.openFile)] : []),
    // Keep the user's own extensions and the first-run UI out of the test window.
    '--disable-extensions',
    '--disable-workspace-trust',
    '--skip-welcome',
    '--skip-release-notes',
  ];
  try {
    return await runTests({
      extensionDevelopmentPath: o.extensionDevelopmentPath,
      extensionTestsPath: o.extensionTestsPath,
      // In Electron the extension host's output reaches this terminal directly, so
      // SHARED_NOTES_TEST_OUTPUT (the code-server runner's side channel) is not set.
      extensionTestsEnv: { ...o.env },
      launchArgs,
      ...(process.env.VSCODE_EXECUTABLE_PATH
        ? { vscodeExecutablePath: process.env.VSCODE_EXECUTABLE_PATH }
        : { version: process.env.VSCODE_TEST_VERSION || 'stable' }),
    });
  } catch (err) {
    console.error(`VS Code test run failed: ${err?.message || err}`);
    return typeof err?.code === 'number' && err.code !== 0 ? err.code : 1;
  }
}

async function main() {
  const { values } = parseArgs({
    options: {
      'extension-development-path': { type: 'string', short: 'e' },
      'extension-tests-path': { type: 'string', short: 't' },
      env: { type: 'string', multiple: true },
      folder: { type: 'string' },
      workspace: { type: 'string' },
      'open-file': { type: 'string' },
    },
  });
  const dev = values['extension-development-path'] || process.env.VSCODE_TEST_EXTENSION_PATH;
  const tests = values['extension-tests-path'] || process.env.VSCODE_TEST_TESTS_PATH;
  if (!dev || !tests) {
    console.error('usage: run-in-electron.mjs -e <extensionDevelopmentPath> -t <extensionTestsPath> [--env K=V]... [--folder D]');
    return 2;
  }
  const env = {};
  for (const kv of values.env || []) {
    const i = kv.indexOf('=');
    if (i < 1) { console.error(`--env wants NAME=VALUE, got ${kv}`); return 2; }
    env[kv.slice(0, i)] = kv.slice(i + 1);
  }
  return runTestsInElectron({
    extensionDevelopmentPath: resolve(dev),
    extensionTestsPath: resolve(tests),
    env,
    folder: values.folder,
    workspace: values.workspace,
    openFile: values['open-file'],
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then((code) => { process.exitCode = code; }, (err) => { console.error(err); process.exitCode = 1; });
}
