import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { MAX_SELECTIONS, PRESENCE_PURGE_MS, PRESENCE_STALE_MS } from "../../convex/limits";
import { backend, expectError, newSpace, type Backend, type Space } from "./helpers";

async function setup() {
  const t = backend();
  const s = await newSpace(t);
  const noteId = await t.mutation(api.notes.create, { ...s, title: "n", text: "hello" });
  return { t, s, noteId };
}

function update(t: Backend, s: Space, noteId: Id<"notes">, clientId: string, extra: Partial<{ name: string; color: string; rev: number; selections: { anchor: number; head: number }[] }> = {}) {
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

afterEach(() => {
  vi.useRealTimers();
});

describe("presence", () => {
  test("update, list (server time, sorted by client), refresh, leave", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(1_000_000);
    const { t, s, noteId } = await setup();
    await update(t, s, noteId, "bob", { selections: [{ anchor: 1, head: 3 }] });
    await update(t, s, noteId, "alice", { rev: 0, selections: [{ anchor: 2, head: 2 }, { anchor: 4, head: 0 }] });
    expect(await t.query(api.presence.list, { ...s, noteId })).toEqual([
      { clientId: "alice", name: "ALICE", color: "#e06c75", rev: 0, selections: [{ anchor: 2, head: 2 }, { anchor: 4, head: 0 }], lastSeen: 1_000_000 },
      { clientId: "bob", name: "BOB", color: "#e06c75", rev: 0, selections: [{ anchor: 1, head: 3 }], lastSeen: 1_000_000 },
    ]);
    vi.setSystemTime(1_005_000);
    await update(t, s, noteId, "bob", { name: "Bob", rev: 1, selections: [] });
    const list = await t.query(api.presence.list, { ...s, noteId });
    expect(list.find((e) => e.clientId === "bob")).toMatchObject({ name: "Bob", rev: 1, selections: [], lastSeen: 1_005_000 });
    expect(list).toHaveLength(2);
    await t.mutation(api.presence.leave, { ...s, noteId, clientId: "alice" });
    await t.mutation(api.presence.leave, { ...s, noteId, clientId: "alice" }); // idempotent
    expect((await t.query(api.presence.list, { ...s, noteId })).map((e) => e.clientId)).toEqual(["bob"]);
  });

  test("stale entries are left out, and long-stale rows are deleted by later updates", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(2_000_000);
    const { t, s, noteId } = await setup();
    await update(t, s, noteId, "gone");
    vi.setSystemTime(2_000_000 + PRESENCE_STALE_MS + 1);
    await update(t, s, noteId, "here");
    expect((await t.query(api.presence.list, { ...s, noteId })).map((e) => e.clientId)).toEqual(["here"]);
    // Still stored until it is long stale …
    const rows = () =>
      t.run(async (ctx) =>
        (await ctx.db.query("presence").withIndex("by_note_client", (q) => q.eq("noteId", noteId)).take(10)).map((r) => r.clientId),
      );
    expect((await rows()).sort()).toEqual(["gone", "here"]);
    // … then the next heartbeat of anyone in the note removes it.
    vi.setSystemTime(2_000_000 + PRESENCE_PURGE_MS + 1);
    await update(t, s, noteId, "here");
    expect(await rows()).toEqual(["here"]);
  });

  test("presence is per note", async () => {
    const { t, s, noteId } = await setup();
    const other = await t.mutation(api.notes.create, { ...s, title: "other" });
    await update(t, s, noteId, "a");
    await expect(t.query(api.presence.list, { ...s, noteId: other })).resolves.toEqual([]);
  });

  test("bad presence is INVALID_ARGUMENT and writes nothing", async () => {
    const { t, s, noteId } = await setup();
    const bad = [
      { color: "red" },
      { color: "#12345" },
      { color: "#fff; background: url(x)" },
      { name: "" },
      { name: "n".repeat(65) },
      { name: "Ann\u202e" },
      { color: "#abc" },
      { rev: -1 },
      { rev: 0.5 },
      { selections: [{ anchor: -1, head: 0 }] },
      { selections: [{ anchor: 0, head: 1.5 }] },
      { selections: Array.from({ length: MAX_SELECTIONS + 1 }, () => ({ anchor: 0, head: 0 })) },
    ];
    for (const extra of bad) await expectError(update(t, s, noteId, "c", extra), "INVALID_ARGUMENT");
    await expectError(update(t, s, noteId, "", {}), "INVALID_ARGUMENT");
    await expect(t.query(api.presence.list, { ...s, noteId })).resolves.toEqual([]);
    for (const color of ["#aabbcc", "#AABBCC"]) await update(t, s, noteId, "c", { color });
  });
});
