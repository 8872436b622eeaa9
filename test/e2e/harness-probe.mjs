#!/usr/bin/env node
// Proves the e2e harness against the probe extension: two users, two code-servers, each
// opens an untitled file and types through real key events; the harness reads back what
// each page renders, and each extension host sees its own user's environment.
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { startUsers } from '../../harness/e2e/users.mjs';

const probe = fileURLToPath(new URL('../vscode/fixtures/probe-extension', import.meta.url));
const t0 = Date.now();
const lap = (what) => console.log(`[e2e:probe] ${what} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
let passed = 0;
let failed = 0;
async function check(what, fn) {
  try { await fn(); passed++; console.log(`  ✔ ${what}`); } catch (err) { failed++; console.log(`  ✘ ${what}\n    ${err.message.replace(/\n/g, '\n    ')}`); }
}

const session = await startUsers({ name: 'probe', users: ['Alice', 'Bob'], extensionDevelopmentPath: probe });
try {
  lap('two workbenches ready');
  const [alice, bob] = session.users;
  const texts = {
    Alice: 'Hello from Alice\n    indented  twice',
    Bob: 'Bob was here: héllo wörld',
  };
  await Promise.all(session.users.map(async (u) => {
    await u.runCommand('File: New Untitled Text File');
    await u.page.waitForSelector(`${'.editor-group-container.active .monaco-editor'}.focused`, { timeout: 30_000 });
    await u.type(texts[u.name]);
  }));
  lap('both typed');
  for (const u of [alice, bob]) {
    await check(`${u.name}'s editor renders what ${u.name} typed`, async () => {
      await u.waitForEditorText(texts[u.name], { timeout: 15_000 });
    });
  }
  await check('the two users have separate extension hosts with their own environment', async () => {
    for (const u of [alice, bob]) {
      await u.runCommand('Shared Notes Probe: Who Am I');
      await u.page.waitForFunction((n) => document.querySelector('.part.statusbar')?.textContent.includes(`probe user: ${n}`), u.name, { timeout: 15_000 });
    }
  });
  await check('browser console and extension host logs are collected', async () => {
    assert.ok(alice.console.length > 0, 'browser console messages were recorded');
    for (const u of [alice, bob]) {
      const logs = u.extensionHostLogs();
      const names = Object.keys(logs);
      assert.ok(names.some((p) => p.endsWith('remoteexthost.log')), `extension host logs: ${names.join(', ')}`);
      const probeLog = names.find((p) => p.endsWith('Shared Notes Probe.log'));
      assert.ok(probeLog, `the probe's log channel file is among ${names.join(', ')}`);
      assert.match(logs[probeLog], new RegExp(`whoAmI: ${u.name}`));
      assert.match(u.serverLog(), /Launched Extension Host Process/);
    }
  });
  for (const u of [alice, bob]) console.log(`  screenshot: ${await u.screenshot('typed')}`);
} finally {
  await session.stop();
  lap('stopped');
}
console.log(`e2e-probe: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
