/**
 * Following a note in blocks of its log, through the real backend: a block beyond the head
 * is not re-run until an op lands in it; sessions that follow one note share blocks and
 * converge; and over a slow link a follower gets every op without a recovery.
 */
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import type { JSONValue } from "convex/values";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import type { RunningBackend } from "../../backend/serve";
import { MIN_BLOCK } from "../../sync/followBlocks";
import { Runtime } from "../../backend/runtime";
import { Space } from "../../client/space";
import { TcpProxy } from "../../harness/tcpProxy";
import { cleanup, client, converged, newSpaceWithNote, openSessions, startLocalBackend, waitFor } from "./helpers";

let backend: RunningBackend;
/** `ops:range` runs by the range they ran for ("afterRev-throughRev"). */
const runs = new Map<string, number>();
const invokeWith = Runtime.prototype.invokeWith;

beforeAll(async () => {
  Runtime.prototype.invokeWith = function (this: Runtime, udfPath: string, kind, args: JSONValue, ...rest) {
    if (udfPath.startsWith("ops") && udfPath.endsWith("range")) {
      const { afterRev, throughRev } = (Array.isArray(args) ? args[0] : args) as { afterRev: number; throughRev: number };
      const range = `${afterRev}-${throughRev}`;
      runs.set(range, (runs.get(range) ?? 0) + 1);
    }
    return invokeWith.call(this, udfPath, kind, args, ...rest);
  } as typeof invokeWith;
  backend = await startLocalBackend();
});
afterEach(cleanup);
afterAll(async () => {
  Runtime.prototype.invokeWith = invokeWith;
  await backend.close();
});

test("a block beyond the head is re-run only once an op lands in it", async () => {
  const { creds, noteId } = await newSpaceWithNote(backend.url);
  const auth = { spaceId: creds.spaceId as Id<"spaces">, key: creds.key, noteId: noteId as Id<"notes"> };
  const writer = client(backend.url);
  const type = (rev: number) => writer.mutation(api.ops.submit, { ...auth, clientId: "writer", seq: rev + 1, baseRev: rev, op: rev === 0 ? ["a"] : [rev, "a"] });
  for (let rev = 0; rev < 5; rev++) await type(rev);

  const reader = client(backend.url);
  let near: number[] = [];
  let far: number[] = [];
  reader.onUpdate(api.ops.range, { ...auth, afterRev: 4, throughRev: 8 }, (r) => (near = r.kind === "ops" ? r.ops.map((o) => o.rev) : []));
  reader.onUpdate(api.ops.range, { ...auth, afterRev: 8, throughRev: 10 }, (r) => (far = r.kind === "ops" ? r.ops.map((o) => o.rev) : []));
  await waitFor(() => near.length === 1 && runs.has("8-10"), "both ranges' first results");
  const before = { near: runs.get("4-8")!, far: runs.get("8-10")! };

  for (let rev = 5; rev < 8; rev++) await type(rev);
  await waitFor(() => near.length === 4, "the near range's new ops");
  expect(runs.get("4-8")).toBeGreaterThan(before.near);
  expect(runs.get("8-10")).toBe(before.far);
  expect(far).toEqual([]);

  await type(8);
  await waitFor(() => far.length === 1, "the far range's first op");
  expect(far).toEqual([9]);
});

test("sessions typing into one note converge, sharing the blocks they follow", async () => {
  const { creds, noteId } = await newSpaceWithNote(backend.url);
  const sessions = await openSessions(backend.url, creds, noteId, 4);
  runs.clear();
  for (let key = 0; key < 40; key++) {
    const session = sessions[key % sessions.length]!;
    session.applyLocal(session.text.length === 0 ? ["x"] : [session.text.length, "x"]);
    if (key % 4 === 3) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const text = await converged(backend.url, creds, noteId, sessions);
  expect(text).toBe("x".repeat(40));
  // One run when the first session watches a block, and one per commit that lands in it:
  // four sessions watching alone would each run every one of these.
  const total = [...runs.values()].reduce((a, b) => a + b, 0);
  expect(total).toBeLessThanOrEqual(runs.size + 40);
  for (const s of sessions) await s.close();
});

test("over a slow link a follower gets every edit without recovering, watching a bounded stretch ahead", async () => {
  const { creds, noteId } = await newSpaceWithNote(backend.url);
  const proxy = await new TcpProxy({ targetPort: backend.port, delayMs: 40 }).start();
  try {
    const convex = client(proxy.url);
    // Counts the follower's ops:range subscriptions open at once, and their largest block.
    let open = 0;
    let most = 0;
    let largest = 0;
    const onUpdate = convex.onUpdate.bind(convex);
    convex.onUpdate = ((query, args, callback, onError) => {
      const unsubscribe = onUpdate(query, args, callback, onError);
      const { afterRev, throughRev } = args as { afterRev?: number; throughRev?: number };
      if (afterRev === undefined || throughRev === undefined) return unsubscribe; // not a block
      largest = Math.max(largest, throughRev - afterRev);
      most = Math.max(most, ++open);
      let done = false;
      return Object.assign(() => {
        if (!done) open--;
        done = true;
        unsubscribe();
      }, unsubscribe);
    }) as typeof convex.onUpdate;
    const logged: string[] = [];
    const user = { name: "far", color: "#00aaff" };
    const follower = await new Space(convex, creds).open(noteId, { user, presence: false, log: (m) => logged.push(m) });
    const [writer] = await openSessions(backend.url, creds, noteId, 1);
    // About 200 keys a second for 2 s: blocks grow.
    for (let key = 0; key < 400; key++) {
      writer!.applyLocal(writer!.text.length === 0 ? ["y"] : [writer!.text.length, "y"]);
      if (key % 4 === 3) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const text = await converged(backend.url, creds, noteId, [writer!, follower]);
    expect(text).toBe("y".repeat(400));
    expect(logged).toEqual([]);
    expect(largest).toBeGreaterThan(MIN_BLOCK);
    // Near and far blocks (about 17), and the pieces of blocks being split while those are still watched.
    expect(most).toBeLessThanOrEqual(32);
    // It watched past the 60 revisions, and dropped the blocks it had read.
    expect(open).toBeGreaterThan(0);
    await follower.close();
  } finally {
    await proxy.close();
  }
});
