// The single writer. Every function run (and every piece of work that must see a
// consistent database, like re-running subscribed queries) goes through one FIFO
// worker, so transactions are trivially serializable. Consecutive mutations are
// committed as a group: each runs in its own savepoint, one COMMIT (one fsync) makes
// them all durable, and only then are their responses released.
import type { JSONValue } from "convex/values";
import { Runtime, type ActionBridge, type Outcome, type UserIdentity, type WriteSet } from "./runtime.js";
import { Storage } from "./storage.js";

export type MutationRequest = {
  udfPath: string;
  args: JSONValue;
  identity: UserIdentity | null;
  /** Present for sync-protocol mutations: a resend of the same key gets the stored answer. */
  dedupe?: { sessionId: string; requestId: number };
  /** Calls from actions may reach internal functions. */
  allowInternal?: boolean;
};

export type MutationResult = { outcome: Outcome; ts: bigint };

type Job =
  | { kind: "mutation"; request: MutationRequest; done: (result: MutationResult) => void }
  | { kind: "task"; run: () => Promise<void> };

const MAX_GROUP = 256;
const TS_KEY = "last_ts";

export type CommitListener = (ts: bigint, writes: WriteSet) => Promise<void>;

export class Engine {
  private queue: Job[] = [];
  private running = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  private lastTs: bigint;
  private closed = false;
  onCommit: CommitListener = async () => {};

  private constructor(
    readonly storage: Storage,
    readonly runtime: Runtime,
  ) {
    this.lastTs = BigInt(storage.getMeta(TS_KEY) ?? "0");
  }

  static async open(dataDir: string, functionsDir: string): Promise<Engine> {
    const storage = new Storage(dataDir);
    try {
      const runtime = await Runtime.load(storage, functionsDir);
      return new Engine(storage, runtime);
    } catch (e) {
      storage.close();
      throw e;
    }
  }

  /** The timestamp of the latest commit: every query result reflects exactly this state. */
  currentTs(): bigint {
    return this.lastTs;
  }

  /** Wall-clock nanoseconds, but never at or below anything handed out before (even across restarts). */
  private nextTs(): bigint {
    const now = BigInt(Date.now()) * 1_000_000n;
    this.lastTs = now > this.lastTs ? now : this.lastTs + 1n;
    return this.lastTs;
  }

  /** A client has seen a timestamp we have not (e.g. the data dir was replaced): move past it. */
  advanceTo(ts: bigint): void {
    this.exclusive(async () => {
      if (ts <= this.lastTs) return;
      this.lastTs = ts;
      this.storage.setMeta(TS_KEY, String(ts));
    }).catch(() => {});
  }

  /** `done` runs right after the commit, before any reactive updates of that commit go out. */
  mutate(request: MutationRequest, done: (result: MutationResult) => void): void {
    if (this.closed) {
      done({ outcome: { ok: false, message: "The local backend is shutting down.", logLines: [] }, ts: 0n });
      return;
    }
    this.queue.push({ kind: "mutation", request, done });
    this.pump();
  }

  mutateAsync(request: MutationRequest): Promise<MutationResult> {
    return new Promise((resolve) => this.mutate(request, resolve));
  }

  /** Runs `fn` with the database to itself, after everything queued before it. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ kind: "task", run: () => fn().then(resolve, reject) });
      this.pump();
    });
  }

  async query(udfPath: string, args: JSONValue, identity: UserIdentity | null, allowInternal = false): Promise<Outcome> {
    return this.exclusive(
      async () => (await this.runtime.invoke(udfPath, "query", args, identity, this.lastTs, { allowInternal })).outcome,
    );
  }

  /**
   * Actions run outside the worker (they may take long); their runQuery/runMutation calls
   * queue like any client's.
   */
  async action(udfPath: string, args: JSONValue, identity: UserIdentity | null, allowInternal = false): Promise<Outcome> {
    const bridge: ActionBridge = {
      query: (path, a, id) => this.query(path, a, id, true),
      mutation: async (path, a, id) => (await this.mutateAsync({ udfPath: path, args: a, identity: id, allowInternal: true })).outcome,
      action: (path, a, id) => this.action(path, a, id, true),
    };
    return (await this.runtime.invoke(udfPath, "action", args, identity, this.lastTs, { allowInternal, bridge })).outcome;
  }

  private pump(): void {
    if (this.running) return;
    this.running = true;
    this.idle = new Promise((resolve) => (this.markIdle = resolve));
    void this.work();
  }

  private async work(): Promise<void> {
    while (this.queue.length > 0) {
      const head = this.queue[0]!;
      if (head.kind === "task") {
        this.queue.shift();
        await head.run();
        continue;
      }
      let n = 0;
      while (n < this.queue.length && n < MAX_GROUP && this.queue[n]!.kind === "mutation") n++;
      const group = this.queue.splice(0, n) as Array<Extract<Job, { kind: "mutation" }>>;
      await this.commitGroup(group);
    }
    this.running = false;
    this.markIdle();
  }

  private async commitGroup(group: Array<Extract<Job, { kind: "mutation" }>>): Promise<void> {
    const results: MutationResult[] = [];
    const writes: WriteSet = new Map();
    this.storage.begin();
    try {
      for (const job of group) results.push(await this.runOne(job.request, writes));
      this.storage.setMeta(TS_KEY, String(this.lastTs));
      this.storage.commit();
    } catch (e) {
      this.storage.rollback();
      const message = `Commit failed: ${(e as Error).message}`;
      for (const job of group) job.done({ outcome: { ok: false, message, logLines: [] }, ts: 0n });
      return;
    }
    group.forEach((job, i) => job.done(results[i]!));
    try {
      await this.onCommit(this.lastTs, writes);
    } catch (e) {
      process.emitWarning(`Reactive update failed: ${(e as Error).message}`);
    }
  }

  private async runOne(request: MutationRequest, writes: WriteSet): Promise<MutationResult> {
    const { dedupe } = request;
    if (dedupe) {
      const stored = this.storage.getRequest(dedupe.sessionId, dedupe.requestId);
      if (stored !== undefined) return parseStored(stored);
    }
    const ts = this.nextTs();
    this.storage.savepoint();
    const { outcome, run } = await this.runtime.invoke(request.udfPath, "mutation", request.args, request.identity, ts, {
      allowInternal: request.allowInternal ?? false,
    });
    if (outcome.ok) {
      this.storage.releaseSavepoint();
      for (const [index, keys] of run.writeSet) {
        const all = writes.get(index);
        if (all) all.push(...keys);
        else writes.set(index, [...keys]);
      }
    } else {
      this.storage.rollbackSavepoint();
      for (const table of run.createdTables) this.storage.forgetTable(table);
    }
    const result = { outcome, ts };
    if (dedupe) this.storage.putRequest(dedupe.sessionId, dedupe.requestId, storeResult(result));
    return result;
  }

  /** Stops taking work, waits for what is queued, and closes the database. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await this.idle;
    this.storage.close();
  }
}

function storeResult(result: MutationResult): string {
  return JSON.stringify({ ...result.outcome, ts: String(result.ts) });
}

function parseStored(text: string): MutationResult {
  const { ts, ...outcome } = JSON.parse(text) as Outcome & { ts: string };
  return { outcome, ts: BigInt(ts) };
}
