/**
 * Who last wrote each range of a note's text: a list of runs (length, author, time) that
 * covers the text exactly, kept by applying every revision's op with its author and time.
 *
 * Text that existed before authorship was kept belongs to UNKNOWN_AUTHOR at time 0.
 * Neighbouring runs of one author written within SESSION_PAUSE_MS of each other are one
 * run (with the later time), so a paragraph typed in one go is one run, not one per key.
 */
import { SESSION_PAUSE_MS } from "./historySessions";
import { baseLength, type TextOp } from "./textOp";

/** Author of text older than the kept authorship. */
export const UNKNOWN_AUTHOR = "";

export interface AuthorRun {
  /** UTF-16 code units. */
  length: number;
  author: string;
  /** Server time (ms) of the revision that last wrote this range (the latest, when merged). */
  at: number;
}

/** A range of the text with its author, as shown in a hover or a tint. */
export interface AuthorSpan {
  readonly start: number;
  readonly end: number;
  readonly author: string;
  readonly at: number;
}

/** The stored and sent form: author names once, runs as "length.authorIndex.time" in base 36, ";"-separated. */
export interface EncodedAuthorship {
  readonly names: string[];
  readonly runs: string;
}

function mergeable(a: AuthorRun, b: AuthorRun): boolean {
  return a.author === b.author && Math.abs(a.at - b.at) < SESSION_PAUSE_MS;
}

export class Authorship {
  private constructor(private readonly runs: AuthorRun[]) {}

  /** A text of `length` code units whose authors are not known. */
  static unknown(length: number): Authorship {
    return new Authorship(length > 0 ? [{ length, author: UNKNOWN_AUTHOR, at: 0 }] : []);
  }

  static fromRuns(runs: readonly AuthorRun[]): Authorship {
    const a = new Authorship(runs.filter((r) => r.length > 0).map((r) => ({ ...r })));
    a.normalize();
    return a;
  }

  /** Throws on anything that is not an encoding made by `encode`. */
  static decode(encoded: EncodedAuthorship): Authorship {
    const runs: AuthorRun[] = [];
    if (encoded.runs !== "") {
      for (const part of encoded.runs.split(";")) {
        const [len, idx, at] = part.split(".").map((x) => parseInt(x, 36));
        const author = idx === undefined ? undefined : encoded.names[idx];
        if (len === undefined || !(len > 0) || author === undefined || at === undefined || !Number.isFinite(at)) {
          throw new Error(`bad authorship run "${part.slice(0, 40)}"`);
        }
        runs.push({ length: len, author, at });
      }
    }
    return new Authorship(runs);
  }

  get length(): number {
    let n = 0;
    for (const r of this.runs) n += r.length;
    return n;
  }

  get runCount(): number {
    return this.runs.length;
  }

  encode(): EncodedAuthorship {
    const index = new Map<string, number>();
    const names: string[] = [];
    const parts: string[] = [];
    for (const r of this.runs) {
      let i = index.get(r.author);
      if (i === undefined) {
        i = names.length;
        names.push(r.author);
        index.set(r.author, i);
      }
      parts.push(`${r.length.toString(36)}.${i.toString(36)}.${r.at.toString(36)}`);
    }
    return { names, runs: parts.join(";") };
  }

  spans(): AuthorSpan[] {
    const out: AuthorSpan[] = [];
    let start = 0;
    for (const r of this.runs) {
      out.push({ start, end: start + r.length, author: r.author, at: r.at });
      start += r.length;
    }
    return out;
  }

  /**
   * Applies a revision's op (retain n > 0, delete n < 0, insert string; sync/textOp.ts):
   * inserted text is `author`'s at `at`, deleted text leaves, the rest keeps its author.
   * Edits the run list in place around each component, so a keystroke costs a scan, not a copy.
   * Throws, changing nothing, when the op does not span the text.
   */
  apply(op: TextOp, author: string, at: number): void {
    if (baseLength(op) !== this.length) {
      throw new Error(`the op spans ${baseLength(op)} code units but the text has ${this.length}`);
    }
    const runs = this.runs;
    // The cursor: `off` code units into runs[i]; off < runs[i].length, or i === runs.length and off === 0.
    let i = 0;
    let off = 0;
    /** Joins runs[i - 1] and runs[i] when they may be one, keeping the cursor where it was. */
    const joinAtCursor = (): void => {
      const prev = runs[i - 1];
      const next = runs[i];
      if (off !== 0 || prev === undefined || next === undefined || !mergeable(prev, next)) return;
      off = prev.length;
      prev.length += next.length;
      prev.at = Math.max(prev.at, next.at);
      runs.splice(i, 1);
      i -= 1;
    };
    for (const c of op) {
      if (typeof c === "string") {
        if (off > 0) {
          const r = runs[i] as AuthorRun;
          runs.splice(i + 1, 0, { length: r.length - off, author: r.author, at: r.at });
          r.length = off;
          i += 1;
          off = 0;
        }
        const added: AuthorRun = { length: c.length, author, at };
        const prev = runs[i - 1];
        const next = runs[i];
        if (prev !== undefined && mergeable(prev, added)) {
          prev.length += added.length;
          prev.at = Math.max(prev.at, at);
          joinAtCursor();
        } else if (next !== undefined && mergeable(added, next)) {
          next.length += added.length;
          next.at = Math.max(next.at, at);
          off = added.length;
        } else {
          runs.splice(i, 0, added);
          i += 1;
        }
      } else if (c > 0) {
        let n = c;
        while (n > 0) {
          const r = runs[i];
          if (r === undefined) throw new Error(`the op retains past the end of the text (${this.length} code units)`);
          const rest = r.length - off;
          if (n < rest) {
            off += n;
            n = 0;
          } else {
            n -= rest;
            i += 1;
            off = 0;
          }
        }
      } else {
        let n = -c;
        while (n > 0) {
          const r = runs[i];
          if (r === undefined) throw new Error(`the op deletes past the end of the text (${this.length} code units)`);
          const take = Math.min(n, r.length - off);
          r.length -= take;
          n -= take;
          if (r.length === 0) runs.splice(i, 1);
          else if (off === r.length) {
            i += 1;
            off = 0;
          }
        }
        // The runs on both sides of the deleted range now touch.
        joinAtCursor();
      }
    }
    if (i !== runs.length || off !== 0) {
      throw new Error(`the op spans fewer code units than the text (${this.length})`);
    }
  }

  private normalize(): void {
    const out: AuthorRun[] = [];
    for (const r of this.runs) {
      const last = out[out.length - 1];
      if (last !== undefined && mergeable(last, r)) {
        last.length += r.length;
        last.at = Math.max(last.at, r.at);
      } else out.push(r);
    }
    this.runs.splice(0, this.runs.length, ...out);
  }

  /**
   * Keeps at most `maxRuns` runs, for storage with a size limit: first one author's
   * neighbouring runs become one whatever their times, then the shortest runs are given to
   * their left neighbour. Each character keeps an author who wrote text next to it.
   */
  coarsen(maxRuns: number): void {
    if (this.runs.length <= maxRuns) return;
    const sameAuthor: AuthorRun[] = [];
    for (const r of this.runs) {
      const last = sameAuthor[sameAuthor.length - 1];
      if (last !== undefined && last.author === r.author) {
        last.length += r.length;
        last.at = Math.max(last.at, r.at);
      } else sameAuthor.push(r);
    }
    let runs = sameAuthor;
    while (runs.length > maxRuns) {
      const lengths = runs.map((r) => r.length).sort((a, b) => a - b);
      const threshold = lengths[runs.length - maxRuns] as number;
      const kept: AuthorRun[] = [];
      for (const r of runs) {
        const last = kept[kept.length - 1];
        if (last !== undefined && (r.length < threshold || last.author === r.author)) {
          last.length += r.length;
          last.at = Math.max(last.at, r.at);
        } else kept.push(r);
      }
      // A first run too short to keep, when all others are long: give it to the next one.
      if (kept.length > maxRuns && kept.length > 1) {
        const [first, second] = kept as [AuthorRun, AuthorRun];
        second.length += first.length;
        kept.shift();
      }
      runs = kept;
    }
    this.runs.splice(0, this.runs.length, ...runs);
  }
}

/** The span at code unit `offset` (the one it starts or lies in), if any. */
export function spanAt(spans: readonly AuthorSpan[], offset: number): AuthorSpan | undefined {
  let lo = 0;
  let hi = spans.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const s = spans[mid] as AuthorSpan;
    if (offset < s.start) hi = mid - 1;
    else if (offset >= s.end) lo = mid + 1;
    else return s;
  }
  return spans[spans.length - 1]?.end === offset ? spans[spans.length - 1] : undefined;
}
