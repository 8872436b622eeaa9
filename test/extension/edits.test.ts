import { describe, expect, it } from "vitest";
import { apply } from "../../sync/textOp";
import { diffOp, minimizeEdit, opFromChanges } from "../../extension/edits";

describe("opFromChanges", () => {
  it("turns one event's changes (all relative to the old text) into one op", () => {
    const before = "a1\na2\na3\n";
    // Multi-cursor typing: three inserts, listed in VS Code's order (last first).
    const changes = [
      { rangeOffset: 6, rangeLength: 0, text: "- " },
      { rangeOffset: 3, rangeLength: 0, text: "- " },
      { rangeOffset: 0, rangeLength: 0, text: "- " },
    ];
    expect(apply(before, opFromChanges(before, changes))).toBe("- a1\n- a2\n- a3\n");
  });

  it("shrinks a whole-document replacement (format document) to what changed", () => {
    const before = "const  x=1;\nconst y = 2;\n";
    const after = "const x = 1;\nconst y = 2;\n";
    const op = opFromChanges(before, [{ rangeOffset: 0, rangeLength: before.length, text: after }]);
    expect(apply(before, op)).toBe(after);
    // The untouched second line is retained, not deleted and re-inserted.
    expect(op[op.length - 1]).toBeGreaterThanOrEqual("\nconst y = 2;\n".length);
  });

  it("turns an EOL switch into one small edit per line break", () => {
    const before = "a\nb\nc\n";
    const after = "a\r\nb\r\nc\r\n";
    const op = opFromChanges(before, [{ rangeOffset: 0, rangeLength: before.length, text: after }]);
    expect(apply(before, op)).toBe(after);
    expect(op.filter((c) => typeof c === "string")).toEqual(["\r", "\r", "\r"]);
    expect(apply(after, diffOp(after, before))).toBe(before);
  });

  it("never cuts a surrogate pair or a CRLF when trimming", () => {
    const before = "x😀y";
    const edits = minimizeEdit(before, { offset: 0, deleteCount: before.length, insert: "x😃y" });
    expect(edits).toHaveLength(1);
    const e = edits[0]!;
    expect(before.slice(e.offset, e.offset + e.deleteCount)).toBe("😀");
    const crlf = minimizeEdit("a\r\nb", { offset: 0, deleteCount: 4, insert: "a\r\r\nb" });
    for (const edit of crlf) expect([0, 1, 3, 4]).toContain(edit.offset);
  });

  it("drops a replacement with identical text", () => {
    expect(minimizeEdit("same", { offset: 0, deleteCount: 4, insert: "same" })).toEqual([]);
  });
});
