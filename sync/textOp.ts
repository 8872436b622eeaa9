/**
 * Text operations over UTF-16 code units (what JS strings and VS Code offsets count).
 *
 * An operation walks the whole text from start to end, one component at a time:
 *   n > 0   keep the next n code units
 *   n < 0   delete the next -n code units
 *   "s"     insert s here
 * Spanning the whole text means an op carries the length it expects, so an op meant for
 * another version of the text is caught instead of landing at a wrong place.
 *
 * Normal form (kept by `OpBuilder`, required of every op that arrives): no zero counts or
 * empty strings, neighbours of one kind merged, and an insert placed before a delete where
 * the two touch, so that every edit has exactly one spelling.
 */

export type Component = number | string;
export type TextOp = readonly Component[];

/** Thrown when an op does not fit the text or the other op it is combined with. */
export class OpError extends Error {
  override name = "OpError";
}

/** Appends components while keeping the op normalised. */
export class OpBuilder {
  private readonly parts: Component[] = [];

  retain(n: number): this {
    if (n <= 0) return this;
    const last = this.parts.length - 1;
    const tail = this.parts[last];
    if (typeof tail === "number" && tail > 0) this.parts[last] = tail + n;
    else this.parts.push(n);
    return this;
  }

  insert(s: string): this {
    if (s === "") return this;
    const parts = this.parts;
    const last = parts.length - 1;
    const tail = parts[last];
    if (typeof tail === "string") {
      parts[last] = tail + s;
    } else if (typeof tail === "number" && tail < 0) {
      // Insert-then-delete and delete-then-insert mean the same edit: keep one spelling.
      const before = parts[last - 1];
      if (typeof before === "string") parts[last - 1] = before + s;
      else parts.splice(last, 0, s);
    } else {
      parts.push(s);
    }
    return this;
  }

  delete(n: number): this {
    if (n <= 0) return this;
    const last = this.parts.length - 1;
    const tail = this.parts[last];
    if (typeof tail === "number" && tail < 0) this.parts[last] = tail - n;
    else this.parts.push(-n);
    return this;
  }

  build(): TextOp {
    return this.parts.slice();
  }
}

/** Length of the text an op applies to. */
export function baseLength(op: TextOp): number {
  let n = 0;
  for (const c of op) if (typeof c === "number") n += Math.abs(c);
  return n;
}

/** Length of the text an op produces. */
export function targetLength(op: TextOp): number {
  let n = 0;
  for (const c of op) {
    if (typeof c === "string") n += c.length;
    else if (c > 0) n += c;
  }
  return n;
}

/** True when applying the op changes nothing. */
export function isNoop(op: TextOp): boolean {
  return op.every((c) => typeof c === "number" && c > 0);
}

/** All the text the op inserts, in order. */
export function insertedText(op: TextOp): string {
  return op.filter((c): c is string => typeof c === "string").join("");
}

/** The op that keeps a text of `length` code units unchanged. */
export function identity(length: number): TextOp {
  return new OpBuilder().retain(length).build();
}

/** Rebuilds an op in normal form. Assumes its components are individually valid. */
export function normalize(op: TextOp): TextOp {
  const b = new OpBuilder();
  for (const c of op) {
    if (typeof c === "string") b.insert(c);
    else if (c > 0) b.retain(c);
    else b.delete(-c);
  }
  return b.build();
}

export function apply(text: string, op: TextOp): string {
  const expected = baseLength(op);
  if (expected !== text.length) {
    throw new OpError(`the op spans ${expected} code units but the text has ${text.length}`);
  }
  const out: string[] = [];
  let at = 0;
  for (const c of op) {
    if (typeof c === "string") {
      out.push(c);
    } else if (c > 0) {
      out.push(text.slice(at, at + c));
      at += c;
    } else {
      at -= c;
    }
  }
  return out.join("");
}

/**
 * The op that undoes `op`, given the text `op` was applied to (a string, or any text that
 * can hand out a slice, such as a TextDoc: only the deleted parts are read).
 */
export function invert(op: TextOp, before: { slice(from: number, to: number): string }): TextOp {
  const b = new OpBuilder();
  let at = 0;
  for (const c of op) {
    if (typeof c === "string") {
      b.delete(c.length);
    } else if (c > 0) {
      b.retain(c);
      at += c;
    } else {
      b.insert(before.slice(at, at - c));
      at -= c;
    }
  }
  return b.build();
}

/**
 * Reads an op component by component, handing out parts of a component when the other
 * op's component is shorter. Keeps compose and transform to one case per pair of kinds.
 */
class Reader {
  private index = 0;
  private offset = 0;
  /** The current component (undefined at the end) and the code units of it not yet taken. */
  private head: Component | undefined;
  remaining = 0;

  constructor(private readonly op: TextOp) {
    this.enter();
  }

  get done(): boolean {
    return this.head === undefined;
  }

  get isInsert(): boolean {
    return typeof this.head === "string";
  }

  get isRetain(): boolean {
    const h = this.head;
    return typeof h === "number" && h > 0;
  }

  get isDelete(): boolean {
    const h = this.head;
    return typeof h === "number" && h < 0;
  }

  /** Takes up to n code units of the current insert. */
  takeText(n: number): string {
    const h = this.head as string;
    const s = this.offset === 0 && n >= h.length ? h : h.slice(this.offset, this.offset + n);
    this.skip(s.length);
    return s;
  }

  skip(n: number): void {
    if (n < this.remaining) {
      this.offset += n;
      this.remaining -= n;
    } else {
      this.index += 1;
      this.enter();
    }
  }

  // Kept as fields rather than computed on each call: transform and compose ask for them
  // several times per component, and a server transforms a submission past every op its
  // author had not seen.
  private enter(): void {
    const h = this.op[this.index];
    this.head = h;
    this.offset = 0;
    this.remaining = h === undefined ? 0 : typeof h === "string" ? h.length : Math.abs(h);
  }
}

/** One op with the effect of `a` followed by `b`. */
export function compose(a: TextOp, b: TextOp): TextOp {
  if (targetLength(a) !== baseLength(b)) {
    throw new OpError(
      `cannot compose: the first op yields ${targetLength(a)} code units, the second expects ${baseLength(b)}`,
    );
  }
  const out = new OpBuilder();
  const ra = new Reader(a);
  const rb = new Reader(b);
  while (!ra.done || !rb.done) {
    if (ra.isDelete) {
      const n = ra.remaining;
      out.delete(n);
      ra.skip(n);
      continue;
    }
    if (rb.isInsert) {
      out.insert(rb.takeText(rb.remaining));
      continue;
    }
    // Lengths matched above, so both readers still have a component here.
    const n = Math.min(ra.remaining, rb.remaining);
    if (ra.isRetain) {
      if (rb.isRetain) out.retain(n);
      else out.delete(n);
      ra.skip(n);
    } else {
      const s = ra.takeText(n);
      // Text inserted by a and deleted by b never existed as far as the result is concerned.
      if (rb.isRetain) out.insert(s);
    }
    rb.skip(n);
  }
  return out.build();
}

/**
 * Given `a` and `b` made concurrently on the same text, returns `[a2, b2]` such that
 * apply(apply(t, a), b2) === apply(apply(t, b), a2).
 *
 * `aFirst` breaks the one tie the text cannot: both ops inserting at the same place.
 * The side that goes first puts its text to the left. Callers decide it by a fixed order
 * of authors (see `insertsFirst`), never by arrival order; see that function for why.
 */
export function transform(a: TextOp, b: TextOp, aFirst: boolean): [TextOp, TextOp] {
  if (baseLength(a) !== baseLength(b)) {
    throw new OpError(
      `cannot transform: the ops span different texts (${baseLength(a)} and ${baseLength(b)} code units)`,
    );
  }
  const a2 = new OpBuilder();
  const b2 = new OpBuilder();
  const ra = new Reader(a);
  const rb = new Reader(b);
  while (!ra.done || !rb.done) {
    if (ra.isInsert && (aFirst || !rb.isInsert)) {
      const s = ra.takeText(ra.remaining);
      a2.insert(s);
      b2.retain(s.length);
      continue;
    }
    if (rb.isInsert) {
      const s = rb.takeText(rb.remaining);
      b2.insert(s);
      a2.retain(s.length);
      continue;
    }
    const n = Math.min(ra.remaining, rb.remaining);
    if (ra.isRetain && rb.isRetain) {
      a2.retain(n);
      b2.retain(n);
    } else if (ra.isDelete && rb.isRetain) {
      a2.delete(n);
    } else if (ra.isRetain && rb.isDelete) {
      b2.delete(n);
    }
    // Both deleting the same text: it is gone for both, nothing left to do.
    ra.skip(n);
    rb.skip(n);
  }
  return [a2.build(), b2.build()];
}

/**
 * The tie-break for inserts at one place: the author whose id sorts first goes left.
 *
 * Why a fixed order of authors rather than "whoever reached the server first": when two
 * people type at one spot, each keystroke after the first lands right after that person's
 * previous character. With arrival order, Alice's "a" can win one tie and Bob's "x" the
 * next, giving "axb…" — runs interleave. With a fixed order, every tie between the two
 * people at that spot is decided the same way, so all of Alice's run sits left of all of
 * Bob's and each word stays whole. Server and clients call this one function, so they
 * always agree.
 */
export function insertsFirst(author: string, other: string): boolean {
  return author < other;
}

/** Where a position goes when an insert lands exactly on it. */
export type Bias = "before" | "after";

/**
 * Moves a position in the text before `op` to the matching position after it.
 * A position inside deleted text collapses to where the deletion was.
 */
export function transformPosition(pos: number, op: TextOp, bias: Bias = "after"): number {
  let at = 0;
  let result = pos;
  for (const c of op) {
    if (at > pos) break;
    if (typeof c === "string") {
      if (at < pos || bias === "after") result += c.length;
    } else if (c > 0) {
      at += c;
    } else {
      result -= Math.min(-c, Math.max(0, pos - at));
      at -= c;
    }
  }
  return result;
}

export interface Selection {
  readonly anchor: number;
  readonly head: number;
}

export function transformSelection(sel: Selection, op: TextOp): Selection {
  if (sel.anchor === sel.head) {
    const p = transformPosition(sel.head, op);
    return { anchor: p, head: p };
  }
  // A range should not grow to swallow text typed at its edges.
  const forward = sel.anchor < sel.head;
  const start = transformPosition(forward ? sel.anchor : sel.head, op, "after");
  const end = Math.max(start, transformPosition(forward ? sel.head : sel.anchor, op, "before"));
  return forward ? { anchor: start, head: end } : { anchor: end, head: start };
}

/** One replacement, in positions of the text before any of a batch is applied. */
export interface Edit {
  readonly offset: number;
  readonly deleteCount: number;
  readonly insert: string;
}

/**
 * Builds one op from edits that all refer to the same original text (as the changes of
 * one VS Code change event do). Edits may come in any order but must not overlap.
 */
export function opFromEdits(length: number, edits: readonly Edit[]): TextOp {
  const sorted = [...edits].sort((x, y) => x.offset - y.offset || x.deleteCount - y.deleteCount);
  const b = new OpBuilder();
  let at = 0;
  for (const e of sorted) {
    if (e.offset < at || e.deleteCount < 0 || e.offset + e.deleteCount > length) {
      throw new OpError(
        `edit at ${e.offset} (deleting ${e.deleteCount}) overlaps another edit or runs past the text (length ${length})`,
      );
    }
    b.retain(e.offset - at).insert(e.insert).delete(e.deleteCount);
    at = e.offset + e.deleteCount;
  }
  return b.retain(length - at).build();
}

/** The op's changes as edits in positions of the text before it (e.g. for a WorkspaceEdit). */
export function editsFromOp(op: TextOp): Edit[] {
  const edits: Edit[] = [];
  let at = 0;
  let current: { offset: number; deleteCount: number; insert: string } | undefined;
  for (const c of op) {
    if (typeof c === "number" && c > 0) {
      if (current) edits.push(current);
      current = undefined;
      at += c;
      continue;
    }
    current ??= { offset: at, deleteCount: 0, insert: "" };
    if (typeof c === "string") current.insert += c;
    else {
      current.deleteCount -= c;
      at -= c;
    }
  }
  if (current) edits.push(current);
  return edits;
}

/** Most components an op that arrives may have; a keystroke has three. */
export const MAX_OP_COMPONENTS = 10_000;

/**
 * Checks an op that arrived from elsewhere. Returns a sentence saying what is wrong, or
 * undefined when it is well formed and, if `text` is given, fits that text.
 */
export function checkOp(value: unknown, text?: string): string | undefined {
  if (!Array.isArray(value)) return "an op must be an array of components";
  if (value.length > MAX_OP_COMPONENTS) {
    return `an op may have at most ${MAX_OP_COMPONENTS} components, this one has ${value.length}`;
  }
  let prevKind = "";
  for (let i = 0; i < value.length; i++) {
    const c: unknown = value[i];
    let kind: string;
    if (typeof c === "string") {
      if (c === "") return `component ${i} inserts an empty string`;
      if (!c.isWellFormed()) return `component ${i} inserts text with an unpaired surrogate`;
      kind = "insert";
    } else if (typeof c === "number") {
      if (!Number.isSafeInteger(c)) return `component ${i} is ${c}, not a whole number`;
      if (c === 0) return `component ${i} is zero`;
      kind = c > 0 ? "retain" : "delete";
    } else {
      return `component ${i} is a ${c === null ? "null" : typeof c}, not a number or a string`;
    }
    if (kind === prevKind) return `components ${i - 1} and ${i} are both ${kind}s and should be one`;
    if (kind === "insert" && prevKind === "delete") {
      return `component ${i} inserts after a delete at the same place; the insert goes first`;
    }
    prevKind = kind;
  }
  if (text === undefined) return undefined;
  const op = value as TextOp;
  const span = baseLength(op);
  if (span !== text.length) return `the op spans ${span} code units but the text has ${text.length}`;
  let at = 0;
  for (const c of op) {
    if (typeof c === "string") continue;
    at += Math.abs(c);
    if (splitsPair(text, at)) return `the op cuts the surrogate pair at code unit ${at - 1}`;
  }
  return undefined;
}

function splitsPair(text: string, at: number): boolean {
  if (at <= 0 || at >= text.length) return false;
  const high = text.charCodeAt(at - 1);
  const low = text.charCodeAt(at);
  return high >= 0xd800 && high <= 0xdbff && low >= 0xdc00 && low <= 0xdfff;
}
