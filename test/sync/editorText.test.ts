import { describe, expect, it } from "vitest";
import { Lines, documentEdits, lineBreakFix, opFromChanges, toWire } from "../../sync/editorText";
import { apply, editsFromOp } from "../../sync/textOp";
import { Random } from "../../harness/random";
import { randomText, seedsToRun, withSeed } from "../../harness/textGen";

const at = (line: number, character: number) => ({ line, character });

describe("editor text: line/character changes and the wire's line ending", () => {
  it("turns one event's changes (all relative to the old text) into one op", () => {
    const before = "a1\na2\na3\n";
    // Multi-cursor typing: three inserts, listed in VS Code's order (last first).
    const changes = [2, 1, 0].map((line) => ({ range: { start: at(line, 0), end: at(line, 0) }, text: "- " }));
    expect(apply(before, opFromChanges(before, changes))).toBe("- a1\n- a2\n- a3\n");
  });

  it("shrinks a whole-document replacement (format document) to what changed", () => {
    const before = "const  x=1;\nconst y = 2;\n";
    const after = "const x = 1;\nconst y = 2;\n";
    const op = opFromChanges(before, [{ range: { start: at(0, 0), end: at(2, 0) }, text: after }]);
    expect(apply(before, op)).toBe(after);
    // The untouched second line is retained, not deleted and re-inserted.
    expect(op[op.length - 1]).toBeGreaterThanOrEqual("\nconst y = 2;\n".length);
  });

  it("an EOL switch of the whole document changes nothing on the wire", () => {
    const before = "a\nb\nc\n";
    const op = opFromChanges(before, [{ range: { start: at(0, 0), end: at(3, 0) }, text: "a\r\nb\r\nc\r\n" }]);
    expect(editsFromOp(op)).toEqual([]);
  });

  it("Enter in a CRLF document reaches the wire as \\n", () => {
    const op = opFromChanges("ab", [{ range: { start: at(0, 1), end: at(0, 1) }, text: "\r\n" }]);
    expect(apply("ab", op)).toBe("a\nb");
  });

  it("never cuts a surrogate pair when trimming", () => {
    const before = "x😀y";
    const op = opFromChanges(before, [{ range: { start: at(0, 0), end: at(0, 4) }, text: "x😃y" }]);
    const [e] = editsFromOp(op);
    expect(before.slice(e!.offset, e!.offset + e!.deleteCount)).toBe("😀");
  });

  it("refuses a change the text does not have, with a clear error", () => {
    expect(() => opFromChanges("ab\ncd", [{ range: { start: at(2, 0), end: at(2, 0) }, text: "x" }])).toThrow(/line 2 is not in the text/);
    expect(() => opFromChanges("ab\ncd", [{ range: { start: at(0, 3), end: at(0, 3) }, text: "x" }])).toThrow(/line 0 has 2 characters/);
  });

  it("lineBreakFix turns CRLF and lone CR into LF, one small edit per break", () => {
    const text = "a\r\nb\rc\nd\r";
    const fix = lineBreakFix(text);
    expect(apply(text, fix)).toBe("a\nb\nc\nd\n");
    expect(editsFromOp(fix)).toHaveLength(3);
    expect(toWire(text)).toBe("a\nb\nc\nd\n");
  });

  it("positions and offsets agree both ways on random texts", () => {
    for (const seed of seedsToRun(200)) {
      withSeed(seed, (rng: Random) => {
        const text = toWire(randomText(rng, 20));
        const lines = new Lines(text);
        for (let offset = 0; offset <= text.length; offset++) {
          const pos = new Lines(text).positionAt(offset);
          expect(text.slice(0, offset).split("\n").length - 1).toBe(pos.line);
          expect(lines.offsetAt(pos)).toBe(offset);
        }
        expect(lines.nearestOffset({ line: 1000, character: 0 })).toBe(text.lastIndexOf("\n") + 1);
        expect(lines.nearestOffset({ line: 0, character: 1000 })).toBe(text.includes("\n") ? text.indexOf("\n") : text.length);
        const edits = [{ offset: 0, deleteCount: text.length, insert: "" }];
        expect(documentEdits(text, edits)[0]!.end).toEqual(lines.positionAt(text.length));
      });
    }
  });
});
