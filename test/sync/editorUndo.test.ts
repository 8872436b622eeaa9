import { describe, expect, it } from "vitest";
import { OpBuilder, apply, type TextOp } from "../../sync/textOp";
import { UndoHistory } from "../../sync/editorUndo";

const ins = (len: number, at: number, s: string): TextOp => new OpBuilder().retain(at).insert(s).retain(len - at).build();
const del = (len: number, at: number, n: number): TextOp => new OpBuilder().retain(at).delete(n).retain(len - at - n).build();

/** A tiny document: local and remote ops applied in order, with the history fed like the extension does. */
function doc(initial: string, clock: { t: number }) {
  let text = initial;
  const h = new UndoHistory(() => clock.t);
  return {
    get text() {
      return text;
    },
    h,
    local(op: TextOp) {
      h.local(op, text);
      text = apply(text, op);
    },
    remote(op: TextOp) {
      h.remote(op);
      text = apply(text, op);
    },
    undo() {
      const op = h.takeUndo();
      if (!op) return false;
      h.local(op, text, "undo");
      text = apply(text, op);
      return true;
    },
    redo() {
      const op = h.takeRedo();
      if (!op) return false;
      h.local(op, text, "redo");
      text = apply(text, op);
      return true;
    },
  };
}

describe("UndoHistory", () => {
  it("undoes only our edit after a teammate's later edit, and redoes it", () => {
    const clock = { t: 0 };
    const d = doc("note: ", clock);
    d.local(ins(6, 6, "mine"));
    d.remote(ins(10, 0, "THEIRS "));
    expect(d.undo()).toBe(true);
    expect(d.text).toBe("THEIRS note: ");
    expect(d.redo()).toBe(true);
    expect(d.text).toBe("THEIRS note: mine");
  });

  it("groups a typing burst and splits bursts apart in time", () => {
    const clock = { t: 0 };
    const d = doc("", clock);
    for (const [i, ch] of [..."one"].entries()) d.local(ins(i, i, ch));
    clock.t += 2000;
    for (const [i, ch] of [..." two"].entries()) d.local(ins(3 + i, 3 + i, ch));
    d.remote(ins(7, 7, "!"));
    d.undo();
    expect(d.text).toBe("one!");
    d.undo();
    expect(d.text).toBe("!");
    expect(d.undo()).toBe(false);
  });

  it("undoing a delete restores the text even when a teammate typed around it", () => {
    const clock = { t: 0 };
    const d = doc("keep DELETE keep", clock);
    d.local(del(16, 5, 7));
    expect(d.text).toBe("keep keep");
    d.remote(ins(9, 0, ">> "));
    d.remote(ins(12, 12, " <<"));
    d.undo();
    expect(d.text).toBe(">> keep DELETE keep <<");
  });

  it("a new edit clears redo", () => {
    const clock = { t: 0 };
    const d = doc("", clock);
    d.local(ins(0, 0, "a"));
    d.undo();
    clock.t += 5000;
    d.local(ins(0, 0, "b"));
    expect(d.redo()).toBe(false);
    expect(d.text).toBe("b");
  });

  it("text restored by undoing our own deletion stays ours: the next undo removes it", () => {
    const clock = { t: 0 };
    const d = doc("", clock);
    d.local(ins(0, 0, "e\nf"));
    clock.t += 5000;
    d.local(del(3, 2, 1));
    d.remote(ins(2, 0, "X"));
    expect(d.undo()).toBe(true);
    expect(d.text).toBe("Xe\nf");
    expect(d.undo()).toBe(true);
    expect(d.text).toBe("X");
  });
});
