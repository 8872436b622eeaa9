import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { MAX_SELECTIONS, PRESENCE_HEARTBEAT_MS, PRESENCE_TIMEOUT_MS } from "../../convex/limits";
import { backend, expectError, newSpace, type Backend, type Space } from "./helpers";

async function setup() {
  const t = backend();
  const s = await newSpace(t);
  const noteId = await t.mutation(api.notes.create, { ...s, title: "n", text: "hello" });
  return { t, s, noteId };
}

type Extra = Partial<{ name: string; color: string; rev: number; selections: { anchor: number; head: number }[] }>;

function update(t: Backend, s: Space, noteId: Id<"notes">, clientId: string, extra: Extra = {}) {
  return t.mutation(api.presence.update, {
    ...s,
    noteId,
    clientId,
    name: extra.name ?? clientId.toUpperCase(),
    color: extra.color ?? "#e06c75",
    rev: extra.rev ?? 0,
    selections: extra.selections ?? [{ anchor: 0, head: 0 }],
  });
}

const heartbeat = (t: Backend, s: Space, noteId: Id<"notes">, clientId: string) =>
  t.mutation(api.presence.heartbeat, { ...s, noteId, clientId });

const listed = async (t: Backend, s: Space, noteId: Id<"notes">) =>
  (await t.query(api.presence.list, { ...s, noteId })).map((e) => e.clientId);

/** Every presence-related row of the note, and the sweeps scheduled and not yet run. */
function stored(t: Backend, noteId: Id<"notes">) {
  return t.run(async (ctx) => ({
    shown: (await ctx.db.query("presence").withIndex("by_note_client", (q) => q.eq("noteId", noteId)).take(50)).map((r) => r.clientId),
    heartbeats: (await ctx.db.query("presenceHeartbeats").withIndex("by_note_client", (q) => q.eq("noteId", noteId)).take(50)).map(
      (r) => r.clientId,
    ),
    sweeps: await ctx.db.query("presenceSweeps").withIndex("by_note", (q) => q.eq("noteId", noteId)).take(5),
    pending: (await ctx.db.system.query("_scheduled_functions").take(100)).filter((f) => f.state.kind === "pending").length,
  }));
}

/** Moves the fake clock in 1 s steps, running each scheduled function as it comes due. */
async function advance(t: Backend, ms: number): Promise<void> {
  for (let left = ms; left > 0; left -= 1000) {
    vi.advanceTimersByTime(Math.min(1000, left));
    await t.finishInProgressScheduledFunctions();
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe("presence", () => {
  test("update, list (sorted by client), change, leave", async () => {
    const { t, s, noteId } = await setup();
    await update(t, s, noteId, "bob", { selections: [{ anchor: 1, head: 3 }] });
    await update(t, s, noteId, "alice", { selections: [{ anchor: 2, head: 2 }, { anchor: 4, head: 0 }] });
    expect(await t.query(api.presence.list, { ...s, noteId })).toEqual([
      { clientId: "alice", name: "ALICE", color: "#e06c75", rev: 0, selections: [{ anchor: 2, head: 2 }, { anchor: 4, head: 0 }] },
      { clientId: "bob", name: "BOB", color: "#e06c75", rev: 0, selections: [{ anchor: 1, head: 3 }] },
    ]);
    await update(t, s, noteId, "bob", { name: " Bob ", rev: 1, selections: [] });
    const list = await t.query(api.presence.list, { ...s, noteId });
    expect(list[1]).toEqual({ clientId: "bob", name: "Bob", color: "#e06c75", rev: 1, selections: [] });
    await t.mutation(api.presence.leave, { ...s, noteId, clientId: "alice" });
    await t.mutation(api.presence.leave, { ...s, noteId, clientId: "alice" }); // idempotent
    expect(await listed(t, s, noteId)).toEqual(["bob"]);
    expect(await stored(t, noteId)).toMatchObject({ shown: ["bob"], heartbeats: ["bob"] });
  });

  test("a heartbeat refreshes only the client's heartbeat: what list returns stays the same", async () => {
    vi.useFakeTimers();
    const { t, s, noteId } = await setup();
    await update(t, s, noteId, "a", { rev: 0, selections: [{ anchor: 1, head: 4 }] });
    await update(t, s, noteId, "b");
    const before = await t.query(api.presence.list, { ...s, noteId });
    const shownRows = () => t.run(async (ctx) => ctx.db.query("presence").withIndex("by_note_client", (q) => q.eq("noteId", noteId)).take(10));
    const rowsBefore = await shownRows();
    const seen = () =>
      t.run(async (ctx) => (await ctx.db.query("presenceHeartbeats").withIndex("by_note_client", (q) => q.eq("noteId", noteId).eq("clientId", "a")).unique())?.lastSeen);
    const seenBefore = await seen();
    await advance(t, PRESENCE_HEARTBEAT_MS);
    expect(await heartbeat(t, s, noteId, "a")).toBe(true);
    expect(await seen()).toBe(seenBefore! + PRESENCE_HEARTBEAT_MS);
    expect(await t.query(api.presence.list, { ...s, noteId })).toEqual(before);
    expect(await shownRows()).toEqual(rowsBefore);
    // Publishing the same place again is not a change either.
    await update(t, s, noteId, "a", { rev: 0, selections: [{ anchor: 1, head: 4 }] });
    expect(await shownRows()).toEqual(rowsBefore);
  });

  test("a silent client is removed by the note's scheduled sweep; one sweep per note, ended when nobody is left", async () => {
    vi.useFakeTimers();
    const { t, s, noteId } = await setup();
    await update(t, s, noteId, "stays");
    await update(t, s, noteId, "goes");
    expect((await stored(t, noteId)).pending).toBe(1);
    // "stays" heartbeats on time, "goes" falls silent.
    for (let elapsed = 0; elapsed < PRESENCE_TIMEOUT_MS; elapsed += PRESENCE_HEARTBEAT_MS) {
      await advance(t, PRESENCE_HEARTBEAT_MS);
      expect(await heartbeat(t, s, noteId, "stays")).toBe(true);
      const now = await stored(t, noteId);
      expect(now.sweeps).toHaveLength(1);
      expect(now.pending).toBe(1);
    }
    expect(await listed(t, s, noteId)).toEqual(["stays"]);
    expect(await stored(t, noteId)).toMatchObject({ shown: ["stays"], heartbeats: ["stays"] });
    // A swept client that comes back hears so from its heartbeat, and publishes itself again.
    expect(await heartbeat(t, s, noteId, "goes")).toBe(false);
    await update(t, s, noteId, "goes");
    expect(await listed(t, s, noteId)).toEqual(["goes", "stays"]);
    // Once everyone is silent, the last run removes them and schedules nothing more.
    await advance(t, PRESENCE_TIMEOUT_MS + 1000);
    expect(await stored(t, noteId)).toEqual({ shown: [], heartbeats: [], sweeps: [], pending: 0 });
  });

  test("rows written before heartbeats moved out are adopted by a heartbeat or removed by the first sweep", async () => {
    vi.useFakeTimers();
    const { t, s, noteId } = await setup();
    const legacy = { noteId, name: "Old", color: "#112233", rev: 0, selections: [], lastSeen: 1 };
    await t.run(async (ctx) => {
      await ctx.db.insert("presence", { ...legacy, clientId: "ghost" });
      await ctx.db.insert("presence", { ...legacy, clientId: "alive" });
    });
    expect(await heartbeat(t, s, noteId, "alive")).toBe(true);
    await update(t, s, noteId, "new");
    await advance(t, 1000);
    expect(await listed(t, s, noteId)).toEqual(["alive", "new"]);
  });

  test("a removed note's heartbeats are swept too", async () => {
    vi.useFakeTimers();
    const { t, s, noteId } = await setup();
    await update(t, s, noteId, "c");
    while (!(await t.mutation(api.notes.remove, { ...s, noteId })).done);
    await advance(t, PRESENCE_TIMEOUT_MS + 1000);
    expect(await stored(t, noteId)).toEqual({ shown: [], heartbeats: [], sweeps: [], pending: 0 });
  });

  test("presence is per note", async () => {
    const { t, s, noteId } = await setup();
    const other = await t.mutation(api.notes.create, { ...s, title: "other" });
    await update(t, s, noteId, "a");
    await expect(t.query(api.presence.list, { ...s, noteId: other })).resolves.toEqual([]);
    expect(await heartbeat(t, s, other, "a")).toBe(false);
  });

  test("bad presence is INVALID_ARGUMENT and writes nothing", async () => {
    const { t, s, noteId } = await setup();
    const bad: Extra[] = [
      { color: "red" },
      { color: "#12345" },
      { color: "#fff; background: url(x)" },
      { name: "" },
      { name: "n".repeat(65) },
      { rev: -1 },
      { rev: 0.5 },
      { selections: [{ anchor: -1, head: 0 }] },
      { selections: [{ anchor: 0, head: 1.5 }] },
      { selections: Array.from({ length: MAX_SELECTIONS + 1 }, () => ({ anchor: 0, head: 0 })) },
    ];
    for (const extra of bad) await expectError(update(t, s, noteId, "c", extra), "INVALID_ARGUMENT");
    await expectError(update(t, s, noteId, "", {}), "INVALID_ARGUMENT");
    await expectError(heartbeat(t, s, noteId, ""), "INVALID_ARGUMENT");
    expect(await stored(t, noteId)).toEqual({ shown: [], heartbeats: [], sweeps: [], pending: 0 });
    for (const color of ["#aabbcc", "#AABBCC"]) await update(t, s, noteId, "c", { color });
  });
});
