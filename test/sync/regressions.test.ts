/**
 * Saved schedules for the ways typing was lost (issue 10: paths A, C, D and a reused
 * (clientId, seq)), each run through the product's engine and recovery plan against the
 * real convex/ functions. Each failed before the fix that names it.
 */
import { afterEach, describe, expect, it } from "vitest";
import { api } from "../../convex/_generated/api";
import { MAX_NOTE_BYTES, SINCE_BYTES, TRANSFORM_WINDOW } from "../../convex/limits";
import { Space } from "../../client/space";
import type { RejectedEdit } from "../../client/types";
import { cleanup, client, newSpaceWithNote, startLocalBackend, waitFor } from "../client/helpers";
import { backend, newSpace } from "../convex/helpers";
import { Random } from "../../harness/random";
import { CONFLICT_ERROR, OVERLOADED_ERROR, SimNetwork } from "../../harness/simNetwork";
import { TcpProxy } from "../../harness/tcpProxy";

async function network(text: string, names: string[]): Promise<SimNetwork> {
  const t = backend();
  return await SimNetwork.create(new Random(7), text, names, { t, space: await newSpace(t) }, { faults: false });
}

/** Appends `text` at the end of client i's text. */
function append(net: SimNetwork, i: number, text: string): void {
  const length = net.clients[i]?.sync.length ?? 0;
  net.edit(i, length === 0 ? [text] : [length, text]);
}

describe("saved schedules: nothing typed is lost", () => {
  it("A: an edit that fails with Convex's conflict, 'overloaded' or a full disk is retried, never dropped", async () => {
    const net = await network("Notes:\n", ["ann", "bob"]);
    const ann = net.clients[0]!;
    ann.failNext.push(new Error(CONFLICT_ERROR), new Error(OVERLOADED_ERROR), new Error("Commit failed: database or disk is full"));
    append(net, 0, "IMPORTANT ");
    await net.deliverUp(0); // fails: the edit stays, the status says retrying
    await new Promise((resolve) => setImmediate(resolve));
    expect(ann.driver.retrying).toBe(true);
    expect(ann.sync.text).toBe("Notes:\nIMPORTANT ");
    await net.flush(); // backoff timers fire, the plan resends; two more failures, then it lands
    expect(ann.failNext).toEqual([]);
    const server = await net.server();
    expect(server.text).toBe("Notes:\nIMPORTANT ");
    for (const c of net.clients) expect(c.sync.text).toBe(server.text);
    expect(ann.driver.retrying).toBe(false);
    expect(ann.rejected).toEqual([]);
  });

  it(`C: edits made offline while others make more than ${TRANSFORM_WINDOW} revisions land where they were made`, async () => {
    const net = await network("alpha beta gamma\n", ["carol"]);
    net.setConnected(0, false);
    // Carol, offline, deletes "beta " and types "NEW " in its place.
    net.edit(0, [6, "NEW ", -5, 6]);
    // Meanwhile Ann appends one character per revision, past the transform window.
    const auth = { ...net.space, noteId: net.noteId };
    let length = "alpha beta gamma\n".length;
    for (let rev = 0; rev < TRANSFORM_WINDOW + 5; rev++) {
      await net.t.mutation(api.ops.submit, { ...auth, clientId: "ann", seq: rev + 1, baseRev: rev, op: [length, "x"] });
      length += 1;
    }
    net.setConnected(0, true);
    await net.flush();
    const server = await net.server();
    expect(server.text).toBe("alpha NEW gamma\n" + "x".repeat(TRANSFORM_WINDOW + 5));
    expect(net.clients[0]!.sync.text).toBe(server.text);
    // Carol's edit was answered stale (too far behind to transform) and caught up op by op.
    expect(net.log.some((line) => line.startsWith("server takes carol") && line.includes('"stale"'))).toBe(true);
    expect(net.log.some((line) => line.includes("replaced its text"))).toBe(false);
  });

  it("reused (clientId, seq): two windows restored with one id both keep their typing", async () => {
    // Two clients with one id, as two windows that restored the same saved state did.
    const net = await network("shared\n", ["win", "win"]);
    append(net, 0, "FROM-WINDOW-1 ");
    append(net, 1, "FROM-WINDOW-2 ");
    await net.deliverUp(0);
    await net.deliverUp(1); // same (clientId, seq), different edit: SEQ_REUSED, not "applied"
    await net.flush();
    const server = await net.server();
    expect(server.text).toContain("FROM-WINDOW-1 ");
    expect(server.text).toContain("FROM-WINDOW-2 ");
    expect(server.text.length).toBe("shared\nFROM-WINDOW-1 FROM-WINDOW-2 ".length);
    for (const c of net.clients) expect(c.sync.text).toBe(server.text);
    expect(net.clients[1]!.sync.clientId).not.toBe("win");
  });

  it("a definitive rejection takes out only the refused edit and hands its text to the user", async () => {
    const net = await network("", ["ann", "bob"]);
    const huge = "y".repeat(MAX_NOTE_BYTES + 1);
    append(net, 0, "kept ");
    await net.deliverUp(0);
    append(net, 0, huge);
    await net.flush(); // TOO_LARGE: can never apply
    append(net, 0, "after");
    await net.flush();
    const ann = net.clients[0]!;
    expect(ann.rejected.map((r: { code: string; text: string }) => [r.code, r.text.length])).toEqual([["TOO_LARGE", huge.length]]);
    const server = await net.server();
    expect(server.text).toBe("kept after");
    for (const c of net.clients) expect(c.sync.text).toBe(server.text);
  });
});

describe("saved schedules against the local backend", () => {
  afterEach(cleanup);

  it("D: a follower behind several large pastes (a page cut by its size limit) catches up and keeps sending", async () => {
    const backend = await startLocalBackend();
    const { creds, noteId } = await newSpaceWithNote(backend.url);
    const proxy = await new TcpProxy({ targetPort: backend.port }).start();
    try {
      const user = { name: "u", color: "#00aaff" };
      const writer = await new Space(client(backend.url), creds).open(noteId, { user, presence: false });
      const follower = await new Space(client(proxy.url), creds).open(noteId, { user, presence: false });
      const rejected: RejectedEdit[] = [];
      follower.onRejected((r) => rejected.push(r));
      proxy.goDown();
      proxy.cut();
      // Five pastes of 600 KB, each replacing the text: more than one page (SINCE_BYTES) behind.
      const size = 600_000;
      expect(4 * size).toBeGreaterThan(SINCE_BYTES);
      for (let i = 0; i < 5; i++) {
        const next = String.fromCharCode(97 + i).repeat(size);
        writer.applyLocal(writer.text.length === 0 ? [next] : [next, -writer.text.length]);
        await writer.flush();
      }
      proxy.restore();
      await waitFor(() => follower.text === writer.text, "the follower to catch up", 60_000);
      follower.applyLocal([size, "!"]);
      await follower.flush();
      await waitFor(() => writer.text.endsWith("!"), "the follower's edit to reach the writer", 60_000);
      expect(follower.text).toBe("e".repeat(size) + "!");
      expect(rejected).toEqual([]);
      await writer.close();
      await follower.close();
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it("the server refuses a reused (clientId, seq) with a different edit, and keeps answering a retry of the same one", async () => {
    const backend = await startLocalBackend();
    const { creds, noteId } = await newSpaceWithNote(backend.url);
    const convex = client(backend.url);
    const args = { spaceId: creds.spaceId, key: creds.key, noteId, clientId: "dup", seq: 1, baseRev: 0 };
    await expect(convex.mutation(api.ops.submit, { ...args, op: ["one"] })).resolves.toEqual({ kind: "applied", rev: 1 });
    await expect(convex.mutation(api.ops.submit, { ...args, op: ["one"] })).resolves.toEqual({ kind: "applied", rev: 1 });
    await expect(convex.mutation(api.ops.submit, { ...args, op: ["two"] })).rejects.toMatchObject({ data: { code: "SEQ_REUSED" } });
    const opened = await convex.query(api.notes.open, { spaceId: creds.spaceId, key: creds.key, noteId });
    expect(opened).toMatchObject({ text: "one", rev: 1 });
  });
});
