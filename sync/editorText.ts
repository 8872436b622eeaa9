/**
 * How an editor's document and a note's text line up.
 *
 * The wire has one line break, `\n`. An editor may show the note with `\r\n` (VS Code
 * keeps one line ending per document, and cannot address the point between `\r` and
 * `\n`), so the document is never compared or addressed by offset: changes and edits are
 * given as line/character positions, which are the same whichever line ending the
 * document uses, and the text of a change is brought to the wire's convention.
 */
import { replacementOp } from "./diff";
import { OpBuilder, OpError, editsFromOp, opFromEdits, type Edit, type TextOp } from "./textOp";

/** A place in a document: zero-based line, and UTF-16 code units into that line. */
export interface Position {
  readonly line: number;
  readonly character: number;
}

/** One replacement of a change event, its range in the document before the event. */
export interface DocumentChange {
  readonly range: { readonly start: Position; readonly end: Position };
  readonly text: string;
}

/** An edit to make in the document (ranges in the document as it is now). */
export interface DocumentEdit {
  readonly start: Position;
  readonly end: Position;
  readonly text: string;
}

/** The text with every `\r\n` and lone `\r` as `\n`, as VS Code counts line breaks. */
export function toWire(text: string): string {
  return text.includes("\r") ? text.replace(/\r\n?/g, "\n") : text;
}

/** True when an op inserts a `\r` (which the wire convention does not allow). */
export function insertsCarriageReturn(op: TextOp): boolean {
  return op.some((c) => typeof c === "string" && c.includes("\r"));
}

/**
 * The op turning `text` into `toWire(text)`, one small edit per line break, so that
 * teammates' typing anywhere else is untouched by it.
 */
export function lineBreakFix(text: string): TextOp {
  const b = new OpBuilder();
  let at = 0;
  for (let i = text.indexOf("\r"); i >= 0; i = text.indexOf("\r", i + 1)) {
    b.retain(i - at);
    if (text.charCodeAt(i + 1) === 10) {
      b.delete(1);
    } else {
      b.insert("\n").delete(1);
    }
    at = i + 1;
  }
  return b.retain(text.length - at).build();
}

/** Line starts of a text with `\n` line breaks, found as far as they are asked for. */
export class Lines {
  private readonly starts = [0];
  private complete = false;

  constructor(readonly text: string) {}

  /** The offset of a position; throws OpError for a position the text does not have. */
  offsetAt(pos: Position): number {
    this.reach(pos.line);
    const start = this.starts[pos.line];
    if (start === undefined || pos.character < 0) {
      throw new OpError(`line ${pos.line} is not in the text (it has ${this.starts.length} lines)`);
    }
    const next = this.starts[pos.line + 1];
    const length = (next === undefined ? this.text.length + 1 : next) - 1 - start;
    if (pos.character > length) {
      throw new OpError(`line ${pos.line} has ${length} characters, not ${pos.character}`);
    }
    return start + pos.character;
  }

  /** The offset nearest to a position (past the end of a line: its end; past the last line: on the last line). */
  nearestOffset(pos: Position): number {
    this.reach(pos.line);
    const line = Math.min(Math.max(0, pos.line), this.starts.length - 1);
    const start = this.starts[line]!;
    const next = this.starts[line + 1];
    const end = next === undefined ? this.text.length : next - 1;
    return Math.min(start + Math.max(0, pos.character), end);
  }

  positionAt(offset: number): Position {
    const at = Math.max(0, Math.min(this.text.length, offset));
    while (!this.complete && this.starts[this.starts.length - 1]! <= at) this.reach(this.starts.length);
    // The last line start at or before the offset.
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: at - this.starts[lo]! };
  }

  private reach(line: number): void {
    while (!this.complete && this.starts.length <= line + 1) {
      const nl = this.text.indexOf("\n", this.starts[this.starts.length - 1]!);
      if (nl < 0) this.complete = true;
      else this.starts.push(nl + 1);
    }
  }
}

/**
 * One change event (every range relative to the document before it) as one op on
 * `text`, the document's text as the note has it. Each replacement shrinks to what it
 * really changed: format-document and line-ending switches replace large ranges with
 * nearly the same text, and sending them whole would wipe out a teammate's concurrent
 * typing inside the range.
 */
export function opFromChanges(text: string, changes: readonly DocumentChange[]): TextOp {
  const lines = new Lines(text);
  const edits: Edit[] = [];
  for (const c of changes) {
    const start = lines.offsetAt(c.range.start);
    const end = lines.offsetAt(c.range.end);
    if (end < start) throw new OpError(`a change ends (${end}) before it starts (${start})`);
    const smallest = replacementOp(text.slice(start, end), toWire(c.text));
    for (const e of editsFromOp(smallest)) edits.push({ ...e, offset: start + e.offset });
  }
  return opFromEdits(text.length, edits);
}

/** An op on `text` as edits for the document that shows it. */
export function documentEdits(text: string, edits: readonly Edit[]): DocumentEdit[] {
  const lines = new Lines(text);
  return edits.map((e) => ({
    start: lines.positionAt(e.offset),
    end: lines.positionAt(e.offset + e.deleteCount),
    text: e.insert,
  }));
}
