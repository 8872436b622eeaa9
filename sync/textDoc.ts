/**
 * A mutable text kept as a list of chunks, so that applying a keystroke to a long note
 * costs about one chunk's worth of copying instead of the whole text.
 *
 * A plain JS string makes every edit O(length): the engine applies each op to two texts
 * (ours and the server's), and a 100 KB note typed at 10 keys a second would copy
 * megabytes a second for nothing. Here an edit copies one chunk of at most MAX_CHUNK
 * code units; finding the chunk starts from where the previous op started, because
 * edits cluster where people type.
 *
 * Chunk boundaries may fall inside a surrogate pair: chunks are only ever concatenated,
 * never shown on their own, so that is harmless.
 */
import { checksumOfParts } from "./checksum";
import { baseLength, invert, OpError, type TextOp } from "./textOp";

const CHUNK = 128;
const MAX_CHUNK = 2 * CHUNK;
const MIN_CHUNK = CHUNK / 4;

export class TextDoc {
  private chunks: string[];
  private size: number;
  /** The whole text, kept until the next edit so repeated reads cost nothing. */
  private joined: string | undefined;
  /**
   * A chunk whose start offset is known. Edits only touch chunks at or after the place
   * an op starts changing things, so setting this there keeps it valid.
   */
  private hintIndex = 0;
  private hintStart = 0;
  /** Where apply() is: chunk index and offset in it. Fields, not tuples, to allocate nothing per step. */
  private ci = 0;
  private co = 0;

  constructor(text = "") {
    this.chunks = splitIntoChunks(text);
    this.size = text.length;
    this.joined = text;
  }

  get length(): number {
    return this.size;
  }

  toString(): string {
    this.joined ??= this.chunks.join("");
    return this.joined;
  }

  checksum(): string {
    return checksumOfParts(this.chunks);
  }

  /** Applies `op` in place. Throws OpError (and changes nothing) if it does not fit. */
  apply(op: TextOp): void {
    const expected = baseLength(op);
    if (expected !== this.size) {
      throw new OpError(`the op spans ${expected} code units but the text has ${this.size}`);
    }
    const chunks = this.chunks;
    const last = op.length - 1;
    let k = 0;
    // The first component decides where changes start: find that place from the hint.
    const first = op[0];
    const skip = typeof first === "number" && first > 0 ? first : 0;
    if (skip > 0) {
      if (last === 0) return; // keeps everything: a no-op
      k = 1;
    }
    this.locate(skip);
    this.hintIndex = this.ci;
    this.hintStart = skip - this.co;
    for (; k <= last; k++) {
      const c = op[k] as TextOp[number];
      if (typeof c === "string") {
        this.insertHere(c);
      } else if (c > 0) {
        // The final retain only keeps the rest of the text: nothing to walk.
        if (k === last) break;
        let n = c;
        while (n > 0) {
          const room = (chunks[this.ci] as string).length - this.co;
          if (n < room) {
            this.co += n;
            n = 0;
          } else {
            n -= room;
            this.ci += 1;
            this.co = 0;
          }
        }
      } else {
        this.deleteHere(-c);
      }
    }
    this.joined = undefined;
    if (this.hintIndex >= chunks.length) {
      this.hintIndex = 0;
      this.hintStart = 0;
    }
  }

  /** The code units in [from, to). */
  slice(from: number, to: number): string {
    if (from >= to) return "";
    if (this.joined !== undefined) return this.joined.slice(from, to);
    const parts: string[] = [];
    let start = 0;
    for (const chunk of this.chunks) {
      const end = start + chunk.length;
      if (end > from && start < to) parts.push(chunk.slice(Math.max(0, from - start), to - start));
      if (end >= to) break;
      start = end;
    }
    return parts.join("");
  }

  /** The op that undoes `op`, which must fit this text (call it before applying `op`). */
  invert(op: TextOp): TextOp {
    return invert(op, this);
  }

  /** Moves (ci, co) to position `pos`; (chunks.length, 0) at the very end. */
  private locate(pos: number): void {
    const chunks = this.chunks;
    let i = this.hintIndex;
    let start = this.hintStart;
    if (pos < start) {
      while (start > pos) {
        i -= 1;
        start -= (chunks[i] as string).length;
      }
    } else {
      while (i < chunks.length && start + (chunks[i] as string).length <= pos) {
        start += (chunks[i] as string).length;
        i += 1;
      }
    }
    this.ci = i;
    this.co = pos - start;
  }

  private insertHere(s: string): void {
    const chunks = this.chunks;
    const ci = this.ci;
    const co = this.co;
    this.size += s.length;
    if (ci === chunks.length) {
      // At the very end: grow the last chunk, or start new ones.
      const last = chunks[ci - 1];
      if (last !== undefined && last.length + s.length <= MAX_CHUNK) {
        chunks[ci - 1] = last + s;
      } else {
        chunks.push(...splitIntoChunks(s));
      }
      this.ci = chunks.length;
      this.co = 0;
      return;
    }
    const chunk = chunks[ci] as string;
    const merged = co === chunk.length ? chunk + s : chunk.slice(0, co) + s + chunk.slice(co);
    if (merged.length <= MAX_CHUNK) {
      chunks[ci] = merged;
      this.co = co + s.length;
      return;
    }
    const pieces = splitIntoChunks(merged);
    chunks.splice(ci, 1, ...pieces);
    let offset = co + s.length;
    let i = ci;
    while (i < ci + pieces.length && offset >= (chunks[i] as string).length) {
      offset -= (chunks[i] as string).length;
      i += 1;
    }
    this.ci = i;
    this.co = offset;
  }

  private deleteHere(count: number): void {
    const chunks = this.chunks;
    let ci = this.ci;
    let co = this.co;
    this.size -= count;
    let n = count;
    while (n > 0) {
      const chunk = chunks[ci] as string;
      const take = Math.min(n, chunk.length - co);
      const rest = chunk.slice(0, co) + chunk.slice(co + take);
      n -= take;
      if (rest.length === 0) {
        chunks.splice(ci, 1);
      } else {
        chunks[ci] = rest;
        if (co === rest.length) {
          ci += 1;
          co = 0;
        }
      }
    }
    // Keep many deletions from leaving a long tail of tiny chunks: join a small chunk
    // with its neighbour, never touching chunks before the hint (their starts are known).
    const here = chunks[ci];
    const next = chunks[ci + 1];
    if (here !== undefined && next !== undefined && here.length < MIN_CHUNK && here.length + next.length <= MAX_CHUNK) {
      chunks[ci] = here + next;
      chunks.splice(ci + 1, 1);
    }
    const before = chunks[ci - 1];
    const current = chunks[ci];
    if (ci - 1 > this.hintIndex && before !== undefined && current !== undefined && before.length < MIN_CHUNK && before.length + current.length <= MAX_CHUNK) {
      chunks[ci - 1] = before + current;
      chunks.splice(ci, 1);
      ci -= 1;
      co += before.length;
    }
    this.ci = ci;
    this.co = co;
  }
}

function splitIntoChunks(text: string): string[] {
  if (text.length <= MAX_CHUNK) return text === "" ? [] : [text];
  const out: string[] = [];
  for (let i = 0; i < text.length; i += CHUNK) out.push(text.slice(i, i + CHUNK));
  return out;
}
