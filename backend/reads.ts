// Reading an index range: turning Convex's serialized query into a key range, walking it
// lazily with filters and limits, and recording exactly the part that was read (the read
// set reactivity and conflict checks rely on). Pages of a range are cut in pages.ts.
import { jsonToConvex, type JSONValue, type Value } from "convex/values";
import type { Doc, IndexDef } from "./catalog.js";
import { SystemError } from "./errors.js";
import { matches } from "./filter.js";
import { afterPrefix, encodeKey, rangeContains, successor, type KeyRange } from "./keys.js";
import type { Storage } from "./storage.js";

/** Index ranges a run read, by index name; a write of a key inside one invalidates it. */
export type ReadSet = Map<string, KeyRange[]>;

/** Keys a run wrote (before and after images), by index name. */
export type WriteSet = Map<string, Buffer[]>;

export type RangeExpr = { type: "Eq" | "Gt" | "Gte" | "Lt" | "Lte"; fieldPath: string; value: JSONValue };
export type SerializedQuery = {
  source:
    | { type: "FullTableScan"; tableName: string; order: "asc" | "desc" | null }
    | { type: "IndexRange"; indexName: string; range: RangeExpr[]; order: "asc" | "desc" | null }
    | { type: "Search"; indexName: string };
  operators: Array<{ filter: JSONValue } | { limit: number }>;
};

export function parseDoc(json: string): Doc {
  return jsonToConvex(JSON.parse(json) as JSONValue) as Doc;
}

/** Turns an index range expression into a byte range over the index's keys. */
export function keyRange(index: IndexDef, range: RangeExpr[]): KeyRange {
  const eqValues: Array<Value | undefined> = [];
  let i = 0;
  for (; i < range.length && range[i]!.type === "Eq"; i++) {
    const expr = range[i]!;
    if (expr.fieldPath !== index.fields[eqValues.length]) {
      throw new SystemError(
        `Index range for ${index.name} must use the index's fields in order: expected ` +
          `"${index.fields[eqValues.length] ?? "(none)"}" but got "${expr.fieldPath}".`,
      );
    }
    eqValues.push(toValue(expr.value));
  }
  const prefix = encodeKey(eqValues);
  let lo = prefix;
  let hi = afterPrefix(prefix);
  const boundField = index.fields[eqValues.length];
  let seenLower = false;
  let seenUpper = false;
  for (; i < range.length; i++) {
    const expr = range[i]!;
    if (expr.type === "Eq" || expr.fieldPath !== boundField) {
      throw new SystemError(
        `Index range for ${index.name} is not a valid range: after the equalities, only ` +
          `one lower and one upper bound on "${boundField ?? "(none)"}" may follow.`,
      );
    }
    const bound = Buffer.concat([prefix, encodeKey([toValue(expr.value)])]);
    const isLower = expr.type === "Gt" || expr.type === "Gte";
    if (isLower ? seenLower : seenUpper) {
      throw new SystemError(`Index range for ${index.name} has two ${isLower ? "lower" : "upper"} bounds.`);
    }
    if (isLower) {
      seenLower = true;
      lo = expr.type === "Gte" ? bound : afterPrefix(bound);
    } else {
      seenUpper = true;
      hi = expr.type === "Lt" ? bound : afterPrefix(bound);
    }
  }
  return { lo, hi };
}

export function toValue(json: JSONValue): Value | undefined {
  if (json !== null && typeof json === "object" && !Array.isArray(json) && "$undefined" in json) return undefined;
  return jsonToConvex(json);
}

/** Whether a written key falls inside a range read: the test for a stale result and for a conflict. */
export function keysInRanges(keys: readonly Buffer[], ranges: readonly KeyRange[]): boolean {
  return keys.some((key) => ranges.some((range) => rangeContains(range, key)));
}

/** The first index where `writes` wrote a key inside a range of `reads`, or null. */
export function overlappingIndex(reads: ReadSet, writes: WriteSet): string | null {
  for (const [index, keys] of writes) {
    const ranges = reads.get(index);
    if (ranges && keysInRanges(keys, ranges)) return index;
  }
  return null;
}

export function addRange(set: ReadSet, index: string, range: KeyRange): void {
  const list = set.get(index);
  if (list) list.push(range);
  else set.set(index, [range]);
}

/**
 * What a paginated read may still scan (Convex's maximumRowsRead / maximumBytesRead): a
 * stream that reaches either stops there, before the next row, as Convex's index range does.
 */
export type ReadBudget = { rows: number | null; bytes: number | null };

/** Iterates one index range in order, applying filter/limit operators lazily. */
export class QueryStream {
  private buffered: Array<{ key: Buffer; json: string }> = [];
  private position: KeyRange;
  private lastKey: Buffer | null = null;
  private exhausted = false;
  private done = false;
  private batch = 8;
  private limitCounts: number[];
  private recorded = false;
  /** Index rows read so far (whether or not the filters passed them) and their bytes. */
  rowsRead = 0;
  bytesRead = 0;
  /** The stream stopped at its budget rather than at the end of its range. */
  overBudget = false;
  /** Keys of the rows read, in order (pagination's split cursor), when asked for. */
  readonly keysRead: Buffer[] = [];

  constructor(
    private readonly storage: Pick<Storage, "scan">,
    private readonly readSet: ReadSet,
    private readonly index: IndexDef,
    private readonly range: KeyRange,
    private readonly order: "asc" | "desc",
    private readonly operators: SerializedQuery["operators"],
    /** Told the size of every document read (transaction limits). */
    private readonly meter: (bytes: number) => void,
    private readonly budget: ReadBudget | null = null,
  ) {
    this.position = { ...range };
    this.limitCounts = operators.map(() => 0);
    if (operators.some((op) => "limit" in op && op.limit <= 0)) this.done = true;
  }

  /** Index key of the last row read (a paginated read's cursor), if any was. */
  get lastKeyRead(): Buffer | null {
    return this.lastKey;
  }

  /** The whole range was read: nothing in it is left after the last row. */
  get reachedEnd(): boolean {
    return this.exhausted && this.buffered.length === 0;
  }

  /** The next matching document, or null at the end. */
  next(): Doc | null {
    const json = this.nextJson();
    return json === null ? null : parseDoc(json);
  }

  /**
   * The next matching document as stored (its Convex JSON), or null at the end. It is
   * parsed only when a filter has to look at it: a document handed to a function as it was
   * stored skips a parse and a re-serialisation on the way.
   */
  nextJson(): string | null {
    while (!this.done) {
      const row = this.nextRow();
      if (!row) {
        this.finish();
        return null;
      }
      let doc: Doc | undefined;
      let passes = true;
      for (let i = 0; i < this.operators.length && passes; i++) {
        const op = this.operators[i]!;
        if ("filter" in op) {
          doc ??= parseDoc(row.json);
          passes = matches(op.filter, doc);
        } else {
          this.limitCounts[i]!++;
          // Once a limit is full nothing further can pass it, so the stream ends here
          // and the read set stops at this key.
          if (this.limitCounts[i]! >= op.limit) this.done = true;
        }
      }
      if (this.done) this.finish();
      if (passes) return row.json;
    }
    return null;
  }

  private nextRow(): { key: Buffer; json: string } | null {
    if (this.buffered.length === 0 && !this.exhausted) {
      const want = this.batch;
      const rows = this.storage.scan(this.index.name, this.position.lo, this.position.hi, this.order, want);
      this.batch = Math.min(want * 4, 512);
      if (rows.length < want) this.exhausted = true;
      this.buffered = rows;
      const last = rows[rows.length - 1];
      if (last) {
        if (this.order === "asc") this.position.lo = successor(last.key);
        else this.position.hi = last.key;
      }
    }
    if (this.budget && !this.reachedEnd) {
      const { rows, bytes } = this.budget;
      if ((rows !== null && this.rowsRead >= rows) || (bytes !== null && this.bytesRead >= bytes)) {
        this.overBudget = true;
        return null;
      }
    }
    const row = this.buffered.shift() ?? null;
    if (row) {
      this.lastKey = row.key;
      this.rowsRead++;
      this.bytesRead += row.json.length;
      if (this.budget) this.keysRead.push(row.key);
      this.meter(row.json.length);
    }
    return row;
  }

  /** Records the part of the range this stream actually covered. */
  finish(): void {
    if (this.recorded) return;
    this.recorded = true;
    this.done = true;
    let covered = this.range;
    if (!this.reachedEnd && this.lastKey) {
      covered =
        this.order === "asc"
          ? { lo: this.range.lo, hi: successor(this.lastKey) }
          : { lo: this.lastKey, hi: this.range.hi };
    } else if (!this.reachedEnd) {
      return; // Nothing read yet.
    }
    addRange(this.readSet, this.index.name, covered);
  }
}
