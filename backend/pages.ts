// Paginated reads (`.paginate()`, the `1.0/queryPage` syscall): one page of an index range
// between two cursors, with Convex's rules for where a page ends, when it is done, where it
// may be split and when a split is due; and the query journal that keeps a live page's end
// in place while the data under it changes.
//
// Rules as Convex documents and implements them (docs.convex.dev/database/pagination;
// get-convex/convex-backend, crates/database/src/query/index_range.rs and the queryPage
// syscall in crates/isolate/src/environment/udf/async_syscall.rs):
// - a cursor is a position in the index: "after this key", or the end of the range;
// - a page without an end cursor reads until it holds `numItems` documents (the cursor is
//   then the last key read, even when nothing follows) or the range ends (the end cursor);
// - with an end cursor (given, or the one the journal kept) it reads everything up to it,
//   ignoring the row and byte budgets, and ends exactly there;
// - `isDone` is true exactly when the page ends at the end of the range;
// - the row/byte budgets stop a page before the row that would exceed them ("SplitRequired");
//   a page past 3/4 of them, or longer than 3/4 of Convex's array limit, is "SplitRecommended";
// - the split cursor is the key in the middle of the rows read, when more than two were.
import type { JSONValue } from "convex/values";
import type { IndexDef } from "./catalog.js";
import { SystemError } from "./errors.js";
import { successor, type KeyRange } from "./keys.js";
import { MAX_DOCUMENTS_READ, MAX_READ_BYTES } from "./limits.js";
import { QueryStream, type ReadSet, type SerializedQuery } from "./reads.js";
import type { Storage } from "./storage.js";

/** The continue cursor of a page that reached the end of its range. */
export const END_CURSOR = "_end_cursor";

/** Convex's error for a cursor of another query (a ConvexError the pagination hooks recognise). */
export class InvalidCursor extends SystemError {
  readonly data: JSONValue = { isConvexSystemError: true, paginationError: "InvalidCursor" };
  constructor() {
    super("InvalidCursor: Tried to run a query starting from a cursor, but it looks like this cursor is from a different query.");
  }
}

/** A position in an index: after this key, or the end of the range. */
export type Position = Buffer | "end";

/** A cursor names the index and order it belongs to, so one from another query is refused. */
export function encodeCursor(index: string, order: "asc" | "desc", position: Position): string {
  if (position === "end") return END_CURSOR;
  return Buffer.from(`${index}\u0000${order}\u0000${position.toString("base64url")}`).toString("base64url");
}

export function decodeCursor(cursor: JSONValue | undefined, index: string, order: "asc" | "desc"): Position | null {
  if (cursor === null || cursor === undefined) return null;
  if (cursor === END_CURSOR) return "end";
  if (typeof cursor !== "string") throw new InvalidCursor();
  const [cursorIndex, cursorOrder, key, ...rest] = Buffer.from(cursor, "base64url").toString("utf8").split("\u0000");
  if (cursorIndex !== index || cursorOrder !== order || key === undefined || rest.length > 0) throw new InvalidCursor();
  return Buffer.from(key, "base64url");
}

/**
 * What a query's run decided that its re-runs must repeat: the end cursor of its page (the
 * one paginate of a run), or null when it did not paginate. Sent to the client with each
 * result and back with the query when it resubscribes, so a page keeps its end across
 * re-runs and reconnects: an insert into it makes it longer instead of pushing its last
 * item out of every page, a delete shorter instead of pulling in the next page's first.
 */
export type QueryJournal = string | null;

/** Convex's soft limit: 3/4 of a hard one. */
const soft = (limit: number) => Math.floor((limit * 3) / 4);
/** Convex splits pages past 3/4 of its 8192-element array limit. */
const SOFT_MAX_PAGE_LENGTH = soft(8192);

export type PageRequest = {
  start: Position | null;
  end: Position | null;
  pageSize: number;
  maximumRowsRead: number | null;
  maximumBytesRead: number | null;
};

export type Page = {
  /** The page's documents, each its Convex JSON as stored. */
  docs: string[];
  /** Where the page ends: its continue cursor, and the journal's end cursor. */
  end: Position;
  split: Buffer | null;
  status: "SplitRecommended" | "SplitRequired" | null;
};

/** Checks a request's numbers as Convex does, with its wording. */
export function checkPageRequest(pageSize: JSONValue | undefined, rows: JSONValue | undefined, bytes: JSONValue | undefined): void {
  if (typeof pageSize !== "number" || !Number.isInteger(pageSize) || pageSize < 1) {
    throw new SystemError("Must request at least 1 document while paginating");
  }
  for (const limit of [rows, bytes]) {
    if (limit === null || limit === undefined) continue;
    if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 0) {
      throw new SystemError("maximumRowsRead and maximumBytesRead must be non-negative integers");
    }
    if (limit === 0) throw new SystemError("maximumRowsRead and maximumBytesRead must be greater than 0");
  }
}

/** The part of `range` strictly after `start` and up to `end` inclusive, in the read order. */
function between(range: KeyRange, order: "asc" | "desc", start: Buffer | null, end: Buffer | null): KeyRange {
  const max = (a: Buffer, b: Buffer) => (Buffer.compare(a, b) >= 0 ? a : b);
  const min = (a: Buffer, b: Buffer) => (Buffer.compare(a, b) <= 0 ? a : b);
  let { lo, hi } = range;
  if (order === "asc") {
    if (start) lo = max(lo, successor(start));
    if (end) hi = min(hi, successor(end));
  } else {
    if (start) hi = min(hi, start);
    if (end) lo = max(lo, end);
  }
  return { lo, hi };
}

/** Reads one page of an index range; records what it read in `readSet`. */
export function readPage(
  storage: Pick<Storage, "scan">,
  readSet: ReadSet,
  index: IndexDef,
  range: KeyRange,
  order: "asc" | "desc",
  operators: SerializedQuery["operators"],
  meter: (bytes: number) => void,
  request: PageRequest,
): Page {
  const { start, end, pageSize } = request;
  if (start === "end") return { docs: [], end: "end", split: null, status: null };
  const bounded = between(range, order, start, end === "end" ? null : end);
  // With an end cursor the whole interval must be read for the page to be right, so the
  // budgets do not apply (as on Convex).
  const budget =
    end === null ? { rows: request.maximumRowsRead, bytes: request.maximumBytesRead } : { rows: null, bytes: null };
  const stream = new QueryStream(storage, readSet, index, bounded, order, operators, meter, budget);
  const docs: string[] = [];
  let stopped = false;
  while (end !== null || docs.length < pageSize) {
    const doc = stream.nextJson();
    if (!doc) {
      stopped = true;
      break;
    }
    docs.push(doc);
  }
  stream.finish();
  const endsAt: Position =
    end ?? (stopped && !stream.overBudget ? "end" : (stream.lastKeyRead ?? "end"));
  const approaching =
    stream.rowsRead > soft(Math.min(request.maximumRowsRead ?? MAX_DOCUMENTS_READ, MAX_DOCUMENTS_READ)) ||
    stream.bytesRead > soft(Math.min(request.maximumBytesRead ?? MAX_READ_BYTES, MAX_READ_BYTES));
  const keys = stream.keysRead;
  return {
    docs,
    end: endsAt,
    split: keys.length > 2 ? keys[Math.floor(keys.length / 2)]! : null,
    status: stream.overBudget ? "SplitRequired" : approaching || docs.length > SOFT_MAX_PAGE_LENGTH ? "SplitRecommended" : null,
  };
}
