// Debian's Chromium, headless, driven by playwright-core, with the flags this offline
// machine needs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium as chromiumPath } from '../../scripts/vscode-paths.mjs';

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
