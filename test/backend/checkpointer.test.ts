// The WAL reaches the database file through the checkpointer's own connection, not
// through a COMMIT on the thread that serves clients (backend/checkpointer.ts).
import Database from "better-sqlite3";
import { copyFileSync, existsSync, statSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CHECKPOINT_MS, MAIN_CHECKPOINT_PAGES } from "../../backend/checkpointer.js";
import { Storage } from "../../backend/storage.js";
import { removeTempDirs, tempDir, waitFor } from "./helpers.js";

afterAll(removeTempDirs);

const FILE = "shared-notes.sqlite3";

/** What the database file holds by itself, as a crash before the next look at the WAL would leave it readable. */
function documentInFileAlone(dataDir: string, id: string): string | undefined {
  const copy = path.join(tempDir(), FILE);
  copyFileSync(path.join(dataDir, FILE), copy);
  const db = new Database(copy, { readonly: true });
  try {
    // A fresh database's tables are in the WAL too, until the first checkpoint.
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'documents'").get()) return undefined;
    return db.prepare<[string], { json: string }>("SELECT json FROM documents WHERE id = ?").get(id)?.json;
  } finally {
    db.close();
  }
}

describe("the WAL checkpointer", () => {
  it("copies commits into the database file within a few of its looks, far below the size at which COMMIT would", async () => {
    const dataDir = tempDir();
    const storage = new Storage(dataDir);
    try {
      for (let i = 0; i < 20; i++) {
        storage.begin();
        storage.putDocument(`doc${i}`, 10001, JSON.stringify({ i }));
        storage.commit();
      }
      // 20 small commits are a few dozen pages: the main connection's own checkpoint
      // (at MAIN_CHECKPOINT_PAGES) has not run.
      expect(documentInFileAlone(dataDir, "doc19")).toBeUndefined();
      await waitFor(() => documentInFileAlone(dataDir, "doc19") !== undefined, "doc19 in the database file", 20 * CHECKPOINT_MS);
      expect(documentInFileAlone(dataDir, "doc19")).toBe(JSON.stringify({ i: 19 }));

      // Once everything is copied the writer starts the WAL over instead of growing it.
      const walBytes = statSync(path.join(dataDir, `${FILE}-wal`)).size;
      for (let i = 20; i < 40; i++) {
        storage.begin();
        storage.putDocument(`doc${i}`, 10001, JSON.stringify({ i }));
        storage.commit();
      }
      expect(statSync(path.join(dataDir, `${FILE}-wal`)).size).toBeLessThanOrEqual(walBytes);
    } finally {
      await storage.close();
    }
  });

  it("keeps the WAL bounded while commits never stop, when its own checkpoints cannot finish", async () => {
    const dataDir = tempDir();
    const storage = new Storage(dataDir);
    const body = JSON.stringify({ text: "x".repeat(3_000) });
    try {
      // About a page a commit, MAIN_CHECKPOINT_PAGES × 3 of them, with pauses for the
      // worker to look: commits land while it copies. The main connection's checkpoint is
      // skipped while the worker's runs, so the WAL can pass MAIN_CHECKPOINT_PAGES by what
      // lands meanwhile (a fifth more in a loaded test run), but not grow with the commits.
      const rounds = 25;
      for (let round = 0; round < rounds; round++) {
        for (let i = 0; i < (MAIN_CHECKPOINT_PAGES * 3) / rounds; i++) {
          storage.begin();
          storage.putDocument(`doc${round}-${i}`, 10001, body);
          storage.commit();
        }
        await new Promise((r) => setTimeout(r, CHECKPOINT_MS / 10));
      }
      const frameBytes = 4096 + 24;
      expect(statSync(path.join(dataDir, `${FILE}-wal`)).size).toBeLessThanOrEqual(MAIN_CHECKPOINT_PAGES * 1.5 * frameBytes);
    } finally {
      await storage.close();
    }
  });

  it("has closed its connection when the storage's close resolves: the WAL is in the database and gone", async () => {
    // Whichever connection closes last copies the WAL in and removes it, holding the
    // database locked meanwhile: a restart opening it before then found it locked.
    const dataDir = tempDir();
    const storage = new Storage(dataDir);
    const body = JSON.stringify({ text: "x".repeat(3_000) });
    storage.begin();
    for (let i = 0; i < 3_000; i++) storage.putDocument(`doc${i}`, 10001, body);
    storage.commit();
    await storage.close();
    expect(existsSync(path.join(dataDir, `${FILE}-wal`))).toBe(false);
    expect(documentInFileAlone(dataDir, "doc2999")).toBe(body);
  });
});
