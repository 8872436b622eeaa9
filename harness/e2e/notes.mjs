// What a person does and sees with Shared Notes in a harness window: open a note from
// the Notes view, find teammates' name labels in the editor. Shared by the e2e run, the
// latency bench and nothing else, so the selectors live in one place.
import { ACTIVE_EDITOR } from './users.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Opens a note the way a user does: the Notes view, then a click on its title. The view
 * fills only once the extension has joined the space, so the row is waited for.
 */
export async function openNote(user, title, { timeout = 45_000 } = {}) {
  const { page } = user;
  const row = page.locator('.pane-body .monaco-list-row:visible', { hasText: title }).first();
  const end = Date.now() + timeout;
  // A person who does not see the note after a while shows the view again. Each time it
  // was missing, what the side bar showed is printed, and at the end it is the error.
  const left = () => Math.max(1, end - Date.now());
  for (let tries = 1; ; tries++) {
    await command(user, 'Shared Notes: Focus on Notes View', { timeout: left() });
    try {
      await row.waitFor({ state: 'visible', timeout: Math.min(15_000, left()) });
      break;
    } catch (err) {
      const seen = await sideBar(user);
      if (Date.now() >= end) throw new Error(`${user.name}: no "${title}" in the Notes view after ${tries} tries; the side bar shows ${seen}`, { cause: err });
      console.log(`    ${user.name}: no "${title}" in the Notes view yet; the side bar shows ${seen}`);
    }
  }
  await row.click();
  await page.waitForFunction(
    (name) => [...document.querySelectorAll('.editor-group-container.active .tab.active')].some((t) => t.textContent.includes(name)),
    `${title}.md`,
    { timeout },
  );
  await page.waitForSelector('.editor-group-container.active .monaco-editor.focused', { timeout });
}

/** What the side bar shows: each pane's title, whether it is open, its height and its rows or text. */
async function sideBar(user) {
  const panes = await user.page.evaluate(() =>
    [...document.querySelectorAll('.sidebar .pane')].map((pane) => {
      const title = pane.querySelector('.pane-header .title')?.textContent?.trim() ?? '?';
      const open = pane.querySelector('.pane-header')?.getAttribute('aria-expanded');
      const body = pane.querySelector('.pane-body');
      const rows = [...(body?.querySelectorAll('.monaco-list-row') ?? [])].map((r) => r.innerText.trim());
      const text = rows.length > 0 ? `rows ${JSON.stringify(rows)}` : JSON.stringify(body?.innerText?.trim().slice(0, 120) ?? '');
      return `${title} (expanded ${open}, ${Math.round(body?.getBoundingClientRect().height ?? 0)} px): ${text}`;
    }),
  ).catch((err) => [`(could not be read: ${err.message})`]);
  return panes.length > 0 ? panes.join('; ') : 'no panes';
}

/**
 * Runs a palette command. A palette opened while the extension's contributions are still
 * being registered keeps its stale list; a person would close it and try again, as here.
 */
export async function command(user, label, { timeout = 45_000 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      await user.runCommand(label, { timeout: 5_000 });
      return;
    } catch (err) {
      if (Date.now() > end) throw err;
      await user.page.keyboard.press('Escape');
    }
  }
}

/**
 * Joins a space the way a person with VS Code in a browser does: opens the web join link
 * (client/joinLink.ts webJoinLink) for their own VS Code's address and answers "Join".
 */
export async function joinByWebLink(user, makeLink) {
  await user.page.goto(makeLink(user.server.url), { waitUntil: 'domcontentloaded', timeout: 60_000 });
  const join = user.page.locator('.monaco-dialog-box .monaco-button', { hasText: /^Join$/ });
  await join.waitFor({ state: 'visible', timeout: 45_000 });
  await join.click();
  await user.page.waitForSelector('.monaco-dialog-box', { state: 'hidden', timeout: 15_000 });
}

/** Puts the caret at the end (or start) of the document, with the editor focused. */
export async function caretTo(user, where) {
  await user.focusEditor();
  await user.press(where === 'start' ? 'Control+Home' : 'Control+End');
}

/**
 * Name labels of teammates drawn in the active editor: the extension renders each as an
 * `after` decoration, i.e. a ::after pseudo-element whose content is the name. For each
 * label: the name and the text of the line it sits on.
 */
export async function nameLabels(user) {
  return user.page.evaluate((selector) => {
    const root = document.querySelector(selector);
    if (!root) return [];
    const out = [];
    for (const el of root.querySelectorAll('.view-line span')) {
      const content = getComputedStyle(el, '::after').content;
      if (!content || content === 'none' || content === 'normal') continue;
      const name = content.replace(/^"|"$/g, '');
      const line = el.closest('.view-line')?.textContent.replace(/\u00a0/g, ' ') ?? '';
      out.push({ name, line });
    }
    return out;
  }, ACTIVE_EDITOR);
}

/** Polls `fn` until it returns a truthy value; returns it and how long it took. */
export async function waitUntil(what, fn, { timeout = 15_000, interval = 50 } = {}) {
  const start = Date.now();
  let lastError;
  while (Date.now() - start < timeout) {
    try {
      const v = await fn();
      if (v) return { value: v, ms: Date.now() - start };
    } catch (err) { lastError = err; }
    await sleep(interval);
  }
  throw new Error(`timed out after ${timeout} ms waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
}
