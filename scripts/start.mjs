#!/usr/bin/env node
// `npm start`: a working Shared Notes demo on this machine. Starts (or reuses) the local
// backend with its data under .data/, makes a space with a "Welcome" note once (kept in
// .data/space.json), and starts a real VS Code (code-server) with the packaged extension
// installed, joined to that space, the note open. Prints the URL to open in a browser.
//
//   npm start                                   first user; owns the backend
//   npm start -- --user NAME --port 8081        one more person on the same backend
//   npm start -- --data DIR --backend-port P    elsewhere
// Ctrl+C stops everything this process started.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { importTs } from './run-ts.mjs';
import { vscodeAvailable } from './vscode-paths.mjs';

const root = resolve(fileURLToPath(new URL('..', import.meta.url)));
const { values } = parseArgs({
  options: {
    // Empty: the extension asks once on first join and keeps the answer in its settings.
    user: { type: 'string', default: process.env.SHARED_NOTES_USER_NAME || gitUserName() },
    port: { type: 'string', default: '8080' },
    'backend-port': { type: 'string', default: '3210' },
    data: { type: 'string', default: join(root, '.data') },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (values.help) {
  console.log('usage: npm start -- [--user NAME] [--port CODE_SERVER_PORT] [--backend-port PORT] [--data DIR]');
  process.exit(0);
}
const say = (line) => console.log(`[start] ${line}`);
const SPACE_NAME = 'Demo space';

function gitUserName() {
  try {
    return execFileSync('git', ['config', '--get', 'user.name'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}
const dataDir = resolve(values.data);
const backendPort = Number(values['backend-port']);
const backendUrl = `http://127.0.0.1:${backendPort}`;
const spaceFile = join(dataDir, 'space.json');

if (!vscodeAvailable()) {
  say('code-server is not installed yet: running scripts/setup-vscode.sh (a few minutes, once)');
  const setup = spawnSync('bash', [join(root, 'scripts/setup-vscode.sh')], { stdio: 'inherit' });
  if (setup.status !== 0) process.exit(setup.status ?? 1);
}
// Imported only now: the runner refuses to load pieces of a VS Code that is not there.
const { startCodeServer } = await import('../harness/vscode/codeServer.mjs');
const { packageVsix } = await import('./vsix.mjs');
const server = await importTs(join(root, 'harness/e2e/backend.ts'));

const stops = [];
let stopping = false;
async function stopAll(code) {
  if (stopping) return;
  stopping = true;
  // All at once: the code-server runner's own signal handler exits the process 1.5 s
  // after Ctrl+C, and the backend and the VSIX snapshot must be closed by then too.
  await Promise.all(stops.map((stop) => stop().catch(() => {})));
  process.exit(code);
}
process.on('SIGINT', () => void stopAll(0));
process.on('SIGTERM', () => void stopAll(0));

try {
  say('packaging the extension');
  const packaged = packageVsix(root);
  stops.push(async () => packaged.remove());

  // A second `npm start` finds the first one's backend listening and shares it.
  const running = await fetch(backendUrl, { signal: AbortSignal.timeout(1000) }).then(() => true, () => false);
  if (running) {
    say(`using the backend already running at ${backendUrl}`);
  } else {
    mkdirSync(dataDir, { recursive: true });
    const backend = await server.startBackend({ port: backendPort, dataDir });
    stops.push(() => backend.close());
    say(`backend ${backend.url}, data in ${dataDir}`);
  }

  let space = existsSync(spaceFile) ? JSON.parse(readFileSync(spaceFile, 'utf8')) : undefined;
  if (!space || space.serverUrl !== backendUrl) {
    const welcome = 'Welcome to Shared Notes!\n\nOpen this note in a second window (npm start -- --user NAME --port 8081)\nand type in both: every key shows up in the other at once.\n';
    const creds = await server.createSpaceWithNote(backendUrl, 'Welcome', welcome, SPACE_NAME);
    space = { serverUrl: backendUrl, ...creds };
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(spaceFile, `${JSON.stringify(space, null, 2)}\n`);
    say(`made a space with a "Welcome" note (saved in ${spaceFile})`);
  }

  // A space kept from an earlier run may have another name: the server's is the one in addresses.
  const name = await server.spaceName(backendUrl, space);
  const codeServer = await startCodeServer({
    name: `demo-${values.user || values.port}`,
    port: Number(values.port),
    env: {
      SHARED_NOTES_SERVER_URL: backendUrl,
      SHARED_NOTES_SPACE_ID: space.spaceId,
      SHARED_NOTES_SPACE_KEY: space.key,
      SHARED_NOTES_SPACE_NAME: name,
      SHARED_NOTES_WORKBENCH_URL: `http://127.0.0.1:${values.port}`,
      ...(values.user ? { SHARED_NOTES_USER_NAME: values.user } : {}),
    },
    installExtensions: [packaged.vsix],
  });
  stops.push(() => codeServer.stop());

  // The workbench opens the note itself (the extension answers for sharednotes: once
  // the space is joined, so the tab shows the note's text, not an empty file).
  const note = `sharednotes://${space.spaceId}/${encodeURIComponent(name)}/Welcome.md`;
  const payload = encodeURIComponent(JSON.stringify([['openFile', note]]));
  const who = values.user ? `${values.user}'s` : 'Your';
  console.log(`\n  ${who} VS Code, with the Welcome note open:\n  ${codeServer.url}/?ew=true&payload=${payload}\n`);
  const join = { serverUrl: backendUrl, spaceId: space.spaceId, key: space.key, name };
  say(`join link for desktop VS Code: ${server.joinLink(join)}`);
  say(`join link for VS Code in a browser: ${server.webJoinLink(codeServer.url, join)}`);
  say(`  (on another code-server with the extension, keep its address and use this link's /?payload=… part)`);
  say(`one more person on this machine: npm start -- --user NAME --port ${Number(values.port) + 1}`);
  say('Ctrl+C stops it all');
  await new Promise(() => {});
} catch (err) {
  console.error(`[start] ${err instanceof Error ? err.message : err}`);
  await stopAll(1);
}
