// Runs one mocha suite inside the real extension host of code-server, driven by headless
// Chromium, and collects its results and logs.
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from './chromium.mjs';
import { startCodeServer, workbenchUrl } from './codeServer.mjs';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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
