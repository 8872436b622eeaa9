import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Where sessions keep edits the server has not confirmed, so that they survive a restart
 * of the process. Values are opaque strings owned by the session; which key belongs to
 * which session is decided by pendingEntry.ts. Several processes may share one store (CLI
 * runs under one $HOME, VS Code windows), so `move` must be atomic across them: it is how
 * a session takes over the entry of one that is gone, and only one may win.
 */
export interface PendingStore {
  load(key: string): string | undefined;
  /** Stores `value`, or removes the key when undefined. May throw (e.g. the disk is full). */
  save(key: string, value: string | undefined): void;
  keys(): readonly string[];
  /** Renames `from` to `to`; false when `from` no longer exists (another session moved it first). */
  move(from: string, to: string): boolean;
}

export class MemoryPendingStore implements PendingStore {
  private readonly values = new Map<string, string>();

  load(key: string): string | undefined {
    return this.values.get(key);
  }

  save(key: string, value: string | undefined): void {
    if (value === undefined) this.values.delete(key);
    else this.values.set(key, value);
  }

  keys(): readonly string[] {
    return [...this.values.keys()];
  }

  move(from: string, to: string): boolean {
    const value = this.values.get(from);
    if (value === undefined) return false;
    this.values.delete(from);
    this.values.set(to, value);
    return true;
  }
}

const SUFFIX = ".json";

/**
 * One file per entry, in a directory any number of processes may share. A write goes to
 * a temporary file of its own (named after the process and a random part, so two writers
 * never rename each other's) and is renamed into place: a crash mid-write leaves the
 * previous value rather than half of the new one. `move` is rename(2), atomic on one
 * file system: of two processes moving the same entry, exactly one succeeds.
 */
export class FilePendingStore implements PendingStore {
  /** Unconfirmed text is the user's private writing: the folder is theirs alone (0700, files 0600). */
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  private pathOf(key: string): string {
    return join(this.dir, `${encodeURIComponent(key)}${SUFFIX}`);
  }

  load(key: string): string | undefined {
    try {
      return readFileSync(this.pathOf(key), "utf8");
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw err;
    }
  }

  save(key: string, value: string | undefined): void {
    const path = this.pathOf(key);
    if (value === undefined) {
      rmSync(path, { force: true });
      return;
    }
    const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      writeFileSync(tmp, value, { mode: 0o600 });
      renameSync(tmp, path);
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
  }

  keys(): readonly string[] {
    return readdirSync(this.dir)
      .filter((name) => name.endsWith(SUFFIX))
      .map((name) => decodeURIComponent(name.slice(0, -SUFFIX.length)));
  }

  move(from: string, to: string): boolean {
    try {
      renameSync(this.pathOf(from), this.pathOf(to));
      return true;
    } catch (err) {
      if (isMissing(err)) return false;
      throw err;
    }
  }
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException).code === "ENOENT";
}
