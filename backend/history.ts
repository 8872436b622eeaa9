// Reads at an earlier timestamp (ConvexHttpClient.consistentQuery), served from the latest
// state plus the before-images of the documents written since. Every write records the
// document as it was, tagged with the writing mutation's timestamp; the state of a document
// at T is then its before-image in the first write after T, or the stored document if
// nothing wrote it since. A write that was rolled back leaves a before-image equal to the
// state it found, so it never misleads a read. Only recent writes are kept (by count and
// bytes); a read older than what is kept, or older than the history (a restart), is refused.
import { indexKey, type Catalog } from "./catalog.js";
import { NOT_SUPPORTED, SystemError } from "./errors.js";
import { parseDoc } from "./reads.js";
import type { ScannedRow, Storage } from "./storage.js";

/** What reads go through: the storage itself, or a view of it at an earlier timestamp. */
export type Reader = Pick<Storage, "getDocument" | "scan" | "countEntries">;

type Write = { ts: bigint; id: string; table: string; before: string | null };

const MAX_WRITES = 20_000;
const MAX_BYTES = 32 << 20;

export class WriteHistory {
  private writes: Write[] = [];
  private bytes = 0;
  /** Reads at or after this timestamp can be served: no write after it was forgotten. */
  private horizon: bigint;

  constructor(startTs: bigint) {
    this.horizon = startTs;
  }

  record(ts: bigint, id: string, table: string, before: string | null): void {
    this.writes.push({ ts, id, table, before });
    this.bytes += before?.length ?? 0;
    if (this.writes.length > MAX_WRITES || this.bytes > MAX_BYTES) this.prune();
  }

  /** Moves the writes recorded at `from` to `to`: a mutation parked around an outside wait commits later than it started. */
  retime(from: bigint, to: bigint): void {
    for (const write of this.writes) if (write.ts === from) write.ts = to;
  }

  /** Forgets the oldest writes, down to 3/4 of the limits (so this runs once per many writes). */
  private prune(): void {
    let drop = 0;
    while (drop < this.writes.length && (this.writes.length - drop > (MAX_WRITES * 3) / 4 || this.bytes > (MAX_BYTES * 3) / 4)) {
      const gone = this.writes[drop++]!;
      this.bytes -= gone.before?.length ?? 0;
      if (gone.ts > this.horizon) this.horizon = gone.ts;
    }
    this.writes.splice(0, drop);
  }

  /** The documents written after `ts`, each as it was at `ts` (null: it did not exist). */
  changedSince(ts: bigint): Map<string, { table: string; json: string | null }> {
    if (ts < this.horizon) {
      throw new SystemError(
        `Reading at a timestamp this old is ${NOT_SUPPORTED}: it keeps the documents' earlier versions only for ` +
          `its last ${MAX_WRITES} writes since it started.`,
      );
    }
    const changed = new Map<string, { table: string; json: string | null }>();
    for (const write of this.writes) {
      if (write.ts > ts && !changed.has(write.id)) changed.set(write.id, { table: write.table, json: write.before });
    }
    return changed;
  }
}

const histories = new WeakMap<Storage, WriteHistory>();

/**
 * The write history of a storage, started at `ts` when it does not exist yet: the first run
 * after the backend starts creates it, so nothing it does not know about comes after `ts`.
 */
export function historyOf(storage: Storage, ts: bigint): WriteHistory {
  let history = histories.get(storage);
  if (!history) histories.set(storage, (history = new WriteHistory(ts)));
  return history;
}

/** The storage as it was at `ts`, for reads only. */
export function readerAt(storage: Storage, catalog: Catalog, history: WriteHistory, ts: bigint): Reader {
  const changed = history.changedSince(ts);
  if (changed.size === 0) return storage;
  const tableOf = (index: string) => index.slice(0, index.indexOf("."));
  return {
    getDocument(id) {
      const then = changed.get(id);
      if (!then) return storage.getDocument(id);
      return then.json === null ? undefined : { json: then.json, tableNumber: storage.tableNumber(then.table) ?? -1 };
    },
    scan(index, lo, hi, order, limit) {
      const def = catalog.index(index);
      // Rows written since `ts` are dropped from the current scan and put back as they were.
      const current = storage.scanWithIds(index, lo, hi, order, limit + changed.size);
      const rows: ScannedRow[] = current.filter((row) => !changed.has(row.id));
      const table = tableOf(index);
      if (def) {
        for (const then of changed.values()) {
          if (then.table !== table || then.json === null) continue;
          const key = indexKey(def, parseDoc(then.json));
          if (Buffer.compare(key, lo) >= 0 && Buffer.compare(key, hi) < 0) rows.push({ key, json: then.json });
        }
      }
      rows.sort((a, b) => (order === "asc" ? Buffer.compare(a.key, b.key) : Buffer.compare(b.key, a.key)));
      // Past the last current row fetched, the current rows are unknown: cut there.
      const last = current.length === limit + changed.size ? current[current.length - 1] : undefined;
      const known = last
        ? rows.filter((row) => (order === "asc" ? Buffer.compare(row.key, last.key) <= 0 : Buffer.compare(row.key, last.key) >= 0))
        : rows;
      return known.slice(0, limit);
    },
    countEntries(index) {
      const table = tableOf(index);
      let count = storage.countEntries(index);
      for (const [id, then] of changed) {
        if (then.table !== table) continue;
        if (storage.getDocument(id)) count--;
        if (then.json !== null) count++;
      }
      return count;
    },
  };
}
