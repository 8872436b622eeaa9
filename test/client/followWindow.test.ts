/**
 * The follow windows through the real backend: a full window (a lagging follower's) is
 * not re-run by later commits, an open one is; sessions that follow one note converge
 * while sharing windows; and on a slow link a session moves its window once the last move
 * answered.
 */
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import type { JSONValue } from "convex/values";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import type { RunningBackend } from "../../backend/serve";
import { FOLLOW_STEP } from "../../sync/followWindow";
import { Runtime } from "../../backend/runtime";
import { Space } from "../../client/space";
import { TcpProxy } from "../../harness/tcpProxy";
import { cleanup, client, converged, newSpaceWithNote, openSessions, startLocalBackend, waitFor } from "./helpers";

let backend: RunningBackend;
/** `ops:since` runs by the window they ran for ("afterRev/limit"). */
const runs = new Map<string, number>();
const invokeWith = Runtime.prototype.invokeWith;

beforeAll(async () => {
  Runtime.prototype.invokeWith = function (this: Runtime, udfPath: string, kind, args: JSONValue, ...rest) {
    if (udfPath.startsWith("ops") && udfPath.endsWith("since")) {
      const { afterRev, limit } = (Array.isArray(args) ? args[0] : args) as { afterRev: number; limit?: number };
      const window = `${afterRev}/${limit ?? "-"}`;
      runs.set(window, (runs.get(window) ?? 0) + 1);
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

test("a full window is not re-run by later commits; an open one is", async () => {
  const { creds, noteId } = await newSpaceWithNote(backend.url);
  const auth = { spaceId: creds.spaceId as Id<"spaces">, key: creds.key, noteId: noteId as Id<"notes"> };
  const writer = client(backend.url);
  const type = (rev: number) => writer.mutation(api.ops.submit, { ...auth, clientId: "writer", seq: rev + 1, baseRev: rev, op: rev === 0 ? ["a"] : [rev, "a"] });
  for (let rev = 0; rev < 5; rev++) await type(rev);

  const reader = client(backend.url);
  let full: number[] = [];
  let open: number[] = [];
  reader.onUpdate(api.ops.since, { ...auth, afterRev: 0, limit: 2 }, (r) => (full = r.kind === "ops" ? r.ops.map((o) => o.rev) : []));
  reader.onUpdate(api.ops.since, { ...auth, afterRev: 4, limit: 16 }, (r) => (open = r.kind === "ops" ? r.ops.map((o) => o.rev) : []));
  await waitFor(() => full.length === 2 && open.length === 1, "both windows' first results");
  const before = { full: runs.get("0/2") ?? 0, open: runs.get("4/16") ?? 0 };

  for (let rev = 5; rev < 8; rev++) await type(rev);
  await waitFor(() => open.length === 4, "the open window's new ops");
  expect(full).toEqual([1, 2]);
  expect(runs.get("0/2")).toBe(before.full);
  expect(runs.get("4/16")).toBeGreaterThan(before.open);
});

test("sessions typing into one note converge, following it in shared windows", async () => {
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
  // Followers at one revision ask for one window, and windows move FOLLOW_STEP revisions at
  // a time: at most one window per step (plus a first one per session), however many follow.
  expect(runs.size).toBeLessThanOrEqual(40 / FOLLOW_STEP + 1 + sessions.length);
  for (const s of sessions) await s.close();
});

test("on a slow link a session has one window move under way at a time, and follows every edit", async () => {
  const { creds, noteId } = await newSpaceWithNote(backend.url);
  const proxy = await new TcpProxy({ targetPort: backend.port, delayMs: 40 }).start();
  try {
    const convex = client(proxy.url);
    // Counts the follower's ops:since subscriptions open at once.
    let open = 0;
    let most = 0;
    const onUpdate = convex.onUpdate.bind(convex);
    convex.onUpdate = ((query, args, callback, onError) => {
      const unsubscribe = onUpdate(query, args, callback, onError);
      if ((args as { afterRev?: number }).afterRev === undefined) return unsubscribe; // not a window
      most = Math.max(most, ++open);
      let done = false;
      return Object.assign(() => {
        if (!done) open--;
        done = true;
        unsubscribe();
      }, unsubscribe);
    }) as typeof convex.onUpdate;
    const follower = await new Space(convex, creds).open(noteId, { user: { name: "far", color: "#00aaff" }, presence: false });
    const [writer] = await openSessions(backend.url, creds, noteId, 1);
    for (let key = 0; key < 30; key++) {
      writer!.applyLocal(writer!.text.length === 0 ? ["y"] : [writer!.text.length, "y"]);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const text = await converged(backend.url, creds, noteId, [writer!, follower]);
    expect(text).toBe("y".repeat(30));
    // The window being left and the one being moved to: a round trip of 80 ms holds about
    // 16 of the writer's pushes, and a move for each kept that many open.
    expect(most).toBeLessThanOrEqual(2);
    await follower.close();
  } finally {
    await proxy.close();
  }
});
