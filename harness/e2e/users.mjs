// Two-user (N-user) end-to-end harness: each user gets their own code-server (own port,
// user data, extension host and environment) and their own browser context in one
// headless Chromium, and is driven like a person: command palette, real key presses,
// reading what the editor renders.
//
//   const session = await startUsers({ users: ['Alice', 'Bob'], extensionDevelopmentPath });
//   const [alice, bob] = session.users;
//   await alice.runCommand('File: New Untitled Text File');
//   await alice.type('hello');
//   await bob.waitForEditorText((t) => t.includes('hello'));
//   await session.stop();              // always, e.g. in finally / after()
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '../vscode/chromium.mjs';
import { startCodeServer, workbenchUrl } from '../vscode/codeServer.mjs';

const repoRoot = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function poll(what, fn, { timeout = 30_000, interval = 100 } = {}) {
  const end = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) { last = err; }
    if (Date.now() > end) throw new Error(`timed out after ${timeout} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
    await sleep(interval);
  }
}

// Runs in the page. Monaco renders only the lines in the viewport, as absolutely placed
// .view-line elements whose DOM order is not line order (they are recycled while
// scrolling), and draws spaces as U+00A0. Sort by `top` and map NBSP back to spaces.
function readRenderedLines(selector) {
  const root = document.querySelector(selector);
  if (!root) return null;
  return [...root.querySelectorAll(':scope > .view-line')]
    .map((el) => ({ top: parseFloat(el.style.top) || 0, text: el.textContent.replace(/\u00a0/g, ' ') }))
    .sort((a, b) => a.top - b.top)
    .map((l) => l.text);
}

// The text editor of the active editor group (not the panel, not a diff side).
const ACTIVE_MONACO = '.editor-group-container.active .editor-instance .monaco-editor:not(.inline-diff-editor)';
export const ACTIVE_EDITOR = `${ACTIVE_MONACO} .view-lines`;
// Where the editor takes keys: a hidden textarea, or a div with the EditContext API.
const ACTIVE_INPUT = `${ACTIVE_MONACO} textarea.inputarea, ${ACTIVE_MONACO} .native-edit-context`;

export class User {
  constructor({ name, server, context, page, resultsDir }) {
    this.name = name;
    this.server = server;
    this.context = context;
    this.page = page;
    this.resultsDir = resultsDir;
    /** browser console messages, oldest first */
    this.console = [];
    this.consoleFile = join(resultsDir, `${name}-browser-console.log`);
    const record = (line) => {
      this.console.push(line);
      appendFileSync(this.consoleFile, `${line}\n`);
    };
    page.on('console', (m) => { const t = m.text(); if (!t.startsWith('%c')) record(`[${m.type()}] ${t}`); });
    page.on('pageerror', (e) => record(`[pageerror] ${e.message}`));
    this._record = record;
  }

  /**
   * The last lines of the extension's own log in this window (its "Shared Notes" output
   * channel, which the extension host writes under the server's user data), or a sentence
   * saying why there are none: what a failed check prints, so that a failure in CI says
   * what the extension did.
   */
  extensionLogTail(lines = 20) {
    const logs = join(this.server.userDataDir, 'logs');
    const found = [];
    const walk = (dir) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name === 'Shared Notes.log') found.push(path);
      }
    };
    if (existsSync(logs)) walk(logs);
    const newest = found.sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
    if (!newest) return `(no Shared Notes log under ${logs})`;
    return readFileSync(newest, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  }

  /** Must run before the page loads the workbench. */
  async init() {
    // With the smoke-test driver on, the workbench logger (which also carries the
    // extension host's console output) calls window.codeAutomationLog(level, message);
    // the styled '%c' console copies of the same lines are skipped above.
    await this.page.exposeFunction('codeAutomationLog', (level, message) => this._record(`[workbench ${level}] ${message}`));
  }

  /** Waits until the workbench has restored and its parts are on screen. */
  async waitForWorkbench({ timeout = 90_000 } = {}) {
    await this.page.waitForSelector('.monaco-workbench .part.statusbar', { timeout });
    // The smoke-test driver (enabled by --vscode-option enable-smoke-test-driver) knows
    // when restore and the workbench contributions are done.
    await poll('window.driver', () => this.page.evaluate(() => !!window.driver), { timeout });
    await this.page.evaluate(() => window.driver.whenWorkbenchRestored());
    await this.page.waitForSelector('.monaco-workbench .part.editor', { timeout });
  }

  /**
   * Runs a command by its palette label ("Category: Title"), as a person would via F1.
   * The fuzzy list often ranks a longer label first ("File: Compare New Untitled Text
   * Files" above "File: New Untitled Text File"), so the row whose label is exactly
   * `label` is picked with the arrow keys, not the top row.
   */
  async runCommand(label, { timeout = 30_000 } = {}) {
    const { page } = this;
    const input = '.quick-input-widget .quick-input-box input';
    await page.keyboard.press('F1');
    await page.waitForSelector(input, { state: 'visible', timeout });
    await page.fill(input, `>${label}`);
    const rowState = (want) => {
      const norm = (t) => (t ?? '').replace(/\u00a0/g, ' ').trim();
      const rows = [...document.querySelectorAll('.quick-input-widget .quick-input-list .monaco-list-row')];
      const focused = rows.findIndex((r) => r.classList.contains('focused'));
      const target = rows.findIndex((r) => norm(r.querySelector('.label-name')?.textContent) === want);
      // data-index is the row's place in the whole (virtualized) list.
      const idx = (i) => (i < 0 ? -1 : Number(rows[i].getAttribute('data-index') ?? i));
      return { focused: idx(focused), target: idx(target) };
    };
    let state;
    await poll(`"${label}" in the command palette`, async () => {
      state = await page.evaluate(rowState, label);
      return state.target >= 0 && state.focused >= 0;
    }, { timeout });
    for (let i = 0; i < 50 && state.focused !== state.target; i++) {
      await page.keyboard.press(state.focused < state.target ? 'ArrowDown' : 'ArrowUp');
      state = await page.evaluate(rowState, label);
    }
    if (state.focused !== state.target) throw new Error(`${this.name}: could not select "${label}" in the command palette`);
    await page.keyboard.press('Enter');
    await page.waitForSelector('.quick-input-widget', { state: 'hidden', timeout }).catch(() => {});
  }

  /** Real key events, one character at a time ("\n" is Enter). */
  async type(text, { delay = 25 } = {}) {
    await this.page.keyboard.type(text, { delay });
  }

  async press(key) {
    await this.page.keyboard.press(key);
  }

  /**
   * Clicks into the active editor's text area so key presses land there. A teammate's
   * name label drawn where the click lands keeps the focus from the editor, so the
   * editor's input is then given the focus outright.
   */
  async focusEditor() {
    await this.page.click(ACTIVE_EDITOR, { position: { x: 5, y: 5 } });
    await this.page.focus(ACTIVE_INPUT);
  }

  /**
   * The rendered lines of the active editor, top to bottom. Only lines inside the
   * viewport exist in the DOM: for long documents scroll first, or assert on a window.
   */
  async editorLines(selector = ACTIVE_EDITOR) {
    return (await this.page.evaluate(readRenderedLines, selector)) ?? [];
  }

  async editorText(selector = ACTIVE_EDITOR) {
    return (await this.editorLines(selector)).join('\n');
  }

  /** Waits until the rendered text equals `expected` (string) or satisfies it (function). */
  async waitForEditorText(expected, { timeout = 30_000, selector = ACTIVE_EDITOR } = {}) {
    const ok = typeof expected === 'function' ? expected : (t) => t === expected;
    let last = '';
    try {
      return await poll('editor text', async () => {
        last = await this.editorText(selector);
        return ok(last) ? last : false;
      }, { timeout });
    } catch {
      await this.screenshot('waitForEditorText-timeout');
      throw new Error(`${this.name}: editor text never matched within ${timeout} ms; it shows:\n${JSON.stringify(last)}`);
    }
  }

  async statusBarText() {
    return this.page.evaluate(() => document.querySelector('.part.statusbar')?.textContent?.replace(/\u00a0/g, ' ') ?? '');
  }

  async screenshot(label) {
    const file = join(this.resultsDir, `${this.name}-${label.replace(/[^\w.-]+/g, '_')}.png`);
    await this.page.screenshot({ path: file }).catch(() => {});
    return file;
  }

  /** code-server's output, which carries the extension host's stdout/stderr lines. */
  serverLog() {
    return existsSync(this.server.logFile) ? readFileSync(this.server.logFile, 'utf8') : '';
  }

  /** The remote extension host's log files (remoteexthost.log, output channels), by path. */
  extensionHostLogs() {
    const root = join(this.server.userDataDir, 'logs');
    const out = {};
    const walk = (dir) => {
      if (!existsSync(dir)) return;
      for (const e of readdirSync(dir)) {
        const p = join(dir, e);
        if (statSync(p).isDirectory()) walk(p);
        else if (/exthost/.test(p)) out[p.slice(root.length + 1)] = readFileSync(p, 'utf8');
      }
    };
    walk(root);
    return out;
  }
}

/**
 * Starts one code-server per user and one browser page per user, and waits for every
 * workbench. Stops whatever it started if any of that fails.
 * @param {object} o
 * @param {(string | {name: string, env?: Record<string,string>, settings?: object})[]} o.users
 * @param {string | string[]} [o.extensionDevelopmentPath] load the extension from source
 * @param {string[]} [o.vsix] or install these VSIX files into each user's code-server
 * @param {Record<string,string>} [o.env] environment for every user's extension host
 *   (each user also gets SHARED_NOTES_USER_NAME=<name>)
 * @param {string} [o.folder] folder each user opens
 * @param {string} [o.name] results go to test-results/e2e-<name>/
 */
export async function startUsers(o) {
  const name = o.name || 'session';
  const resultsDir = resolve(o.resultsDir || join(repoRoot, 'test-results', `e2e-${name}`));
  rmSync(resultsDir, { recursive: true, force: true });
  mkdirSync(resultsDir, { recursive: true });
  const specs = o.users.map((u) => (typeof u === 'string' ? { name: u } : u));
  const servers = [];
  let browser;
  const session = {
    users: [],
    resultsDir,
    browser: null,
    stop: async () => {
      for (const u of session.users) await u.screenshot('final');
      await browser?.close().catch(() => {});
      await Promise.all(servers.map((s) => s.stop()));
    },
  };
  try {
    const started = await Promise.allSettled(specs.map((u) => startCodeServer({
      name: `e2e-${u.name}`,
      env: { ...o.env, SHARED_NOTES_USER_NAME: u.name, ...u.env },
      settings: { ...o.settings, ...u.settings },
      installExtensions: o.vsix,
      logFile: join(resultsDir, `${u.name}-code-server.log`),
      saveLogsTo: join(resultsDir, `${u.name}-server-logs`),
    })));
    for (const r of started) if (r.status === 'fulfilled') servers.push(r.value);
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;

    browser = await launchChromium();
    session.browser = browser;
    for (const [i, spec] of specs.entries()) {
      const server = servers[i];
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
      const page = await context.newPage();
      const user = new User({ name: spec.name, server, context, page, resultsDir });
      session.users.push(user);
      await user.init();
      await page.goto(workbenchUrl(server, {
        folder: o.folder,
        extensionDevelopmentPath: o.extensionDevelopmentPath,
      }), { waitUntil: 'domcontentloaded', timeout: 60_000 });
    }
    await Promise.all(session.users.map((u) => u.waitForWorkbench()));
    return session;
  } catch (err) {
    await session.stop().catch(() => {});
    throw err;
  }
}
