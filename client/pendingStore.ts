import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * Where a session keeps edits the server has not confirmed, so that they survive a
 * restart of the process. Values are opaque strings owned by the session.
 */
export interface PendingStore {
  load(key: string): string | undefined;
  save(key: string, value: string | undefined): void;
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
}

/**
 * One file per note. Writes go to a temporary file renamed into place, so a crash
 * mid-write leaves the previous value rather than half of the new one.
 */
export class FilePendingStore implements PendingStore {
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private pathOf(key: string): string {
    return join(this.dir, `${encodeURIComponent(key)}.json`);
  }

  load(key: string): string | undefined {
    try {
      return readFileSync(this.pathOf(key), "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  save(key: string, value: string | undefined): void {
    const path = this.pathOf(key);
    if (value === undefined) {
      rmSync(path, { force: true });
      return;
    }
    const tmp = `${path}.tmp`;
    writeFileSync(tmp, value);
    renameSync(tmp, path);
  }
}
