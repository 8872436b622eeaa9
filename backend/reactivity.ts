// Subscribed queries. Identical subscriptions (same function, args and identity) share
// one entry, so a commit re-runs each affected query once however many clients watch
// it. An entry is re-run only when a commit wrote an index key inside a range the
// query read, and its subscribers hear about it only when the result changed.
import type { JSONValue } from "convex/values";
import type { Engine } from "./engine.js";
import type { QueryJournal } from "./pages.js";
import { encodeResult } from "./protocol.js";
import { keysInRanges } from "./reads.js";
import type { Outcome, ReadSet, UserIdentity, WriteSet } from "./runtime.js";

export interface Subscriber {
  /** Called (inside the engine's exclusive section) when a query's result changed. */
  queryChanged(queryId: number, entry: QueryEntry): void;
}

export class QueryEntry {
  outcome: Outcome = { ok: true, value: null, logLines: [] };
  readSet: ReadSet = new Map();
  fingerprint = "";
  readonly subscribers = new Map<Subscriber, Set<number>>();
  /** No one subscribes any more: a run still under way must not put it back in the index. */
  dropped = false;

  constructor(
    readonly udfPath: string,
    readonly args: JSONValue,
    readonly identity: UserIdentity | null,
    /** Each run repeats the last one's decisions (where its page ends); starts as the client's. */
    public journal: QueryJournal = null,
  ) {}

  /**
   * What identical subscriptions share: function, arguments, identity and the journal the
   * entry holds now. A paginated entry's first run fixes its page end, so a fresh subscriber
   * (no journal) gets a page of its own rather than one that grew since.
   */
  get key(): string {
    return entryKey(this.udfPath, this.args, this.identity, this.journal);
  }
}

function entryKey(udfPath: string, args: JSONValue, identity: UserIdentity | null, journal: QueryJournal): string {
  return `${udfPath}\u0000${JSON.stringify(args)}\u0000${identity ? JSON.stringify(identity) : ""}\u0000${JSON.stringify(journal)}`;
}

function fingerprint(outcome: Outcome): string {
  return outcome.ok
    ? `ok:${encodeResult(outcome.value)}:${outcome.logLines.join("\n")}`
    : `err:${outcome.message}:${JSON.stringify(outcome.data ?? null)}`;
}

export class Reactivity {
  private entries = new Map<string, QueryEntry>();
  /** Entries by the index names their read sets touch, to find candidates for a write quickly. */
  private byIndex = new Map<string, Set<QueryEntry>>();

  constructor(private readonly engine: Engine) {}

  /** Must run inside `engine.exclusive`. */
  async subscribe(
    subscriber: Subscriber,
    queryId: number,
    udfPath: string,
    args: JSONValue,
    identity: UserIdentity | null,
    journal: QueryJournal = null,
  ): Promise<QueryEntry> {
    let entry = this.entries.get(entryKey(udfPath, args, identity, journal));
    if (!entry) {
      const fresh = new QueryEntry(udfPath, args, identity, journal);
      await this.evaluate(fresh);
      // Its run may have fixed a journal some watched entry already holds: then that one is shared.
      const same = this.entries.get(fresh.key);
      if (same) this.drop(fresh);
      else this.entries.set(fresh.key, fresh);
      entry = same ?? fresh;
    }
    const ids = entry.subscribers.get(subscriber);
    if (ids) ids.add(queryId);
    else entry.subscribers.set(subscriber, new Set([queryId]));
    return entry;
  }

  unsubscribe(subscriber: Subscriber, queryId: number, entry: QueryEntry): void {
    const ids = entry.subscribers.get(subscriber);
    if (!ids) return;
    ids.delete(queryId);
    if (ids.size === 0) entry.subscribers.delete(subscriber);
    if (entry.subscribers.size === 0) this.drop(entry);
  }

  private drop(entry: QueryEntry): void {
    entry.dropped = true;
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    for (const index of entry.readSet.keys()) this.byIndex.get(index)?.delete(entry);
  }

  private evaluate(entry: QueryEntry): Promise<void> {
    return new Promise((resolve) => this.evaluateWith(entry, resolve));
  }

  private evaluateWith(entry: QueryEntry, done: () => void): void {
    for (const index of entry.readSet.keys()) this.byIndex.get(index)?.delete(entry);
    this.engine.runtime.invokeWith(entry.udfPath, "query", entry.args, entry.identity, this.engine.currentTs(), { journal: entry.journal }, ({ outcome, run }) => {
      entry.outcome = outcome;
      if (outcome.ok && run.journal !== entry.journal) {
        // Found by its journal from now on (a re-run ends where the last one did, so this is rare).
        const indexed = this.entries.get(entry.key) === entry;
        if (indexed) this.entries.delete(entry.key);
        entry.journal = run.journal;
        if (indexed && !this.entries.has(entry.key)) this.entries.set(entry.key, entry);
      }
      entry.readSet = run.readSet;
      entry.fingerprint = fingerprint(outcome);
      for (const index of entry.dropped ? [] : entry.readSet.keys()) {
        let set = this.byIndex.get(index);
        if (!set) this.byIndex.set(index, (set = new Set()));
        set.add(entry);
      }
      done();
    });
  }

  /**
   * Re-runs the entries a commit may have changed (while the commit goes to disk) and tells
   * subscribers about real changes. Exclusive.
   */
  async afterCommit(writes: WriteSet): Promise<void> {
    const stale = new Set<QueryEntry>();
    for (const [index, keys] of writes) {
      for (const entry of this.byIndex.get(index) ?? []) {
        if (stale.has(entry)) continue;
        const ranges = entry.readSet.get(index) ?? [];
        if (keysInRanges(keys, ranges)) stale.add(entry);
      }
    }
    const entries = [...stale];
    if (entries.length > 0) {
      // One after another, in one realm entry when they need nothing from outside.
      await new Promise<void>((resolve) => {
        const step = (i: number): void => {
          const entry = entries[i];
          if (!entry) return resolve();
          // Unsubscribed since the commit (a client's Remove is applied as it arrives).
          if (entry.dropped) return step(i + 1);
          const before = entry.fingerprint;
          this.evaluateWith(entry, () => {
            if (entry.fingerprint !== before) {
              for (const [subscriber, ids] of entry.subscribers) for (const id of ids) subscriber.queryChanged(id, entry);
            }
            step(i + 1);
          });
        };
        this.engine.runtime.session(() => step(0));
      });
    }
  }
}
