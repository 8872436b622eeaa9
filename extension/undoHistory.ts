/**
 * Undo and redo of one user's own edits in a shared text. Pure: the `vscode` side
 * (undo.ts) feeds it every op in the order the note session sees them.
 *
 * Every entry is an op against the current text. When any later op lands (ours or a
 * teammate's), each entry is transformed past it, so undoing later removes exactly what
 * we typed, wherever teammates' edits have moved it, and never touches their text.
 */
import { compose, invert, isNoop, transform, type TextOp } from "../sync/textOp";

export type EditKind = "edit" | "undo" | "redo";

/** Keystrokes closer together than this form one undo step. */
export const GROUP_WINDOW_MS = 1000;

export class UndoHistory {
  private undoStack: TextOp[] = [];
  private redoStack: TextOp[] = [];
  private lastEditAt = -Infinity;
  private groupOpen = false;

  constructor(
    private readonly now: () => number = Date.now,
    private readonly limit = 500,
  ) {}

  get canUndo(): boolean {
    return this.undoStack.length > 0;
  }

  get canRedo(): boolean {
    return this.redoStack.length > 0;
  }

  /** Our own op, against `before` (the text just before it). */
  local(op: TextOp, before: string, kind: EditKind = "edit"): void {
    if (isNoop(op)) return;
    const inverse = invert(op, before);
    this.transformStack(this.redoStack, op);
    if (kind === "undo") {
      this.transformStack(this.undoStack, op);
      this.redoStack.push(inverse);
      this.closeGroup();
      return;
    }
    const at = this.now();
    const top = this.undoStack.pop();
    this.transformStack(this.undoStack, op);
    if (kind === "edit" && this.groupOpen && top !== undefined && at - this.lastEditAt < GROUP_WINDOW_MS) {
      // `top` is against the text before `op`: undoing the group undoes `op`, then the rest.
      this.undoStack.push(compose(inverse, top));
    } else {
      if (top !== undefined) {
        const moved = transform(top, op, false)[0];
        if (!isNoop(moved)) this.undoStack.push(moved);
      }
      this.undoStack.push(inverse);
      if (this.undoStack.length > this.limit) this.undoStack.shift();
    }
    if (kind === "edit") {
      this.redoStack = [];
      this.groupOpen = true;
      this.lastEditAt = at;
    } else {
      this.closeGroup();
    }
  }

  /** A teammate's op: our entries move past it (a typing group stays open across it). */
  remote(op: TextOp): void {
    if (isNoop(op)) return;
    this.transformStack(this.undoStack, op);
    this.transformStack(this.redoStack, op);
  }

  /** Ends the typing group, e.g. when the caret jumps elsewhere. */
  closeGroup(): void {
    this.groupOpen = false;
  }

  /** The op that undoes our latest step, against the current text; it leaves the stack. */
  takeUndo(): TextOp | undefined {
    this.closeGroup();
    return this.undoStack.pop();
  }

  takeRedo(): TextOp | undefined {
    this.closeGroup();
    return this.redoStack.pop();
  }

  /** Puts an entry back when applying it failed before it reached the text. */
  restore(kind: "undo" | "redo", op: TextOp): void {
    (kind === "undo" ? this.undoStack : this.redoStack).push(op);
    // What the user types next is a step of its own, not part of the restored one.
    this.closeGroup();
  }

  clear(): void {
    this.undoStack = [];
    this.redoStack = [];
    this.closeGroup();
  }

  private transformStack(stack: TextOp[], op: TextOp): void {
    for (let i = 0; i < stack.length; i++) {
      // The later op keeps its place: what we undo or redo goes after text typed there since.
      stack[i] = transform(stack[i]!, op, false)[0];
    }
    for (let i = stack.length - 1; i >= 0; i--) if (isNoop(stack[i]!)) stack.splice(i, 1);
  }
}
