// The server's disk fills up while people type: its commits fail with SQLite's "database
// or disk is full". That is a passing condition, not a verdict on the edit: sessions must
// keep their edits and send them when space returns, and the CLI must not claim success.
// The backend's data folder is a small tmpfs (needs root to mount; skipped, saying so, without).
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { execFileSync, type ChildProcess } from "node:child_process";
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { Space } from "../../client/space";
import { cleanup, cli, client, countChars, newSpaceWithNote, serverText, startLocalBackend, tempDir, waitFor } from "./helpers";

afterEach(cleanup);

function mountTmpfs(dir: string, size: string): string | undefined {
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir], { stdio: "pipe" });
    return undefined;
  } catch (err) {
    return (err as Error).message.split("\n")[0];
  }
}

/** Writes to `file` until the file system says it is full. */
function fill(file: string): void {
  const fd = openSync(file, "w");
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOSPC") throw err;
  } finally {
    closeSync(fd);
  }
}

async function exitOf(child: ChildProcess): Promise<{ code: number | null; err: string }> {
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  child.stdin?.end();
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { code, err };
}

const dataDir = tempDir();
const cannotMount = mountTmpfs(dataDir, "4m");
if (cannotMount === undefined) execFileSync("umount", [dataDir]);

describe("disk full on the server", () => {
  it.skipIf(cannotMount !== undefined)(`keeps every edit made while the server's disk is full and sends it when space returns${cannotMount ? ` (skipped: ${cannotMount})` : ""}`, async () => {
    const dir = tempDir();
    expect(mountTmpfs(dir, "4m")).toBeUndefined();
    const backend = await startLocalBackend(path.join(dir, "data"));
    try {
      const { creds, noteId } = await newSpaceWithNote(backend.url, "Log");
      const space = new Space(client(backend.url), creds);
      const logged: string[] = [];
      const ann = await space.open(noteId, { user: { name: "ann", color: "#111111" }, presence: false, log: (m) => logged.push(m) });
      const bob = await space.open(noteId, { user: { name: "bob", color: "#222222" }, presence: false });
      ann.applyLocal(["before "]);
      await ann.flush();

      // A WAL that has been copied into the database is written again from its start, so a
      // commit that fits in it needs no new space even on a full disk. Emptied first, so
      // that every commit needs space.
      const db = new Database(path.join(dir, "data", "shared-notes.sqlite3"), { timeout: 10_000 });
      expect(db.pragma("wal_checkpoint(TRUNCATE)", { simple: true })).toBe(0);
      db.close();
      const filler = path.join(dir, "filler");
      fill(filler);
      // Large enough that SQLite cannot fit it in the space its log already holds.
      const big = "x".repeat(300_000);
      const typed = ["during-1 ", big, "during-2 "];
      for (const t of typed) ann.applyLocal([t, ann.text.length]);
      const stateHome = tempDir();
      const env = { SHARED_NOTES_URL: backend.url, SHARED_NOTES_SPACE: creds.spaceId, SHARED_NOTES_KEY: creds.key, XDG_STATE_HOME: stateHome };
      const appended = await exitOf(cli(["append", "Log", "from-cli ", "--wait", "3"], env));
      expect(appended.err).toMatch(/not confirmed the edit after 3 s.*kept in .*sent by the next/s);
      expect(appended.code).toBe(3);
      // Seconds later the session still holds its edits, unconfirmed, instead of dropping them.
      expect(ann.status.unconfirmed, logged.join("\n")).toBeGreaterThan(0);
      for (const t of typed) expect(ann.text).toContain(t);

      rmSync(filler);
      await ann.flush();
      expect((await exitOf(cli(["append", "Log", "after ", "--wait", "30"], env))).code).toBe(0);
      await waitFor(async () => (await serverText(backend.url, creds, noteId)).includes("after "), "the second append");
      const text = await serverText(backend.url, creds, noteId);
      await waitFor(() => ann.text === text && bob.text === text, "both sessions to show the server's text");
      for (const piece of ["before ", "during-1 ", "during-2 ", "from-cli ", "after "]) expect(text.split(piece).length, piece).toBe(2);
      expect(countChars(text).get("x")).toBe(big.length);
    } finally {
      await backend.close();
      execFileSync("umount", [dir]);
    }
  });
});
