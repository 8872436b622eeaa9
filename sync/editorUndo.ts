/**
 * Undo and redo of one user's own edits in a shared text. The editor pipeline
 * (editorPipeline.ts) feeds it every op in the order the note session sees them.
 *
 * Each stack is a chain, as in a single-user editor: its top is an op against the current
 * text, and every entry below it is against the text the entries above it produce. So
 * undoing a step needs nothing from the steps below, and a step that re-inserts our text
 * (undoing our own deletion) leaves it ours for the steps below it to remove. A teammate's
 * op moves down each chain: every entry is transformed past it, and it past the entry,
 * so undoing later removes exactly what we typed, wherever teammates' edits have moved
 * it, and never touches their text.
 */
import { compose, invert, isNoop, transform, type TextOp } from "./textOp";

export type EditKind = "edit" | "undo" | "redo";

/** Keystrokes closer together than this form one undo step. */
export const GROUP_WINDOW_MS = 1000;

export class UndoHistory {
  private undoStack: TextOp[] = [];
  private redoStack: TextOp[] = [];
  /** A step taken off its stack to be applied; it moves with the text as that stack's top. */
  private taken: { readonly kind: "undo" | "redo"; op: TextOp } | undefined;
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

  /**
   * Our own op, against `before` (the text just before it). For "undo" and "redo" it is
   * the step taken with takeUndo/takeRedo, as it reached the text.
   */
  local(op: TextOp, before: string, kind: EditKind = "edit"): void {
    if (kind !== "edit") this.taken = undefined;
    if (isNoop(op)) return;
    const inverse = invert(op, before);
    if (kind !== "edit") {
      (kind === "undo" ? this.redoStack : this.undoStack).push(inverse);
      this.closeGroup();
      return;
    }
    const at = this.now();
    const top = this.undoStack.pop();
    if (this.groupOpen && top !== undefined && at - this.lastEditAt < GROUP_WINDOW_MS) {
      // `top` is against the text before `op`: undoing the group undoes `op`, then the rest.
      this.undoStack.push(compose(inverse, top));
    } else {
      if (top !== undefined) this.undoStack.push(top);
      this.undoStack.push(inverse);
      if (this.undoStack.length > this.limit) this.undoStack.shift();
    }
    this.redoStack = [];
    this.groupOpen = true;
    this.lastEditAt = at;
  }

  /** A teammate's op (or any op not ours to undo): our entries move past it. */
  remote(op: TextOp): void {
    if (isNoop(op)) return;
    let forUndo = op;
    let forRedo = op;
    if (this.taken) {
      const [moved, past] = transform(this.taken.op, op, false);
      this.taken.op = moved;
      if (this.taken.kind === "undo") forUndo = past;
      else forRedo = past;
    }
    this.undoStack = moveChain(this.undoStack, forUndo);
    this.redoStack = moveChain(this.redoStack, forRedo);
  }

  /** Ends the typing group, e.g. when the caret jumps elsewhere. */
  closeGroup(): void {
    this.groupOpen = false;
  }

  /** The op that undoes our latest step, against the current text; it is out until local() or restore(). */
  takeUndo(): TextOp | undefined {
    return this.take("undo");
  }

  takeRedo(): TextOp | undefined {
    return this.take("redo");
  }

  /** Puts the step taken back when applying it failed before it reached the text. */
  restore(): void {
    const taken = this.taken;
    this.taken = undefined;
    // What the user types next is a step of its own, not part of the restored one.
    this.closeGroup();
    if (taken && !isNoop(taken.op)) (taken.kind === "undo" ? this.undoStack : this.redoStack).push(taken.op);
  }

  /** Forgets the step taken (its outcome is unknown). */
  dropTaken(): void {
    this.taken = undefined;
  }

  clear(): void {
    this.undoStack = [];
    this.redoStack = [];
    this.taken = undefined;
    this.closeGroup();
  }

  private take(kind: "undo" | "redo"): TextOp | undefined {
    this.closeGroup();
    if (this.taken) return undefined;
    const op = (kind === "undo" ? this.undoStack : this.redoStack).pop();
    if (op !== undefined) this.taken = { kind, op };
    return op;
  }
}

/**
 * Moves a chain past an op made on the current text: from the top down, each entry past
 * the op, and the op past the entry for the one below. The later op keeps its place: what
 * we undo or redo goes after text typed there since. Entries left empty are dropped.
 */
function moveChain(stack: readonly TextOp[], op: TextOp): TextOp[] {
  const out: TextOp[] = [];
  let past = op;
  for (let i = stack.length - 1; i >= 0; i--) {
    const [entry, next] = transform(stack[i]!, past, false);
    past = next;
    if (!isNoop(entry)) out.push(entry);
  }
  return out.reverse();
}
