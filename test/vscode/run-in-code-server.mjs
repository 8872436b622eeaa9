#!/usr/bin/env node
// Runs an extension's mocha suites inside the real extension host of code-server (VS Code
// 1.139 for the web), driven by headless Chromium. Also a library: the two-user e2e
// harness reuses startCodeServer / launchChromium / workbenchUrl.
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
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, openSync, readSync, closeSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve, basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { assertVscodeAvailable, chromium as chromiumPath, codeServerEntry, node24 } from '../../scripts/vscode-paths.mjs';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const HOST = '127.0.0.1';

// ---- process-group bookkeeping ------------------------------------------------------
// Every code-server runs as the leader of its own process group (spawn detached = setsid),
// so one kill reaches its extension hosts, pty hosts and file watchers too.
const liveGroups = new Map(); // pgid -> { tmpDir, keep }
let handlersInstalled = false;

function killGroup(pgid, signal) {
  try { process.kill(-pgid, signal); return true; } catch { return false; }
}

function groupAlive(pgid) {
  try { process.kill(-pgid, 0); return true; } catch { return false; }
}

function killAllSync() {
  for (const [pgid, info] of liveGroups) {
    killGroup(pgid, 'SIGKILL');
    if (!info.keep) rmSync(info.tmpDir, { recursive: true, force: true });
  }
  liveGroups.clear();
}

function installHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  // 'exit' handlers must be synchronous: SIGKILL is the only thing that still works there.
  process.on('exit', killAllSync);
  for (const [sig, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
    process.once(sig, () => {
      process.stderr.write(`\n[code-server runner] ${sig}: stopping ${liveGroups.size} code-server instance(s)\n`);
      for (const pgid of liveGroups.keys()) killGroup(pgid, 'SIGTERM');
      setTimeout(() => process.exit(code), 1500).unref();
    });
  }
}

export async function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, HOST, () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

// User settings for every instance: nothing that pops up over the editor, steals keys
// (suggestions accepted by Enter, auto-closed brackets) or reaches for the network.
export const DEFAULT_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.editor.untitled.hint': 'hidden',
  'editor.quickSuggestions': { other: false, comments: false, strings: false },
  'editor.suggestOnTriggerCharacters': false,
  'editor.acceptSuggestionOnEnter': 'off',
  'editor.wordBasedSuggestions': 'off',
  'editor.parameterHints.enabled': false,
  'editor.autoClosingBrackets': 'never',
  'editor.autoClosingQuotes': 'never',
  'editor.autoIndent': 'none',
  'editor.formatOnType': false,
  'editor.minimap.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'telemetry.telemetryLevel': 'off',
  'chat.disableAIFeatures': true,
  'security.workspace.trust.enabled': false,
  'files.hotExit': 'off',
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Variables that would make code-server think it runs inside another VS Code, or change
// how Node starts its children.
const STRIP_ENV = /^(VSCODE_|ELECTRON_|NODE_OPTIONS$|NODE_INSPECT|CODE_SERVER_|PASSWORD$|HASHED_PASSWORD$)/;

/**
 * Starts one code-server. Resolves once /healthz answers.
 * @param {object} [opts]
 * @param {number} [opts.port] default: a free port
 * @param {Record<string,string>} [opts.env] extra environment for the server and so for its extension hosts
 * @param {string[]} [opts.installExtensions] VSIX files or marketplace-less ids installed before start
 * @param {string} [opts.logFile] where server output goes (default: in its temp dir)
 * @param {(line: string) => void} [opts.onLine] called for every output line
 * @param {boolean} [opts.keep] keep the temp dir (user data, logs) after stop
 * @param {Record<string, unknown>} [opts.settings] user settings merged over DEFAULT_SETTINGS
 * @param {string} [opts.saveLogsTo] on stop, copy the server-side logs (extension host logs,
 *   output channels) into this folder
 * @param {string} [opts.name] label for messages
 */
export async function startCodeServer(opts = {}) {
  assertVscodeAvailable();
  installHandlers();
  const name = opts.name || 'code-server';
  const port = opts.port || (await freePort());
  const tmpDir = mkdtempSync(join(tmpdir(), `shared-notes-${name.replace(/[^\w-]/g, '_')}-`));
  const dirs = {
    userData: join(tmpDir, 'user-data'),
    extensions: join(tmpDir, 'extensions'),
    home: join(tmpDir, 'home'),
  };
  for (const d of Object.values(dirs)) mkdirSync(d, { recursive: true });
  mkdirSync(join(dirs.userData, 'User'), { recursive: true });
  writeFileSync(join(dirs.userData, 'User', 'settings.json'),
    JSON.stringify({ ...DEFAULT_SETTINGS, ...opts.settings }, null, 2));
  const env = {};
  for (const [k, v] of Object.entries(process.env)) if (!STRIP_ENV.test(k)) env[k] = v;
  Object.assign(env, {
    // Without these code-server writes config.yaml and state into the real home folder.
    XDG_CONFIG_HOME: join(tmpDir, 'xdg-config'),
    XDG_DATA_HOME: join(tmpDir, 'xdg-data'),
    XDG_CACHE_HOME: join(tmpDir, 'xdg-cache'),
    XDG_STATE_HOME: join(tmpDir, 'xdg-state'),
    XDG_RUNTIME_DIR: join(tmpDir, 'xdg-runtime'),
  }, opts.env || {});
  for (const k of ['XDG_CONFIG_HOME', 'XDG_DATA_HOME', 'XDG_CACHE_HOME', 'XDG_STATE_HOME', 'XDG_RUNTIME_DIR']) {
    mkdirSync(env[k], { recursive: true, mode: 0o700 });
  }

  const logFile = opts.logFile || join(tmpDir, 'code-server.log');
  mkdirSync(resolve(logFile, '..'), { recursive: true });
  const log = createWriteStream(logFile, { flags: 'a' });
  const tail = [];

  const common = ['--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions];
  for (const ext of opts.installExtensions || []) {
    const r = spawnSync(node24, [codeServerEntry, ...common, '--install-extension', ext, '--force'], {
      env, encoding: 'utf8', timeout: 120_000,
    });
    log.write(`$ --install-extension ${ext}\n${r.stdout}${r.stderr}`);
    if (r.status !== 0) {
      rmSync(tmpDir, { recursive: true, force: true });
      throw new Error(`${name}: installing ${ext} failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
    }
  }

  const args = [
    codeServerEntry,
    '--auth', 'none',
    '--bind-addr', `${HOST}:${port}`,
    ...common,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    // A closed page should end its extension host quickly, not after the default 3 hours.
    '--reconnection-grace-time', '5',
    // Makes the web workbench honour extensionTestsPath and call window.codeAutomationExit.
    '--vscode-option', 'enable-smoke-test-driver',
    ...(opts.extraArgs || []),
  ];
  const child = spawn(node24, args, { env, cwd: dirs.home, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const pgid = child.pid;
  liveGroups.set(pgid, { tmpDir, keep: !!opts.keep });
  let exited = null;
  const exitPromise = new Promise((r) => child.on('exit', (code, signal) => { exited = { code, signal }; r(exited); }));

  let partial = '';
  const onData = (buf) => {
    log.write(buf);
    const text = partial + buf.toString('utf8');
    const lines = text.split('\n');
    partial = lines.pop();
    for (const line of lines) {
      tail.push(line);
      if (tail.length > 200) tail.shift();
      opts.onLine?.(line);
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);

  const url = `http://${HOST}:${port}`;
  const stop = async () => {
    if (!liveGroups.has(pgid)) return;
    killGroup(pgid, 'SIGTERM');
    const deadline = Date.now() + 5000;
    while (groupAlive(pgid) && Date.now() < deadline) await sleep(100);
    killGroup(pgid, 'SIGKILL');
    while (groupAlive(pgid) && Date.now() < deadline + 2000) await sleep(50);
    await Promise.race([exitPromise, sleep(1000)]);
    await new Promise((r) => log.end(r));
    if (opts.saveLogsTo && existsSync(join(dirs.userData, 'logs'))) {
      cpSync(join(dirs.userData, 'logs'), opts.saveLogsTo, { recursive: true });
    }
    liveGroups.delete(pgid);
    if (!opts.keep) rmSync(tmpDir, { recursive: true, force: true });
  };

  const started = Date.now();
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`${name} exited during start (${JSON.stringify(exited)}):\n${tail.slice(-30).join('\n')}`);
    }
    try {
      const r = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
      if (r.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() - started > 60_000) {
      await stop();
      throw new Error(`${name} did not answer /healthz within 60 s:\n${tail.slice(-30).join('\n')}`);
    }
    await sleep(200);
  }

  return {
    name, url, host: HOST, port, pid: pgid, tmpDir, logFile, userDataDir: dirs.userData,
    extensionsDir: dirs.extensions, env,
    /** vscode-remote URI of a path on this machine, as this server's workbench sees it */
    remoteUri: (p) => `vscode-remote://${HOST}:${port}${encodeURI(resolve(p))}`,
    tail: () => tail.slice(),
    exited: () => exited,
    stop,
  };
}

/**
 * The workbench URL. payload keys are read by the web workbench (BrowserWorkbenchEnvironmentService).
 * @param {Awaited<ReturnType<typeof startCodeServer>>} server
 * @param {{folder?: string, workspace?: string, openFile?: string, extensionDevelopmentPath?: string|string[],
 *          extensionTestsPath?: string, extensionEnvironment?: Record<string,string>}} [o]
 */
export function workbenchUrl(server, o = {}) {
  const q = new URLSearchParams();
  if (o.folder) q.set('folder', resolve(o.folder));
  else if (o.workspace) q.set('workspace', resolve(o.workspace));
  else q.set('ew', 'true'); // empty window, not whatever code-server would restore
  const payload = [];
  const devPaths = [o.extensionDevelopmentPath || []].flat();
  for (const p of devPaths) payload.push(['extensionDevelopmentPath', server.remoteUri(p)]);
  if (o.extensionTestsPath) payload.push(['extensionTestsPath', server.remoteUri(o.extensionTestsPath)]);
  if (o.openFile) payload.push(['openFile', server.remoteUri(o.openFile)]);
  if (o.extensionEnvironment) payload.push(['extensionEnvironment', JSON.stringify(o.extensionEnvironment)]);
  if (payload.length) q.set('payload', JSON.stringify(payload));
  return `${server.url}/?${q}`;
}

export const CHROMIUM_ARGS = [
  '--no-sandbox', // we run as root
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];

/** Debian's Chromium through playwright-core; Playwright gives it a fresh temp profile. */
export async function launchChromium(opts = {}) {
  const { chromium } = await import('playwright-core');
  // Chromium's crash reporter and dconf write under XDG dirs even with a temp profile.
  const xdg = mkdtempSync(join(tmpdir(), 'shared-notes-chromium-'));
  try {
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true, // Playwright adds --headless
      args: CHROMIUM_ARGS,
      timeout: 60_000,
      env: { ...process.env, XDG_CONFIG_HOME: join(xdg, 'config'), XDG_CACHE_HOME: join(xdg, 'cache') },
      ...opts,
    });
    browser.on('disconnected', () => rmSync(xdg, { recursive: true, force: true }));
    return browser;
  } catch (err) {
    rmSync(xdg, { recursive: true, force: true });
    throw err;
  }
}

// Offline machine: the marketplace and remote resources never load; not worth reporting.
const NOISE = /open-vsx\.org|ERR_NAME_NOT_RESOLVED|status of 404|ENOTFOUND/;

/** Reads a growing file from where it was last read. */
function fileFollower(path) {
  let pos = 0;
  let rest = '';
  return () => {
    if (!existsSync(path)) return [];
    const size = statSync(path).size;
    if (size <= pos) return [];
    const fd = openSync(path, 'r');
    const buf = Buffer.alloc(size - pos);
    readSync(fd, buf, 0, buf.length, pos);
    closeSync(fd);
    pos = size;
    const lines = (rest + buf.toString('utf8')).split('\n');
    rest = lines.pop();
    return lines;
  };
}

/**
 * Runs one test suite inside code-server's extension host.
 * @returns {Promise<{exitCode: number, passes?: number, failures?: number, durationMs: number, resultsDir: string, console: string[]}>}
 */
export async function runTestsInCodeServer(o) {
  const t0 = Date.now();
  const name = o.name || basename(resolve(o.extensionTestsPath, '..'));
  const out = o.out || process.stdout;
  const say = (s) => out.write(`[vscode:${name}] ${s}\n`);
  const resultsDir = resolve(o.resultsDir || join(repoRoot, 'test-results', `vscode-${name}`));
  rmSync(resultsDir, { recursive: true, force: true });
  mkdirSync(resultsDir, { recursive: true });
  const timeoutMs = o.timeoutMs ?? 10 * 60_000;

  const testOutput = join(resultsDir, 'test-output.log');
  writeFileSync(testOutput, '');
  const follow = fileFollower(testOutput);
  let result = null;
  const pump = () => {
    for (const line of follow()) {
      const m = /^SHARED_NOTES_MOCHA_RESULT (.*)$/.exec(line);
      if (m) { try { result = JSON.parse(m[1]); } catch { /* partial line */ } continue; }
      out.write(`${line}\n`);
    }
  };

  const consoleLines = [];
  const consoleLog = createWriteStream(join(resultsDir, 'browser-console.log'));
  const record = (s) => { consoleLines.push(s); consoleLog.write(`${s}\n`); if (o.verbose) say(`browser: ${s}`); };

  let server;
  let browser;
  let exitCode;
  const timer = { id: null };
  try {
    server = await startCodeServer({
      name,
      env: { ...o.env, SHARED_NOTES_TEST_OUTPUT: testOutput },
      installExtensions: o.installExtensions,
      logFile: join(resultsDir, 'code-server.log'),
      saveLogsTo: join(resultsDir, 'server-logs'),
      settings: o.settings,
      onLine: o.verbose ? (l) => say(`server: ${l}`) : undefined,
    });
    say(`code-server ${server.url} (pid ${server.pid}) up after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();

    let resolveExit;
    const exitP = new Promise((r) => { resolveExit = r; });
    // Called by the workbench when the extension host's test run ends: (code, logFiles).
    await page.exposeFunction('codeAutomationExit', (code, logs) => {
      for (const { relativePath, contents } of logs || []) {
        const dest = join(resultsDir, 'workbench-logs', relativePath);
        mkdirSync(resolve(dest, '..'), { recursive: true });
        writeFileSync(dest, contents);
      }
      resolveExit(Number(code));
    });
    await page.exposeFunction('codeAutomationLog', (level, message) => record(`[workbench ${level}] ${message}`));
    // '%c'-styled messages are the workbench logger's copies of what codeAutomationLog
    // already delivered unstyled.
    page.on('console', (m) => { const t = m.text(); if (!t.startsWith('%c')) record(`[${m.type()}] ${t}`); });
    page.on('pageerror', (e) => record(`[pageerror] ${e.message}`));
    page.on('crash', () => resolveExit(Promise.reject(new Error('the browser page crashed'))));

    const url = workbenchUrl(server, {
      folder: o.folder,
      workspace: o.workspace,
      openFile: o.openFile,
      extensionDevelopmentPath: o.extensionDevelopmentPath,
      extensionTestsPath: o.extensionTestsPath,
    });
    if (o.verbose) say(`open ${url}`);
    await page.goto(url, { waitUntil: 'domcontentloaded', timeout: 60_000 });

    const poll = setInterval(pump, 200);
    const serverDied = (async () => {
      while (!server.exited()) await sleep(500);
      throw new Error(`code-server exited: ${JSON.stringify(server.exited())}`);
    })();
    const timeout = new Promise((_, rej) => {
      timer.id = setTimeout(() => rej(new Error(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
    });
    try {
      exitCode = await Promise.race([exitP, serverDied, timeout]);
    } catch (err) {
      say(`ERROR: ${err.message}`);
      await page.screenshot({ path: join(resultsDir, 'failure.png') }).catch(() => {});
      exitCode = 1;
    } finally {
      clearInterval(poll);
    }
    pump();
    if (exitCode !== 0 && !existsSync(join(resultsDir, 'failure.png'))) {
      await page.screenshot({ path: join(resultsDir, 'failure.png') }).catch(() => {});
    }
  } catch (err) {
    say(`ERROR: ${err.message}`);
    exitCode = 1;
  } finally {
    clearTimeout(timer.id);
    await browser?.close().catch(() => {});
    await server?.stop();
    pump();
    await new Promise((r) => consoleLog.end(r));
  }
  // The workbench may report 0 while mocha counted failures if run() swallowed them.
  if (result && result.failures > 0 && exitCode === 0) exitCode = 1;
  if (!result && exitCode === 0) {
    say('WARNING: the tests entry never reported a mocha result (did it use test/vscode/mocha-in-host.cjs?)');
  }
  if (exitCode !== 0) {
    const errs = consoleLines
      .filter((l) => /^\[(error|pageerror|workbench error)\]/.test(l) && !NOISE.test(l))
      .map((l) => l.split('\n')[0].slice(0, 300))
      .slice(-15);
    if (errs.length) say(`browser console errors (all in ${join(resultsDir, 'browser-console.log')}):\n  ${errs.join('\n  ')}`);
    say(`logs: ${resultsDir}`);
  }
  const durationMs = Date.now() - t0;
  say(`exit ${exitCode} after ${(durationMs / 1000).toFixed(1)} s`);
  return { exitCode, passes: result?.passes, failures: result?.failures, durationMs, resultsDir, console: consoleLines };
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
