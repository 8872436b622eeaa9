#!/usr/bin/env node
// Runs the extension's integration suites (test/vscode/suite) inside real VS Code against
// a real local backend:
//   1. bundles the extension and the suites (scripts/build.mjs),
//   2. starts the embedded backend on a free port with a temporary data folder,
//   3. creates a space on it,
//   4. runs the suites in code-server (default) or desktop VS Code (--electron), passing
//      SHARED_NOTES_SERVER_URL / _SPACE_ID / _SPACE_KEY / _USER_NAME to the extension host,
//   5. writes test-results/vscode.json ({tests: [{file, title, passed}]}) for npm test.
// The suites stop and restart the backend through a small control endpoint
// (SHARED_NOTES_TEST_CONTROL_URL) to check offline behaviour.
//
//   node test/vscode/run-suites.mjs [--electron] [--vsix <file>] [--grep <pattern>] [--verbose]
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { importTs } from '../../scripts/run-ts.mjs';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const { values } = parseArgs({
  options: {
    electron: { type: 'boolean' },
    // Test the packaged extension: install this VSIX instead of loading the source tree.
    vsix: { type: 'string' },
    grep: { type: 'string' },
    verbose: { type: 'boolean', short: 'v' },
  },
});

const say = (s) => process.stdout.write(`[suites] ${s}\n`);
const resultsDir = join(root, 'test-results');
mkdirSync(resultsDir, { recursive: true });
const resultsLog = join(resultsDir, 'vscode-tests.jsonl');
rmSync(resultsLog, { force: true });
// The extension's own log (its output channel), copied to a file for failures.
const extensionLog = join(tmpdir(), `shared-notes-suites-extension-${process.pid}.log`);

function writeStage(tests) {
  writeFileSync(join(resultsDir, 'vscode.json'), JSON.stringify({ tests }, null, 2));
}

const built = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
if (built.status !== 0) {
  writeStage([{ file: 'test/vscode/run-suites.mjs', title: 'build the extension and suites', passed: false }]);
  process.exit(1);
}

const { startBackend } = await importTs(join(root, 'backend/serve.ts'));
const dataDir = mkdtempSync(join(tmpdir(), 'shared-notes-suites-data-'));
let backend = await startBackend({ port: 0, dataDir });
const port = backend.port;
say(`backend ${backend.url} (data ${dataDir})`);

// Stop/start the backend on request from the suites, on the same port and data.
const control = createServer(async (req, res) => {
  try {
    if (req.method === 'POST' && req.url === '/backend/stop') {
      if (backend) await backend.close();
      backend = undefined;
      say('backend stopped (asked by a suite)');
    } else if (req.method === 'POST' && req.url === '/backend/start') {
      if (!backend) backend = await startBackend({ port, dataDir });
      say('backend started again (asked by a suite)');
    } else {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ running: !!backend }));
  } catch (err) {
    res.writeHead(500).end(String(err?.stack || err));
  }
});
await new Promise((r) => control.listen(0, '127.0.0.1', r));
const controlUrl = `http://127.0.0.1:${control.address().port}`;

function emptyExtension() {
  const dir = mkdtempSync(join(tmpdir(), 'shared-notes-empty-ext-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({
    name: 'shared-notes-suite-host', publisher: 'shared-notes', version: '0.0.0', engines: { vscode: '^1.90.0' },
  }));
  return dir;
}

let exitCode;
try {
  const { ConvexHttpClient } = await import('convex/browser');
  const { anyApi } = await import('convex/server');
  const http = new ConvexHttpClient(backend.url, { skipConvexDeploymentUrlCheck: true });
  const key = randomBytes(32).toString('base64url');
  const spaceId = await http.mutation(anyApi.spaces.create, { key, name: 'Suite space' });
  say(`space ${spaceId}`);

  const env = {
    SHARED_NOTES_SERVER_URL: backend.url,
    SHARED_NOTES_SPACE_ID: spaceId,
    SHARED_NOTES_SPACE_KEY: key,
    SHARED_NOTES_USER_NAME: 'Suite User',
    SHARED_NOTES_TEST_CONTROL_URL: controlUrl,
    SHARED_NOTES_TEST_RESULTS: resultsLog,
    SHARED_NOTES_LOG_FILE: extensionLog,
    ...(values.grep ? { SHARED_NOTES_MOCHA_GREP: values.grep } : {}),
  };
  const opts = {
    // With --vsix the suites need some development path to be run at all; an empty
    // extension folder keeps the installed VSIX the only Shared Notes in the window.
    extensionDevelopmentPath: values.vsix ? emptyExtension() : root,
    ...(values.vsix ? { installExtensions: [resolve(values.vsix)] } : {}),
    extensionTestsPath: join(root, 'dist/test/suite/index.js'),
    env,
    name: 'suites',
    timeoutMs: 15 * 60_000,
    verbose: values.verbose,
  };
  if (values.electron) {
    const { runTestsInElectron } = await import('./run-in-electron.mjs');
    exitCode = await runTestsInElectron(opts);
  } else {
    const { runTestsInCodeServer } = await import('../../harness/vscode/runSuite.mjs');
    const r = await runTestsInCodeServer(opts);
    exitCode = r.exitCode;
    if (r.passes !== undefined) say(`${r.passes} passed, ${r.failures} failed`);
  }
} catch (err) {
  say(`ERROR: ${err?.stack || err}`);
  exitCode = 1;
} finally {
  await new Promise((r) => control.close(r));
  if (backend) await backend.close();
  rmSync(dataDir, { recursive: true, force: true });
}

const tests = existsSync(resultsLog)
  ? readFileSync(resultsLog, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
  : [];
if (exitCode !== 0 && !tests.some((t) => !t.passed)) {
  tests.push({ file: 'test/vscode/run-suites.mjs', title: `suites run exited with ${exitCode}`, passed: false });
}
writeStage(tests);
if (exitCode !== 0 && existsSync(extensionLog)) say(`extension log: ${extensionLog}`);
else rmSync(extensionLog, { force: true });
say(`exit ${exitCode}`);
process.exit(exitCode);
