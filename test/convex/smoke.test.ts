import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { backend, newSpace } from "./helpers";

describe("smoke", () => {
  test("create space, note, submit, open", async () => {
    const t = backend();
    const s = await newSpace(t);
    const noteId = await t.mutation(api.notes.create, { ...s, title: "a", text: "hello" });
    const r = await t.mutation(api.ops.submit, { ...s, noteId, clientId: "c1", seq: 1, baseRev: 0, op: [5, " world"] });
    expect(r.kind).toBe("applied");
    const o = await t.query(api.notes.open, { ...s, noteId });
    expect(o.text).toBe("hello world");
    const since = await t.query(api.ops.since, { ...s, noteId, afterRev: 0 });
    expect(since).toMatchObject({ kind: "ops", head: 1 });
  });
});
