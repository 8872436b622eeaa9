import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { MAX_NOTE_BYTES, MAX_OP_BYTES, MAX_RANGE_REVS, RANGE_BYTES, SINCE_BATCH, TRANSFORM_BYTES, TRANSFORM_WINDOW } from "../../convex/limits";
import { checksum } from "../../sync/checksum";
import { headText, readHead } from "../../convex/noteStore";
import { FAR_BLOCK } from "../../sync/followBlocks";
import { apply, type TextOp } from "../../sync/textOp";
import { backend, expectError, newSpace, type Backend, type Space } from "./helpers";

async function setup(text = "") {
  const t = backend();
  const s = await newSpace(t);
  const noteId = await t.mutation(api.notes.create, { ...s, title: "n", text });
  return { t, s, noteId };
}

/** What a reader sees of the note (its text at the head, via notes:open) and its op log. */
async function snapshot(t: Backend, noteId: Id<"notes">, s?: Space) {
  const ops = await t.run(async (ctx) =>
    (await ctx.db
      .query("ops")
      .withIndex("by_note_rev", (q) => q.eq("noteId", noteId))
      .take(10_000)).map((o) => ({ rev: o.rev, clientId: o.clientId, seq: o.seq, op: o.op ?? [] })),
  );
  const body = s === undefined ? await headTextOf(t, noteId) : await t.query(api.notes.open, { ...s, noteId });
  return { body, ops };
}

/** The head text straight from storage (snapshot + ops), for tests without the space key at hand. */
async function headTextOf(t: Backend, noteId: Id<"notes">) {
  return await t.run(async (ctx) => {
    const head = await readHead(ctx, noteId);
    const text = await headText(ctx, noteId, head);
    return { text, rev: head.rev, checksum: checksum(text) };
  });
}

/**
 * Writes `count` appending ops straight into the tables (one transaction), as if `count`
 * submits had happened: each appends "x". Fast setup for window and batching tests.
 */
async function seedOps(t: Backend, noteId: Id<"notes">, count: number): Promise<string> {
  return await t.run(async (ctx) => {
    const head = await ctx.db
      .query("heads")
      .withIndex("by_note", (q) => q.eq("noteId", noteId))
      .unique();
    if (head === null) throw new Error("no head");
    let text = await headText(ctx, noteId, head);
    for (let i = 0; i < count; i++) {
      const op: TextOp = text.length === 0 ? ["x"] : [text.length, "x"];
      text = apply(text, op);
      await ctx.db.insert("ops", { noteId, rev: head.rev + i + 1, clientId: "seed", seq: i, op: [...op], checksum: checksum(text) });
    }
    await ctx.db.patch("heads", head._id, { rev: head.rev + count, length: text.length, bytes: text.length });
    return text;
  });
}

/** Drops revision `rev`'s body, as compaction does. */
async function compactBody(t: Backend, noteId: Id<"notes">, rev: number): Promise<void> {
  await t.run(async (ctx) => {
    const row = await ctx.db
      .query("ops")
      .withIndex("by_note_rev", (q) => q.eq("noteId", noteId).eq("rev", rev))
      .unique();
    if (row) await ctx.db.patch("ops", row._id, { op: undefined });
  });
}

function submit(t: Backend, s: Space, noteId: Id<"notes">, clientId: string, seq: number, baseRev: number, op: TextOp) {
  return t.mutation(api.ops.submit, { ...s, noteId, clientId, seq, baseRev, op: [...op] });
}

describe("ops:submit", () => {
  test("applies an op, stores it, and updates text, rev and checksum", async () => {
    const { t, s, noteId } = await setup("hello");
    const r = await submit(t, s, noteId, "alice", 1, 0, [5, " world"]);
    expect(r).toEqual({ kind: "applied", rev: 1 });
    await expect(t.query(api.notes.open, { ...s, noteId })).resolves.toEqual({
      noteId,
      title: "n",
      text: "hello world",
      rev: 1,
      checksum: checksum("hello world"),
    });
  });

  test("a retry with the same (clientId, seq) returns the same rev and is not applied twice", async () => {
    const { t, s, noteId } = await setup("ab");
    const first = await submit(t, s, noteId, "alice", 7, 0, [1, "X", 1]);
    const again = await submit(t, s, noteId, "alice", 7, 0, [1, "X", 1]);
    expect(again).toEqual(first);
    // Others write in between; a late retry still gets the original answer.
    await submit(t, s, noteId, "bob", 1, 1, ["B", 3]);
    const late = await submit(t, s, noteId, "alice", 7, 0, [1, "X", 1]);
    expect(late).toEqual(first);
    const { body, ops } = await snapshot(t, noteId);
    expect(body?.text).toBe("BaXb");
    expect(ops.map((o) => [o.rev, o.clientId, o.seq])).toEqual([
      [1, "alice", 7],
      [2, "bob", 1],
    ]);
  });

  test("the same seq from another client is a different op", async () => {
    const { t, s, noteId } = await setup("");
    await submit(t, s, noteId, "alice", 1, 0, ["a"]);
    const r = await submit(t, s, noteId, "bob", 1, 1, [1, "b"]);
    expect(r).toMatchObject({ kind: "applied", rev: 2 });
  });

  test("two clients on the same base rev both land; the text is the merge of both", async () => {
    const { t, s, noteId } = await setup("The fox");
    // Both made against rev 0: Alice inserts "quick " at 4, Bob appends " jumps".
    const a = await submit(t, s, noteId, "alice", 1, 0, [4, "quick ", 3]);
    const b = await submit(t, s, noteId, "bob", 1, 0, [7, " jumps"]);
    expect(a).toMatchObject({ kind: "applied", rev: 1 });
    expect(b).toMatchObject({ kind: "applied", rev: 2 });
    const { body, ops } = await snapshot(t, noteId);
    expect(body?.text).toBe("The quick fox jumps");
    // Bob's op is stored transformed, so replaying the log gives the text.
    expect(ops[1]?.op).toEqual([13, " jumps"]);
    expect(ops.reduce((text, o) => apply(text, o.op), "The fox")).toBe(body?.text);
  });

  test("inserts at one place: the author order decides, whoever arrives first", async () => {
    for (const order of [["alice", "bob"], ["bob", "alice"]] as const) {
      const { t, s, noteId } = await setup("[]");
      for (const who of order) await submit(t, s, noteId, who, 1, 0, [1, who === "alice" ? "AAA" : "BBB", 1]);
      const { body } = await snapshot(t, noteId);
      expect(body?.text).toBe("[AAABBB]");
    }
  });

  test("a stale base is transformed past several ops, including deletes over the same text", async () => {
    const { t, s, noteId } = await setup("0123456789");
    await submit(t, s, noteId, "a", 1, 0, [2, -3, 5]); // 0156789
    await submit(t, s, noteId, "b", 1, 1, ["<", 7, ">"]); // <0156789>
    // Against rev 0: delete "345" and put "!" at 8.
    const r = await submit(t, s, noteId, "c", 1, 0, [3, -3, 2, "!", 2]);
    expect(r).toMatchObject({ kind: "applied", rev: 3 });
    const { body, ops } = await snapshot(t, noteId);
    expect(body?.text).toBe("<0167!89>");
    expect(ops.reduce((text, o) => apply(text, o.op), "0123456789")).toBe(body?.text);
    expect(body?.checksum).toBe(checksum("<0167!89>"));
  });

  test("malformed ops get INVALID_OP with a sentence, and nothing is written", async () => {
    const { t, s, noteId } = await setup("héllo 😀");
    await submit(t, s, noteId, "a", 1, 0, [8, "!"]);
    const before = await snapshot(t, noteId);
    const bad: { op: (number | string)[]; baseRev: number; says: RegExp }[] = [
      { op: [0, 9], baseRev: 1, says: /zero/ },
      { op: ["", 9], baseRev: 1, says: /empty/ },
      { op: [4, 5], baseRev: 1, says: /should be one/ },
      { op: [-1, "x", 8], baseRev: 1, says: /insert goes first/ },
      { op: [1.5, 7.5], baseRev: 1, says: /whole number/ },
      { op: [10], baseRev: 1, says: /spans 10 code units but the text has 9/ },
      { op: [3], baseRev: 0, says: /spans 3/ }, // does not fit the base revision
      { op: [9, "\ud800"], baseRev: 1, says: /unpaired surrogate/ },
    ];
    for (const { op, baseRev, says } of bad) {
      const message = await expectError(submit(t, s, noteId, "a", 2, baseRev, op), "INVALID_OP");
      expect(message).toMatch(says);
    }
    expect(await snapshot(t, noteId)).toEqual(before);
    // The seq was not used up by the failures.
    await expect(submit(t, s, noteId, "a", 2, 1, [9, "?"])).resolves.toMatchObject({ kind: "applied", rev: 2 });
  });

  test("several ops in flight: each carries the earlier ones and lands where its author put it", async () => {
    const { t, s, noteId } = await setup("ab");
    const first = [1, "X", 1];
    await submit(t, s, noteId, "a", 1, 0, first);
    await submit(t, s, noteId, "b", 1, 0, [1, "<", 1]);
    // a's second op was made on "aXb" before a saw b's edit; it rides with its first.
    const second = { ...s, noteId, clientId: "a", seq: 2, baseRev: 0, op: [2, "Y", 1], prior: [{ seq: 1, op: first }] };
    await expect(t.mutation(api.ops.submit, second)).resolves.toMatchObject({ kind: "applied", rev: 3 });
    expect((await snapshot(t, noteId)).body?.text).toBe("aXY<b");

    // Made on top of an edit that never reached the server: the author must reload.
    const orphan = { ...s, noteId, clientId: "c", seq: 2, baseRev: 3, op: [6, "!"], prior: [{ seq: 1, op: [5, "?"] }] };
    await expect(t.mutation(api.ops.submit, orphan)).resolves.toEqual({ kind: "stale", head: 3 });
    // A prior that does not match what the server stored under its (clientId, seq) means
    // another writer used this id: refused as SEQ_REUSED, and nothing is written.
    const before = await snapshot(t, noteId);
    const forged = { ...s, noteId, clientId: "a", seq: 3, baseRev: 0, op: [2, "Z", 1], prior: [{ seq: 1, op: [1, "Q", 1] }] };
    expect(await expectError(t.mutation(api.ops.submit, forged), "SEQ_REUSED")).toMatch(/another writer used this client id/);
    expect(await snapshot(t, noteId)).toEqual(before);
  });

  test("an op too large, and an op making the note too large, are TOO_LARGE and write nothing", async () => {
    const { t, s, noteId } = await setup("");
    await expectError(submit(t, s, noteId, "a", 1, 0, ["x".repeat(MAX_OP_BYTES + 1)]), "TOO_LARGE");
    const big = "y".repeat(MAX_NOTE_BYTES - 10);
    await expect(submit(t, s, noteId, "a", 1, 0, [big])).resolves.toMatchObject({ rev: 1 });
    const before = await snapshot(t, noteId);
    // 11 more bytes (5 two-byte letters and one ASCII) pass the limit.
    const message = await expectError(submit(t, s, noteId, "a", 2, 1, [big.length, "ééééé!"]), "TOO_LARGE");
    expect(message).toMatch(/1000001/);
    expect(await snapshot(t, noteId)).toEqual(before);
    await expect(submit(t, s, noteId, "a", 2, 1, [big.length, "ééééé"])).resolves.toMatchObject({ rev: 2 });
  });

  test("a base rev older than the transform window is answered with stale, not applied", async () => {
    const { t, s, noteId } = await setup("");
    const text = await seedOps(t, noteId, TRANSFORM_WINDOW + 1);
    const head = TRANSFORM_WINDOW + 1;
    const before = await snapshot(t, noteId);
    await expect(submit(t, s, noteId, "late", 1, 0, ["old"])).resolves.toEqual({ kind: "stale", head });
    expect(await snapshot(t, noteId)).toEqual(before);
    // Exactly at the window's edge it is still transformed.
    const r = await submit(t, s, noteId, "late", 1, 1, ["<", 1]);
    expect(r).toMatchObject({ kind: "applied", rev: head + 1 });
    const after = await snapshot(t, noteId);
    expect(after.body?.text).toBe("<" + text);
  });

  test("a base with more than TRANSFORM_BYTES of ops after it is answered with stale, not applied", async () => {
    const { t, s, noteId } = await setup("");
    // Pastes put in and taken out again: few revisions, but heavy ones.
    const paste = "x".repeat(300_000);
    let rev = 0;
    while (rev * (3 * paste.length) < 2 * TRANSFORM_BYTES) {
      await submit(t, s, noteId, "paster", rev, rev, [paste]);
      await submit(t, s, noteId, "paster", rev + 1, rev + 1, [-paste.length]);
      rev += 2;
    }
    const before = await snapshot(t, noteId);
    await expect(submit(t, s, noteId, "late", 1, 0, ["old"])).resolves.toEqual({ kind: "stale", head: rev });
    expect(await snapshot(t, noteId)).toEqual(before);
    await expect(submit(t, s, noteId, "late", 1, rev, ["new"])).resolves.toMatchObject({ kind: "applied", rev: rev + 1 });
  });

  test("bad revisions and client ids are INVALID_ARGUMENT", async () => {
    const { t, s, noteId } = await setup("a");
    await expectError(submit(t, s, noteId, "a", 1, 1, [1]), "INVALID_ARGUMENT"); // ahead of head
    await expectError(submit(t, s, noteId, "a", 1, -1, [1]), "INVALID_ARGUMENT");
    await expectError(submit(t, s, noteId, "a", 0.5, 0, [1]), "INVALID_ARGUMENT");
    await expectError(submit(t, s, noteId, "", 1, 0, [1]), "INVALID_ARGUMENT");
    await expectError(submit(t, s, noteId, "c".repeat(65), 1, 0, [1]), "INVALID_ARGUMENT");
    expect((await snapshot(t, noteId)).ops).toEqual([]);
  });
});

describe("ops:since", () => {
  test("returns the ops after a rev, and nothing when up to date", async () => {
    const { t, s, noteId } = await setup("ab");
    await submit(t, s, noteId, "alice", 1, 0, ["1", 2]);
    await submit(t, s, noteId, "bob", 4, 1, [3, "2"]);
    const all = await t.query(api.ops.since, { ...s, noteId, afterRev: 0 });
    expect(all).toEqual({
      kind: "ops",
      head: 2,
      ops: [
        { rev: 1, clientId: "alice", seq: 1, op: ["1", 2] },
        { rev: 2, clientId: "bob", seq: 4, op: [3, "2"] },
      ],
    });
    const tail = await t.query(api.ops.since, { ...s, noteId, afterRev: 1 });
    expect(tail.kind === "ops" && tail.ops.map((o) => o.rev)).toEqual([2]);
    await expect(t.query(api.ops.since, { ...s, noteId, afterRev: 2 })).resolves.toEqual({ kind: "ops", ops: [], head: 2 });
    await expectError(t.query(api.ops.since, { ...s, noteId, afterRev: 3 }), "INVALID_ARGUMENT");
  });

  test("a new note has head 0 and no ops", async () => {
    const { t, s, noteId } = await setup("text");
    await expect(t.query(api.ops.since, { ...s, noteId, afterRev: 0 })).resolves.toEqual({ kind: "ops", ops: [], head: 0 });
  });

  test("batches are bounded; a client catches up batch by batch to the same text", async () => {
    const { t, s, noteId } = await setup("");
    const count = SINCE_BATCH + 44;
    const text = await seedOps(t, noteId, count);
    let local = "";
    let rev = 0;
    let batches = 0;
    for (;;) {
      const r = await t.query(api.ops.since, { ...s, noteId, afterRev: rev });
      if (r.kind !== "ops") throw new Error("unexpected reload");
      // The newest revision the page saw: the one after a page cut short, else the head.
      expect(r.head).toBe(Math.min(rev + SINCE_BATCH + 1, count));
      if (r.ops.length === 0) break;
      batches += 1;
      expect(r.ops.length).toBeLessThanOrEqual(SINCE_BATCH);
      for (const o of r.ops) {
        expect(o.rev).toBe(rev + 1);
        local = apply(local, o.op);
        expect(checksum(local)).toBe(o.checksum);
        rev = o.rev;
      }
    }
    expect(batches).toBe(2);
    expect(local).toBe(text);
  });

  test("a batch stops early when its ops are large (byte budget), and the rest follows", async () => {
    const { t, s, noteId } = await setup("");
    const size = 400_000;
    let text = "";
    // Eight ops that each replace the whole text with 400 KB of a new letter: 3.2 MB of ops
    // in all, while the note itself stays under its limit.
    for (let i = 0; i < 8; i++) {
      const next = String.fromCharCode(97 + i).repeat(size);
      await submit(t, s, noteId, "a", i + 1, i, text === "" ? [next] : [next, -text.length]);
      text = next;
    }
    const first = await t.query(api.ops.since, { ...s, noteId, afterRev: 0 });
    if (first.kind !== "ops") throw new Error("expected ops");
    // 2 MiB budget: the op that crosses it is the last one in the batch.
    expect(first.ops.length).toBe(6);
    const rest = await t.query(api.ops.since, { ...s, noteId, afterRev: 6 });
    expect(rest.kind === "ops" && rest.ops.map((o) => o.rev)).toEqual([7, 8]);
  });

  test("far behind is still answered op by op; compacted ops answer reload", async () => {
    const { t, s, noteId } = await setup("");
    await seedOps(t, noteId, TRANSFORM_WINDOW + 1);
    const r = await t.query(api.ops.since, { ...s, noteId, afterRev: 0 });
    expect(r.kind === "ops" && r.ops.length).toBe(SINCE_BATCH);
    await compactBody(t, noteId, 1);
    await expect(t.query(api.ops.since, { ...s, noteId, afterRev: 0 })).resolves.toEqual({ kind: "reload", head: TRANSFORM_WINDOW + 1 });
    const rest = await t.query(api.ops.since, { ...s, noteId, afterRev: 1 });
    expect(rest.kind === "ops" && rest.ops[0]?.rev).toBe(2);
  });
});

describe("ops:range", () => {
  test("returns the ops in (afterRev, throughRev] that exist so far, and nothing beyond the head", async () => {
    const { t, s, noteId } = await setup("");
    await seedOps(t, noteId, 5);
    const range = (afterRev: number, throughRev: number) => t.query(api.ops.range, { ...s, noteId, afterRev, throughRev });
    const revs = async (afterRev: number, throughRev: number) => {
      const r = await range(afterRev, throughRev);
      return r.kind === "ops" ? r.ops.map((o) => o.rev) : r.kind;
    };
    expect(await revs(0, 2)).toEqual([1, 2]);
    expect(await revs(2, 8)).toEqual([3, 4, 5]);
    expect(await revs(8, 16)).toEqual([]);
    await expect(range(0, 1)).resolves.toEqual({ kind: "ops", ops: [expect.objectContaining({ rev: 1, clientId: "seed", seq: 0, op: ["x"] })] });
  });

  test("a range out of bounds is INVALID_ARGUMENT", async () => {
    const { t, s, noteId } = await setup("");
    for (const [afterRev, throughRev] of [[2, 2], [3, 1], [-1, 1], [0.5, 2], [0, MAX_RANGE_REVS + 1]] as const) {
      await expectError(t.query(api.ops.range, { ...s, noteId, afterRev, throughRev }), "INVALID_ARGUMENT");
    }
    await expect(t.query(api.ops.range, { ...s, noteId, afterRev: 0, throughRev: MAX_RANGE_REVS })).resolves.toEqual({ kind: "ops", ops: [] });
    // The largest block a client watches now, and one of an earlier client (32 revisions).
    for (const throughRev of [FAR_BLOCK, 32]) {
      await expect(t.query(api.ops.range, { ...s, noteId, afterRev: 0, throughRev })).resolves.toEqual({ kind: "ops", ops: [] });
    }
  });

  test("compacted ops, or more than RANGE_BYTES of them, answer reload", async () => {
    const { t, s, noteId } = await setup("");
    const size = 950_000;
    let text = "";
    const count = Math.ceil(RANGE_BYTES / size) + 1;
    for (let i = 0; i < count; i++) {
      const next = String.fromCharCode(97 + i).repeat(size);
      await submit(t, s, noteId, "a", i + 1, i, text === "" ? [next] : [next, -text.length]);
      text = next;
    }
    await expect(t.query(api.ops.range, { ...s, noteId, afterRev: 0, throughRev: count })).resolves.toEqual({ kind: "reload" });
    const few = await t.query(api.ops.range, { ...s, noteId, afterRev: 0, throughRev: 2 });
    expect(few.kind === "ops" && few.ops.map((o) => o.rev)).toEqual([1, 2]);
    await compactBody(t, noteId, 2);
    await expect(t.query(api.ops.range, { ...s, noteId, afterRev: 0, throughRev: 2 })).resolves.toEqual({ kind: "reload" });
  });
});
