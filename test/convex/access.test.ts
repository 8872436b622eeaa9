import { createHash } from "node:crypto";
import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { hashKey, sameDigest } from "../../convex/access";
import { backend, expectError, newKey, newSpace, type Backend } from "./helpers";

/** Every public function that takes a space, called with the given credentials. */
function everyCall(t: Backend, spaceId: string, key: string, noteId: string): (() => Promise<unknown>)[] {
  const c = { spaceId, key };
  const n = { ...c, noteId };
  const op = { ...n, clientId: "c", seq: 1, baseRev: 0, op: ["x"] };
  const presence = { ...n, clientId: "c", name: "Ann", color: "#112233", rev: 0, selections: [] };
  return [
    () => t.query(api.spaces.verify, c),
    () => t.query(api.spaces.describe, c),
    () => t.query(api.notes.list, c),
    () => t.query(api.notes.find, { ...c, title: "secret" }),
    () => t.mutation(api.notes.create, { ...c, title: "new" }),
    () => t.mutation(api.notes.rename, { ...n, title: "renamed" }),
    () => t.mutation(api.notes.remove, n),
    () => t.query(api.notes.open, n),
    () => t.mutation(api.ops.submit, op),
    () => t.query(api.ops.since, { ...n, afterRev: 0 }),
    () => t.mutation(api.presence.update, presence),
    () => t.query(api.presence.list, n),
    () => t.mutation(api.presence.leave, { ...n, clientId: "c" }),
  ];
}

describe("spaces and keys", () => {
  test("create stores only the key's hash, and verify accepts the key", async () => {
    const t = backend();
    const s = await newSpace(t);
    await expect(t.query(api.spaces.verify, s)).resolves.toBeNull();
    const row = await t.run((ctx) => ctx.db.get("spaces", s.spaceId));
    expect(row?.keyHash).toBe(await hashKey(s.key));
    expect(JSON.stringify(row)).not.toContain(s.key);
  });

  test("a key's hash is its SHA-256, the first time, again, and after hundreds of other keys", async () => {
    const sha256 = (key: string) => createHash("sha256").update(key).digest("hex");
    const key = newKey();
    expect(await hashKey(key)).toBe(sha256(key));
    expect(await hashKey(key)).toBe(sha256(key));
    const others = Array.from({ length: 600 }, () => newKey());
    for (const other of others) expect(await hashKey(other)).toBe(sha256(other));
    expect(await hashKey(key)).toBe(sha256(key));
    expect(await hashKey(others[599]!)).toBe(sha256(others[599]!));
  });

  test("create refuses keys that are not 32+ random bytes in base64url", async () => {
    const t = backend();
    for (const key of ["", "short", "x".repeat(42), "a".repeat(42) + "=", "é".repeat(50), "a".repeat(129)]) {
      await expectError(t.mutation(api.spaces.create, { key }), "INVALID_ARGUMENT");
    }
    const count = await t.run(async (ctx) => (await ctx.db.query("spaces").take(10)).length);
    expect(count).toBe(0);
  });

  test("wrong key, missing key, unknown space, malformed id: one ACCESS_DENIED, same words, for every function", async () => {
    const t = backend();
    const s = await newSpace(t);
    const noteId = await t.mutation(api.notes.create, { ...s, title: "secret", text: "hidden" });
    const gone = await newSpace(t);
    await t.run((ctx) => ctx.db.delete("spaces", gone.spaceId));

    const messages = new Set<string>();
    const cases: [string, string][] = [
      [s.spaceId, newKey()], // wrong key
      [s.spaceId, ""], // missing key
      [s.spaceId, s.key.slice(1)], // almost the key
      [gone.spaceId, gone.key], // unknown space, its own (once valid) key
      ["not-an-id", s.key], // malformed space id
      [noteId, s.key], // an id of another table
    ];
    for (const [spaceId, key] of cases) {
      for (const call of everyCall(t, spaceId, key, noteId)) messages.add(await expectError(call(), "ACCESS_DENIED"));
    }
    expect(messages.size).toBe(1);
    // Nothing was written by any refused call.
    const note = await t.query(api.notes.open, { ...s, noteId });
    expect(note).toMatchObject({ title: "secret", text: "hidden", rev: 0 });
    const notes = await t.query(api.notes.list, s);
    expect(notes.map((n) => n.title)).toEqual(["secret"]);
  });

  test("a note of another space, a deleted note and a malformed note id are NOT_FOUND (only with a good key)", async () => {
    const t = backend();
    const a = await newSpace(t);
    const b = await newSpace(t);
    const inB = await t.mutation(api.notes.create, { ...b, title: "b's note", text: "b" });
    const removed = await t.mutation(api.notes.create, { ...a, title: "gone" });
    await t.mutation(api.notes.remove, { ...a, noteId: removed });

    for (const noteId of [inB, removed, "nonsense", a.spaceId]) {
      const calls = everyCall(t, a.spaceId, a.key, noteId).slice(5); // the note functions
      for (const call of calls) await expectError(call(), "NOT_FOUND");
    }
    // b's note is untouched.
    await expect(t.query(api.notes.open, { ...b, noteId: inB })).resolves.toMatchObject({ text: "b", rev: 0 });
  });

  test("sameDigest compares whole strings", () => {
    expect(sameDigest("abcd", "abcd")).toBe(true);
    expect(sameDigest("abcd", "abce")).toBe(false);
    expect(sameDigest("abcd", "abc")).toBe(false);
    expect(sameDigest("", "")).toBe(true);
  });
});
