// Starts real VS Code for the web (code-server) from the cache scripts/setup-vscode.sh
// fills, each instance in its own temp folders and process group, and builds workbench URLs.
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { assertVscodeAvailable, codeServerEntry, node24 } from '../../scripts/vscode-paths.mjs';
import { groupAlive, installHandlers, killGroup, liveGroups } from './processGroups.mjs';

export const HOST = '127.0.0.1';

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
