import { afterEach, describe, expect, test, vi } from "vitest";
import { api, internal } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { OPS_RETAIN_MS, SNAPSHOT_REVS, SPACE_CREATE_LIMIT, SPACE_CREATE_WINDOW_MS } from "../../convex/limits";
import { checksum } from "../../sync/checksum";
import { backend, expectError, newKey, newSpace, type Backend, type Space } from "./helpers";

afterEach(() => {
  vi.useRealTimers();
});

async function typed(t: Backend, s: Space, noteId: Id<"notes">, edits: readonly (readonly (number | string)[])[], from = 0) {
  for (const [i, op] of edits.entries()) {
    await t.mutation(api.ops.submit, { ...s, noteId, clientId: "ann", seq: from + i + 1, baseRev: from + i, op: [...op], author: "Ann" });
  }
}

/** Makes the next submit take a snapshot (as if SNAPSHOT_REVS revisions had passed). */
async function snapshotDueNext(t: Backend, noteId: Id<"notes">) {
  await t.run(async (ctx) => {
    const head = await ctx.db
      .query("heads")
      .withIndex("by_note", (q) => q.eq("noteId", noteId))
      .unique();
    if (head) await ctx.db.patch("heads", head._id, { snapshotRev: head.rev + 1 - SNAPSHOT_REVS });
  });
}

describe("storage: head, op log, snapshots", () => {
  test("the text at any kept revision is one snapshot plus the ops since; each revision keeps its author and sizes", async () => {
    const t = backend();
    const s = await newSpace(t);
    const noteId = await t.mutation(api.notes.create, { ...s, title: "n", text: "ab" });
    await typed(t, s, noteId, [[2, "c"], [3, "d"]]);
    await snapshotDueNext(t, noteId);
    await typed(t, s, noteId, [[4, "e"], [-1, 4]], 2);
    const at = (rev: number) => t.query(api.ops.textAtRevision, { ...s, noteId, rev });
    expect(await Promise.all([0, 1, 2, 3, 4].map(at))).toEqual(["ab", "abc", "abcd", "abcde", "bcde"]);
    // The snapshot's revision carries the checksum to clients.
    const page = await t.query(api.ops.since, { ...s, noteId, afterRev: 0 });
    expect(page.kind === "ops" && page.ops.map((o) => o.checksum)).toEqual([undefined, undefined, checksum("abcde"), undefined]);
    const revisions = await t.query(api.ops.revisions, { ...s, noteId });
    expect(revisions.map((r) => [r.rev, r.author, r.inserted, r.deleted])).toEqual([
      [4, "Ann", 0, 1],
      [3, "Ann", 1, 0],
      [2, "Ann", 1, 0],
      [1, "Ann", 1, 0],
    ]);
    await expectError(at(5), "INVALID_ARGUMENT");
  });

  test("compaction drops op bodies older than the retention behind a snapshot, keeps who wrote them, and clients behind it reload", async () => {
    vi.useFakeTimers();
    const t = backend();
    const s = await newSpace(t);
    const noteId = await t.mutation(api.notes.create, { ...s, title: "n", text: "" });
    await typed(t, s, noteId, [["a"], [1, "b"]]);
    await snapshotDueNext(t, noteId);
    await typed(t, s, noteId, [[2, "c"]], 2); // rev 3 with a snapshot
    vi.setSystemTime(Date.now() + OPS_RETAIN_MS + 1000);
    await typed(t, s, noteId, [[3, "d"]], 3); // rev 4: recent, after the snapshot
    await expect(t.mutation(internal.ops.compact, {})).resolves.toEqual({ compacted: 3 });
    await expect(t.mutation(internal.ops.compact, {})).resolves.toEqual({ compacted: 0 });
    expect(await t.query(api.notes.open, { ...s, noteId })).toMatchObject({ text: "abcd", rev: 4 });
    expect(await t.query(api.ops.since, { ...s, noteId, afterRev: 1 })).toEqual({ kind: "reload", head: 4 });
    const tail = await t.query(api.ops.since, { ...s, noteId, afterRev: 3 });
    expect(tail.kind === "ops" && tail.ops.map((o) => o.rev)).toEqual([4]);
    expect(await t.query(api.ops.textAtRevision, { ...s, noteId, rev: 2 })).toBeNull();
    expect(await t.query(api.ops.textAtRevision, { ...s, noteId, rev: 3 })).toBe("abc");
    expect((await t.query(api.ops.revisions, { ...s, noteId })).map((r) => r.author)).toEqual(["Ann", "Ann", "Ann", "Ann"]);
  });

  test("notes stored whole (before snapshots) are read as they are and migrated by their first submit or the scheduled job", async () => {
    const t = backend();
    const s = await newSpace(t);
    // Two notes as the old schema stored them: the text at the head, one op row per revision.
    const [first, second] = await t.run(async (ctx) => {
      const ids: Id<"notes">[] = [];
      for (const title of ["old one", "old two"]) {
        const noteId = await ctx.db.insert("notes", { spaceId: s.spaceId, title });
        await ctx.db.insert("ops", { noteId, rev: 1, clientId: "x", seq: 1, op: ["hi"], checksum: checksum("hi") });
        await ctx.db.insert("texts", { noteId, text: "hi", rev: 1, checksum: checksum("hi") });
        ids.push(noteId);
      }
      return ids as [Id<"notes">, Id<"notes">];
    });
    expect(await t.query(api.notes.open, { ...s, noteId: first })).toMatchObject({ text: "hi", rev: 1 });
    expect(await t.query(api.ops.since, { ...s, noteId: first, afterRev: 1 })).toEqual({ kind: "ops", ops: [], head: 1 });
    // A retry of the old op is still recognised, and a new op migrates the note.
    await expect(t.mutation(api.ops.submit, { ...s, noteId: first, clientId: "x", seq: 1, baseRev: 0, op: ["hi"] })).resolves.toEqual({ kind: "applied", rev: 1 });
    await t.mutation(api.ops.submit, { ...s, noteId: first, clientId: "y", seq: 1, baseRev: 1, op: [2, "!"] });
    expect(await t.query(api.notes.open, { ...s, noteId: first })).toMatchObject({ text: "hi!", rev: 2 });
    await expect(t.mutation(internal.notes.migrate, {})).resolves.toEqual({ migrated: 1 });
    const left = await t.run(async (ctx) => (await ctx.db.query("texts").take(10)).length);
    expect(left).toBe(0);
    expect(await t.query(api.notes.open, { ...s, noteId: second })).toMatchObject({ text: "hi", rev: 1 });
    expect(await t.query(api.ops.textAtRevision, { ...s, noteId: second, rev: 1 })).toBe("hi");
  });

  test("removing a note removes its head, snapshots, ops and authorship", async () => {
    const t = backend();
    const s = await newSpace(t);
    const noteId = await t.mutation(api.notes.create, { ...s, title: "n", text: "x" });
    await typed(t, s, noteId, [[1, "y"]]);
    await t.run((ctx) => ctx.db.insert("authorship", { noteId, rev: 1, names: ["Ann"], runs: "" }));
    await expect(t.mutation(api.notes.remove, { ...s, noteId })).resolves.toEqual({ done: true });
    const rows = await t.run(async (ctx) =>
      Promise.all(
        (["heads", "snapshots", "ops", "authorship"] as const).map(async (table) =>
          (await ctx.db.query(table).take(10)).filter((r) => r.noteId === noteId).length,
        ),
      ),
    );
    expect(rows).toEqual([0, 0, 0, 0]);
  });
});

describe("spaces:create is rate-limited per caller", () => {
  test(`at most ${SPACE_CREATE_LIMIT} an hour per caller, with a clear error; other callers and the next window are not affected`, async () => {
    vi.useFakeTimers();
    const t = backend();
    for (let i = 0; i < SPACE_CREATE_LIMIT; i++) await t.mutation(api.spaces.create, { key: newKey(), caller: "install-1" });
    const message = await expectError(t.mutation(api.spaces.create, { key: newKey(), caller: "install-1" }), "RATE_LIMITED");
    expect(message).toMatch(/Try again in \d+ minute/);
    await t.mutation(api.spaces.create, { key: newKey(), caller: "install-2" });
    vi.setSystemTime(Date.now() + SPACE_CREATE_WINDOW_MS);
    await t.mutation(api.spaces.create, { key: newKey(), caller: "install-1" });
    vi.setSystemTime(Date.now() + 2 * 24 * 60 * 60 * 1000);
    await expect(t.mutation(internal.rateLimit.prune, {})).resolves.toEqual({ deleted: 3 });
    await expectError(t.mutation(api.spaces.create, { key: newKey(), caller: "" }), "INVALID_ARGUMENT");
  });
});
