import { describe, expect, it } from "vitest";
import { CaretPolicy } from "../../extension/caretPolicy";
import { OpBuilder, apply, opFromEdits } from "../../sync/textOp";

describe("caret policy", () => {
  it("spells an insert at a caret as a replacement starting there, with the same result", () => {
    const text = "ab😀c";
    const policy = new CaretPolicy();
    for (const at of [0, 1, 2]) {
      const [edit] = policy.keepBefore([{ offset: at, deleteCount: 0, insert: "XY" }], text, [at]);
      expect(edit!.offset).toBe(at);
      expect(edit!.deleteCount).toBe(text.codePointAt(at)! > 0xffff ? 2 : 1);
      expect(apply(text, opFromEdits(text.length, [edit!]))).toBe(text.slice(0, at) + "XY" + text.slice(at));
    }
    // Away from the carets, and at the very end (no next character), inserts stay as they are.
    expect(policy.keepBefore([{ offset: 1, deleteCount: 0, insert: "X" }], text, [0])).toEqual([{ offset: 1, deleteCount: 0, insert: "X" }]);
    expect(policy.keepBefore([{ offset: 5, deleteCount: 0, insert: "X" }], text, [5])).toEqual([{ offset: 5, deleteCount: 0, insert: "X" }]);
  });

  it("holds a teammate's insert at the end of the note only while the user types there", () => {
    const policy = new CaretPolicy();
    const atEnd = new OpBuilder().retain(3).insert("Z").build();
    const inMiddle = new OpBuilder().retain(1).insert("Z").retain(2).build();
    expect(policy.holdFor(atEnd, "abc", [3])).toBe(0);
    policy.typed(1, "abc");
    expect(policy.holdFor(atEnd, "abc", [3])).toBeGreaterThan(0);
    expect(policy.holdFor(atEnd, "abc", [1])).toBe(0);
    expect(policy.holdFor(inMiddle, "abc", [3])).toBe(0);
  });

  it("trusts the caret the user's last key left when the editor's carets lag behind it", () => {
    const policy = new CaretPolicy();
    const atEnd = new OpBuilder().retain(3).insert("Z").build();
    // The key made "abc" with the caret at the end; VS Code still reports the caret before it.
    policy.typed(3, "abc");
    expect(policy.holdFor(atEnd, "abc", [2])).toBeGreaterThan(0);
    // In the middle: the insert at the user's caret is spelled so the caret stays before it.
    policy.typed(1, "abc");
    expect(policy.keepBefore([{ offset: 1, deleteCount: 0, insert: "Z" }], "abc", [0])).toEqual([{ offset: 1, deleteCount: 1, insert: "Zb" }]);
    // Once the text has changed since the key, only the editor's carets count.
    expect(policy.keepBefore([{ offset: 1, deleteCount: 0, insert: "Z" }], "aXbc", [0])).toEqual([{ offset: 1, deleteCount: 0, insert: "Z" }]);
  });
});
