// Unconfirmed edits in a pending store shared by several sessions and processes: each
// session keeps its own entry and clientId, closed sessions' entries are adopted by
// exactly one newcomer, and a store that cannot write does not fail the session.
import { afterEach, describe, expect, it } from "vitest";
import path from "node:path";
import { PendingEntry } from "../../client/pendingEntry";
import { FilePendingStore, MemoryPendingStore, type PendingStore } from "../../client/pendingStore";
import { Space } from "../../client/space";
import { OpBuilder } from "../../sync/textOp";
import { TcpProxy } from "../../harness/tcpProxy";
import {
  cleanup,
  client,
  newSpaceWithNote,
  repo,
  serverText,
  spawnTs,
  startLocalBackend,
  tempDir,
  waitFor,
  waitForOutput,
} from "./helpers";

afterEach(cleanup);

const user = (name: string) => ({ name, color: "#123456" });

/** A store whose writes fail while `full` is set, as on a full disk. */
class FullableStore implements PendingStore {
  full = false;
  constructor(private readonly inner: PendingStore) {}
  load(key: string): string | undefined {
    return this.inner.load(key);
  }
  save(key: string, value: string | undefined): void {
    if (this.full && value !== undefined) throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
    this.inner.save(key, value);
  }
  keys(): readonly string[] {
    return this.inner.keys();
  }
  move(from: string, to: string): boolean {
    return this.inner.move(from, to);
  }
}

describe("pending entries", () => {
  it("B: a second window sharing the pending store gets its own clientId and both windows' edits land", async () => {
    const backend = await startLocalBackend();
    const proxy = await new TcpProxy({ targetPort: backend.port }).start();
    const { creds, noteId } = await newSpaceWithNote(backend.url);
    const store = new FilePendingStore(tempDir());
    try {
      const first = await new Space(client(proxy.url), creds).open(noteId, { user: user("w1"), store, presence: false });
      proxy.goDown();
      await waitFor(() => first.status.connection !== "connected", "window 1 to notice the link is down");
      first.applyLocal(["FROM-WINDOW-1 "]);

      const second = await new Space(client(backend.url), creds).open(noteId, { user: user("w2"), store, presence: false });
      expect(second.clientId).not.toBe(first.clientId);
      expect(second.text).toBe("");
      second.applyLocal(["FROM-WINDOW-2 "]);
      await second.flush();

      proxy.restore();
      await first.flush();
      await waitFor(async () => (await serverText(backend.url, creds, noteId)).length === 28, "both windows' text on the server");
      const text = await serverText(backend.url, creds, noteId);
      expect(text.split("FROM-WINDOW-1 ").length).toBe(2);
      expect(text.split("FROM-WINDOW-2 ").length).toBe(2);
      await waitFor(() => first.text === text && second.text === text, "both windows to show the server's text");
    } finally {
      await proxy.close();
      await backend.close();
    }
  });

  it("a closed session's entry is adopted by exactly one of two sessions opening at once", () => {
    const store = new MemoryPendingStore();
    const gone = PendingEntry.open(store, "s/n");
    gone.save("client-a", "edits of a");
    gone.release();
    const one = PendingEntry.open(store, "s/n");
    const two = PendingEntry.open(store, "s/n");
    expect([one.restored, two.restored].filter((r) => r !== undefined)).toEqual(["edits of a"]);
    // A live session's entry is never adopted.
    two.save("client-b", "edits of b");
    expect(PendingEntry.adoptOrphan(store, "s/n")).toBeUndefined();
    two.release();
    expect(PendingEntry.adoptOrphan(store, "s/n")?.restored).toBe("edits of b");
  });

  it("a full local disk does not fail the session: its edits are saved once space returns", async () => {
    const backend = await startLocalBackend();
    const proxy = await new TcpProxy({ targetPort: backend.port }).start();
    const { creds, noteId } = await newSpaceWithNote(backend.url);
    const store = new FullableStore(new FilePendingStore(tempDir()));
    const logged: string[] = [];
    try {
      const session = await new Space(client(proxy.url), creds).open(noteId, { user: user("w"), store, presence: false, log: (m) => logged.push(m) });
      // Online: the confirmations arrive (and save) inside the subscription's callback.
      store.full = true;
      for (const ch of "abc") session.applyLocal(new OpBuilder().insert(ch).retain(session.text.length).build());
      await session.flush();
      expect(session.text).toBe("cba");
      // Offline: nothing can be saved, nothing is lost; written once space returns.
      proxy.goDown();
      await waitFor(() => session.status.connection !== "connected", "the session to notice the link is down");
      session.applyLocal(["kept ", 3]);
      session.applyLocal(["in memory ", 8]);
      // Logged once per spell of failures, not once per edit.
      expect(logged.filter((m) => m.includes("Could not save"))).toHaveLength(2);
      store.full = false;
      session.applyLocal(["saved ", 18]);
      await session.close();
      const reopened = await new Space(client(backend.url), creds).open(noteId, { user: user("w"), store, presence: false });
      expect(reopened.text).toBe("saved in memory kept cba");
      await reopened.flush();
      expect(await serverText(backend.url, creds, noteId)).toBe("saved in memory kept cba");
    } finally {
      await proxy.close();
      await backend.close();
    }
  });

  const PER_WRITER = 5;
  it("processes appending at once through one pending store lose and duplicate nothing, killed or not", async () => {
    const backend = await startLocalBackend();
    const { creds, noteId } = await newSpaceWithNote(backend.url, "Log");
    const stateHome = tempDir();
    const env = { SHARED_NOTES_URL: backend.url, SHARED_NOTES_SPACE: creds.spaceId, SHARED_NOTES_KEY: creds.key, XDG_STATE_HOME: stateHome };
    const fixture = path.join(repo, "test/client/fixtures/appendLoop.ts");
    // Each writer's exit is watched from its start: one that is done before we ask still counts.
    const run = (tag: string, count: number) => {
      const child = spawnTs(fixture, [tag, String(count)], env);
      return { child, exited: exitOf(child) };
    };
    try {
      const writers = ["a", "b", "c"].map((tag) => run(tag, PER_WRITER));
      // One more is killed mid-way: what it had not confirmed is adopted by the others.
      const victim = run("k", 1000);
      await waitForOutput(victim.child, "k3 ", 90_000);
      victim.child.kill("SIGKILL");
      const outputs = await Promise.all(writers.map((w) => w.exited));
      for (const out of outputs) expect(out.code, out.err).toBe(0);
      // The killed writer's last words reach the server through a later session.
      const drained = await run("z", 1).exited;
      expect(drained.code, drained.err).toBe(0);
      const text = await serverText(backend.url, creds, noteId);
      const tokens = text.split(" ").filter(Boolean);
      for (const tag of ["a", "b", "c"]) {
        expect(tokens.filter((t) => t.startsWith(tag)).sort()).toEqual(Array.from({ length: PER_WRITER }, (_, i) => `${tag}${i}`).sort());
      }
      // Every token it confirmed (k0 … k3 at least), and perhaps the one it was sending, once each.
      const killed = tokens.filter((t) => t.startsWith("k")).sort();
      expect(killed.length).toBeGreaterThanOrEqual(4);
      expect(killed).toEqual(Array.from({ length: killed.length }, (_, i) => `k${i}`).sort());
      expect(new FilePendingStore(path.join(stateHome, "shared-notes", "pending")).keys()).toEqual([]);
    } finally {
      await backend.close();
    }
    // Each process compiles and starts the CLI: tens of seconds on a busy 2-core machine.
  }, 150_000);
});

/** How a child process ended, with what it printed; call it right after spawning. */
async function exitOf(child: import("node:child_process").ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { code, out, err };
}
