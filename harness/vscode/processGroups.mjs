// The process groups of the code-server instances this process started, and the handlers
// that end them all when it exits or is interrupted.
import { rmSync } from 'node:fs';

// Every code-server runs as the leader of its own process group (spawn detached = setsid),
// so one kill reaches its extension hosts, pty hosts and file watchers too.
export const liveGroups = new Map(); // pgid -> { tmpDir, keep }
let handlersInstalled = false;

export function killGroup(pgid, signal) {
  try { process.kill(-pgid, signal); return true; } catch { return false; }
}

export function groupAlive(pgid) {
  try { process.kill(-pgid, 0); return true; } catch { return false; }
}

function killAllSync() {
  for (const [pgid, info] of liveGroups) {
    killGroup(pgid, 'SIGKILL');
    if (!info.keep) rmSync(info.tmpDir, { recursive: true, force: true });
  }
  liveGroups.clear();
}

export function installHandlers() {
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
