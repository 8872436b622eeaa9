#!/usr/bin/env node
// Keystroke-to-screen latency between two real VS Code windows (`npm run bench:e2e`):
// the time from a key going down in Alice's page to the character being rendered in Bob's
// editor. Both pages live in one Chromium on one machine, so Date.now() in each is the
// same clock. Two rounds: Alice on a plain loopback link, then with 100 ms added in each
// direction of her link (a far-away server). Prints p50/p95/p99, then where the time goes
// hop by hop: the backend runs in this process with timestamps (bench/lib/serverTrace.ts),
// and both extension hosts log trace lines (extension/log.ts), so each key is followed
// from the keydown to Alice's host hearing it, her session sending it, the server reading
// it, the run, the COMMIT, the push to Bob's connection, Bob's session receiving it, his
// editor being asked to show it and the render in Bob's page. Writes
// test-results/bench-e2e.json.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { spawnSync } from 'node:child_process';
import { importTs } from '../scripts/run-ts.mjs';
import { ACTIVE_EDITOR, startUsers } from '../harness/e2e/users.mjs';
import { caretTo, openNote, waitUntil } from '../harness/e2e/notes.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '200' },
    // About 10 keys a second: a brisk typist, and slower than one round trip on a slow link.
    gap: { type: 'string', default: '100' },
    delay: { type: 'string', default: '100' },
  },
});
const SAMPLES = Number(values.samples);
const GAP_MS = Number(values.gap);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const letterOf = (i) => String.fromCharCode(97 + (i % 26));

const built = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
if (built.status !== 0) process.exit(1);
const server = await importTs(join(root, 'harness/e2e/backend.ts'));
const traced = await importTs(join(root, 'bench/lib/e2eServer.ts'));
const { percentile } = await importTs(join(root, 'bench/lib/stats.ts'));
const dataDir = mkdtempSync(join(tmpdir(), 'shared-notes-bench-e2e-'));
const backend = await traced.startTracedBackend({ port: 0, dataDir });
const proxy = await new traced.TcpProxy({ targetPort: backend.port }).start();
const creds = await server.createSpaceWithNote(backend.url, 'Bench');
let session;
const rounds = [];

/** One round: SAMPLES keys in Alice's page, each timed to its first render in Bob's. */
async function round(label, alice, bob) {
  await caretTo(alice, 'end');
  const base = (await bob.editorText()).length;
  // Both pages note when their rendered text grows (Alice's own echo is VS Code rendering a
  // local key: the reference for what rendering alone costs); Alice's page notes each keydown.
  const watchRender = (selector) => {
    const root = document.querySelector(selector);
    const seen = [];
    const read = () => {
      const len = [...root.querySelectorAll(':scope > .view-line')].reduce((n, el) => n + el.textContent.length, 0);
      if (seen.length === 0 || seen[seen.length - 1].len !== len) seen.push({ len, t: Date.now() });
    };
    window.__benchSeen = seen;
    window.__benchObserver?.disconnect();
    window.__benchObserver = new MutationObserver(read);
    window.__benchObserver.observe(root, { subtree: true, childList: true, characterData: true });
    read();
  };
  await bob.page.evaluate(watchRender, ACTIVE_EDITOR);
  await alice.page.evaluate(watchRender, ACTIVE_EDITOR);
  await alice.page.evaluate(() => {
    window.__benchKeys = [];
    if (!window.__benchListening) {
      window.__benchListening = true;
      window.addEventListener('keydown', () => window.__benchKeys.push(Date.now()), true);
    }
  });
  traced.takeServerTrace();
  for (let i = 0; i < SAMPLES; i++) {
    await alice.page.keyboard.press(letterOf(i));
    await sleep(GAP_MS);
  }
  // Keys Bob has not rendered after 30 s are reported as such, not waited for forever.
  await waitUntil('Bob to render every key', async () => (await bob.editorText()).length >= base + SAMPLES, { timeout: 30_000 }).catch(() => {});
  const keys = await alice.page.evaluate(() => window.__benchKeys);
  const seen = await bob.page.evaluate(() => window.__benchSeen);
  const echoed = await alice.page.evaluate(() => window.__benchSeen);
  const firstShown = (renders, i) => renders.find((s) => s.len >= renders[0].len + i + 1)?.t ?? Number.NaN;
  const timed = keys.slice(0, SAMPLES).map((down, i) => ({ letter: letterOf(i), down, shown: firstShown(seen, i) }));
  const echo = keys.slice(0, SAMPLES).map((down, i) => firstShown(echoed, i) - down).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const latencies = timed.map((k) => k.shown - k.down).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const hostTrace = (user) => traced.parseHostTrace(existsSync(extensionLog(user.name)) ? readFileSync(extensionLog(user.name), 'utf8') : '');
  const hosts = { alice: hostTrace(alice), bob: hostTrace(bob) };
  const hops = traced.e2eHops(timed.filter((k) => Number.isFinite(k.shown)), traced.takeServerTrace(), traced.wallMinusMono(), hosts);
  const r = {
    label,
    samples: latencies.length,
    notRendered: timed.length - latencies.length,
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1],
  };
  r.echo = { p50: percentile(echo, 50), p99: percentile(echo, 99) };
  r.hops = hops.hops.map((h) => {
    const sorted = [...h.values].sort((a, b) => a - b);
    return { name: h.name, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  });
  rounds.push(r);
  console.log(`${label.padEnd(34)} n=${r.samples}  not rendered after 30 s: ${r.notRendered}  p50 ${r.p50} ms  p95 ${r.p95} ms  p99 ${r.p99} ms  max ${r.max} ms`);
  traced.printHops(`  hop by hop (${hops.hops[0].values.length} keys followed, ${hops.missing} not matched):`, hops.hops);
  console.log(`  reference: Alice's own window, keydown → her key rendered: p50 ${r.echo.p50} ms, p99 ${r.echo.p99} ms`);
  await alice.press('Enter');
}

// Outside test-results/, which a concurrent test run may clear.
const logsDir = mkdtempSync(join(tmpdir(), 'shared-notes-bench-e2e-logs-'));
// Each extension host copies its log, trace lines included, here: when each key was heard, sent, received, shown.
const extensionLog = (name) => join(logsDir, `${name}-extension.log`);

try {
  session = await startUsers({
    name: 'bench',
    resultsDir: logsDir,
    users: [
      { name: 'Alice', env: { SHARED_NOTES_SERVER_URL: proxy.url, SHARED_NOTES_LOG_FILE: extensionLog('Alice') } },
      { name: 'Bob', env: { SHARED_NOTES_SERVER_URL: backend.url, SHARED_NOTES_LOG_FILE: extensionLog('Bob') } },
    ],
    env: { SHARED_NOTES_SPACE_ID: creds.spaceId, SHARED_NOTES_SPACE_KEY: creds.key, SHARED_NOTES_TRACE: '1' },
    settings: { '[markdown]': { 'editor.wordWrap': 'off' }, 'editor.wordWrap': 'off' },
    extensionDevelopmentPath: root,
  });
  const [alice, bob] = session.users;
  await openNote(alice, 'Bench');
  await openNote(bob, 'Bench');
  // A few keys first, so the first samples do not pay for warm-up.
  await caretTo(alice, 'end');
  await alice.type('warm up\n', { delay: 50 });
  await bob.waitForEditorText((t) => t.includes('warm up'));

  await round('loopback', alice, bob);
  // Alice's link becomes slow: her client reconnects through the same proxy, now delaying.
  proxy.reroute(Number(values.delay));
  await waitUntil("Alice's window to reconnect", async () => !/reconnecting|offline/.test(await alice.statusBarText()), { timeout: 30_000 });
  await alice.type('slow link\n', { delay: 50 });
  await bob.waitForEditorText((t) => t.includes('slow link'), { timeout: 30_000 });
  await round(`+${values.delay} ms each way on Alice's link`, alice, bob);
} finally {
  await session?.stop();
  await proxy.close();
  await backend.close();
  rmSync(dataDir, { recursive: true, force: true });
}
mkdirSync(join(root, 'test-results'), { recursive: true });
writeFileSync(join(root, 'test-results', 'bench-e2e.json'), `${JSON.stringify({ gapMs: GAP_MS, rounds }, null, 2)}\n`);
