// Packages the extension the way `npm run package` does, but from a snapshot in a temp
// folder: the production build rewrites dist/extension.js, which other runs in this
// checkout (suites, a demo) may be loading at the same moment.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const SOURCES = ['extension', 'client', 'sync', 'convex', 'scripts', 'media', 'package.json', 'README.md', 'LICENSE', '.vscodeignore'];

/** Returns the VSIX path and a function that removes the snapshot (VSIX included). */
export function packageVsix(repoRoot) {
  const dir = mkdtempSync(join(tmpdir(), 'shared-notes-vsix-'));
  try {
    for (const s of SOURCES) cpSync(join(repoRoot, s), join(dir, s), { recursive: true });
    symlinkSync(join(repoRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const r = spawnSync('npm', ['run', '--silent', 'package'], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`npm run package failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
    const vsix = readdirSync(dir).find((f) => f.endsWith('.vsix'));
    if (!vsix) throw new Error(`npm run package made no .vsix:\n${r.stdout}`);
    return { vsix: join(dir, vsix), remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
