import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { MAX_NOTE_BYTES, MAX_TITLE_LENGTH, REMOVE_BATCH } from "../../convex/limits";
import { checksum } from "../../sync/checksum";
import { backend, expectError, newSpace } from "./helpers";

describe("notes", () => {
  test("create, open, list sorted by title, find by title", async () => {
    const t = backend();
    const s = await newSpace(t);
    const b = await t.mutation(api.notes.create, { ...s, title: "beta", text: "B" });
    const a = await t.mutation(api.notes.create, { ...s, title: "  alpha  " });
    await expect(t.query(api.notes.list, s)).resolves.toEqual([
      { noteId: a, title: "alpha" },
      { noteId: b, title: "beta" },
    ]);
    await expect(t.query(api.notes.open, { ...s, noteId: a })).resolves.toEqual({
      noteId: a,
      title: "alpha",
      text: "",
      rev: 0,
      checksum: checksum(""),
    });
    await expect(t.query(api.notes.find, { ...s, title: "beta" })).resolves.toBe(b);
    await expect(t.query(api.notes.find, { ...s, title: " alpha" })).resolves.toBe(a);
    await expect(t.query(api.notes.find, { ...s, title: "gamma" })).resolves.toBeNull();
    // Another space sees none of them.
    const other = await newSpace(t);
    await expect(t.query(api.notes.list, other)).resolves.toEqual([]);
    await expect(t.query(api.notes.find, { ...other, title: "beta" })).resolves.toBeNull();
  });

  test("titles are unique per space, not across spaces", async () => {
    const t = backend();
    const s = await newSpace(t);
    await t.mutation(api.notes.create, { ...s, title: "plan" });
    const message = await expectError(t.mutation(api.notes.create, { ...s, title: " plan " }), "TITLE_TAKEN");
    expect(message).toContain("plan");
    const other = await newSpace(t);
    await expect(t.mutation(api.notes.create, { ...other, title: "plan" })).resolves.toBeTypeOf("string");
    expect(await t.query(api.notes.list, s)).toHaveLength(1);
  });

  test("title and text limits", async () => {
    const t = backend();
    const s = await newSpace(t);
    for (const title of ["", "   ", "a/b", "a\\b", "two\nlines", "tab\there", "x".repeat(MAX_TITLE_LENGTH + 1), "\udc00"]) {
      await expectError(t.mutation(api.notes.create, { ...s, title }), "INVALID_ARGUMENT");
    }
    await expect(t.mutation(api.notes.create, { ...s, title: "x".repeat(MAX_TITLE_LENGTH) })).resolves.toBeTypeOf("string");
    // UTF-8 bytes count, not code units: 500,001 two-byte letters are 1,000,002 bytes.
    await expectError(t.mutation(api.notes.create, { ...s, title: "big", text: "é".repeat(MAX_NOTE_BYTES / 2 + 1) }), "TOO_LARGE");
    await expectError(t.mutation(api.notes.create, { ...s, title: "bad", text: "a\ud800b" }), "INVALID_ARGUMENT");
    const full = await t.mutation(api.notes.create, { ...s, title: "full", text: "é".repeat(MAX_NOTE_BYTES / 2) });
    expect((await t.query(api.notes.open, { ...s, noteId: full })).text.length).toBe(MAX_NOTE_BYTES / 2);
    expect((await t.query(api.notes.list, s)).map((n) => n.title)).toEqual(["full", "x".repeat(MAX_TITLE_LENGTH)]);
  });

  test("rename: new title, same title is a no-op, a taken title is refused", async () => {
    const t = backend();
    const s = await newSpace(t);
    const a = await t.mutation(api.notes.create, { ...s, title: "a" });
    await t.mutation(api.notes.create, { ...s, title: "b" });
    await t.mutation(api.notes.rename, { ...s, noteId: a, title: "c" });
    await t.mutation(api.notes.rename, { ...s, noteId: a, title: "c" });
    await expectError(t.mutation(api.notes.rename, { ...s, noteId: a, title: "b" }), "TITLE_TAKEN");
    await expectError(t.mutation(api.notes.rename, { ...s, noteId: a, title: "" }), "INVALID_ARGUMENT");
    expect((await t.query(api.notes.list, s)).map((n) => n.title)).toEqual(["b", "c"]);
    await expect(t.query(api.notes.find, { ...s, title: "a" })).resolves.toBeNull();
  });

  test("remove deletes the note at once and its op log and presence in batches", async () => {
    const t = backend();
    const s = await newSpace(t);
    const noteId = await t.mutation(api.notes.create, { ...s, title: "doomed" });
    const keep = await t.mutation(api.notes.create, { ...s, title: "kept", text: "k" });
    await t.mutation(api.ops.submit, { ...s, noteId: keep, clientId: "c", seq: 1, baseRev: 0, op: [1, "!"] });
    await t.mutation(api.presence.update, { ...s, noteId, clientId: "c", name: "C", color: "#aabbcc", rev: 0, selections: [] });
    // More ops than one batch deletes.
    await t.run(async (ctx) => {
      for (let i = 1; i <= REMOVE_BATCH + 5; i++) {
        await ctx.db.insert("ops", { noteId, rev: i, clientId: "seed", seq: i, op: [i - 1, "x"], checksum: "" });
      }
    });

    await expect(t.mutation(api.notes.remove, { ...s, noteId })).resolves.toEqual({ done: false });
    // Gone for readers straight away, and its title is free.
    await expectError(t.query(api.notes.open, { ...s, noteId }), "NOT_FOUND");
    expect((await t.query(api.notes.list, s)).map((n) => n.title)).toEqual(["kept"]);
    await t.mutation(api.notes.create, { ...s, title: "doomed" });
    // Another space cannot finish (or probe) the removal.
    const other = await newSpace(t);
    await expectError(t.mutation(api.notes.remove, { ...other, noteId }), "NOT_FOUND");

    await expect(t.mutation(api.notes.remove, { ...s, noteId })).resolves.toEqual({ done: true });
    await expectError(t.mutation(api.notes.remove, { ...s, noteId }), "NOT_FOUND");
    const left = await t.run(async (ctx) => ({
      ops: await ctx.db.query("ops").withIndex("by_note_rev", (q) => q.eq("noteId", noteId)).take(10),
      presence: await ctx.db.query("presence").withIndex("by_note_client", (q) => q.eq("noteId", noteId)).take(10),
      texts: await ctx.db.query("texts").withIndex("by_note", (q) => q.eq("noteId", noteId)).take(10),
      removals: await ctx.db.query("removals").withIndex("by_note", (q) => q.eq("noteId", noteId)).take(10),
      keptOps: await ctx.db.query("ops").withIndex("by_note_rev", (q) => q.eq("noteId", keep)).take(10),
    }));
    expect(left).toMatchObject({ ops: [], presence: [], texts: [], removals: [] });
    expect(left.keptOps).toHaveLength(1);
    await expect(t.query(api.notes.open, { ...s, noteId: keep })).resolves.toMatchObject({ text: "k!", rev: 1 });
  });

  test("a small note is removed in one call", async () => {
    const t = backend();
    const s = await newSpace(t);
    const noteId = await t.mutation(api.notes.create, { ...s, title: "n", text: "x" });
    await t.mutation(api.ops.submit, { ...s, noteId, clientId: "c", seq: 1, baseRev: 0, op: [1, "y"] });
    await expect(t.mutation(api.notes.remove, { ...s, noteId })).resolves.toEqual({ done: true });
    await expect(t.query(api.notes.list, s)).resolves.toEqual([]);
  });
});
