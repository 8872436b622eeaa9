// The single writer. Every function run (and every piece of work that must see a
// consistent database, like re-running subscribed queries) goes through one worker, so
// transactions are trivially serializable. Queued mutations are committed as a group
// (ahead of queued tasks): each runs in its own savepoint, one COMMIT makes them all
// durable (storage.ts says how durable), and only then are their responses released.
import type { JSONValue } from "convex/values";
import { conflictMessage, failure, OVERLOADED_MESSAGE, RETRY_LATER_MESSAGE } from "./errors.js";
import { FaultDice } from "./faults.js";
import { YOUNG_ENTRY_MS } from "./isolate.js";
import type { FunctionRun } from "./function-run.js";
import { Runtime, type ActionBridge, type Outcome, type RuntimeOptions, type UserIdentity, type WriteSet } from "./runtime.js";
import { Storage } from "./storage.js";

export type MutationRequest = {
  udfPath: string;
  args: JSONValue;
  identity: UserIdentity | null;
  /** Present for sync-protocol mutations: a resend of the same key gets the stored answer. */
  dedupe?: { sessionId: string; requestId: number };
  /** Calls from actions may reach internal functions. */
  allowInternal?: boolean;
  /** A scheduled function's `_scheduled_functions` id: it runs only if still pending, and its state commits with it. */
  job?: string;
};

export type MutationResult = {
  outcome: Outcome;
  ts: bigint;
  /**
   * Set when nothing ran or committed and the caller should try again (overloaded, storage
   * busy or full): a sync client's socket is closed so it resends, HTTP answers 503.
   */
  retryable?: true;
};

type Job =
  | { kind: "mutation"; request: MutationRequest; done: (result: MutationResult) => void }
  | { kind: "task"; run: () => Promise<void> };

const MAX_GROUP = 256;
/** How long a commit group's mutations may run before the group commits (see commitGroup). */
const GROUP_BUDGET_MS = 20;
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
  /** Injected faults, when the backend was started with some. */
  dice: FaultDice | null = null;
  /** Told about functions scheduled by each commit. */
  onScheduled: (jobs: Array<{ id: string; at: number }>) => void = () => {};

  private constructor(
    readonly storage: Storage,
    readonly runtime: Runtime,
  ) {
    this.lastTs = BigInt(storage.getMeta(TS_KEY) ?? "0");
  }

  static async open(dataDir: string, functionsDir: string, options: RuntimeOptions): Promise<Engine> {
    const storage = new Storage(dataDir);
    try {
      const runtime = await Runtime.load(storage, functionsDir, options);
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

  /**
   * A client has seen a timestamp we have not (e.g. the data dir was replaced): move past
   * it, but never past our own clock: a client's number is not trusted further than that.
   */
  advanceTo(ts: bigint): void {
    this.exclusive(async () => {
      if (ts <= this.lastTs || ts > BigInt(Date.now()) * 1_000_000n) return;
      this.lastTs = ts;
      this.storage.setMeta(TS_KEY, String(ts));
    }).catch(() => {});
  }

  /** `done` runs right after the commit, before any reactive updates of that commit go out. */
  mutate(request: MutationRequest, done: (result: MutationResult) => void): void {
    if (this.closed) {
      done({ outcome: failure("The local backend is shutting down."), ts: 0n, retryable: true });
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

  /** Runs a query on the latest state, or at `atTs` (consistentQuery) from recent writes' before-images (history.ts). */
  async query(udfPath: string, args: JSONValue, identity: UserIdentity | null, allowInternal = false, atTs?: bigint): Promise<Outcome> {
    return this.exclusive(async () => {
      const readAt = atTs !== undefined && atTs !== this.lastTs ? atTs : undefined;
      return (await this.runtime.invoke(udfPath, "query", args, identity, this.lastTs, { allowInternal, readAt })).outcome;
    });
  }

  /**
   * Actions run outside the worker (they may take long); their runQuery/runMutation calls
   * queue like any client's.
   */
  async action(udfPath: string, args: JSONValue, identity: UserIdentity | null, allowInternal = false): Promise<Outcome> {
    return (await this.runtime.invoke(udfPath, "action", args, identity, this.lastTs, { allowInternal, bridge: this.bridge() })).outcome;
  }

  /** Runs a route of convex/http.ts; like an action, outside the worker. */
  httpAction(request: Request, identity: UserIdentity | null): Promise<Response> {
    return this.runtime.invokeHttp(request, identity, this.bridge());
  }

  /**
   * Runs system bookkeeping (`fn` gets a run whose writes commit together) as a
   * transaction of its own, after everything queued before it.
   */
  system<T>(fn: (run: FunctionRun) => T): Promise<T> {
    return this.exclusive(async () => {
      const writes: WriteSet = new Map();
      let value: T;
      let run: FunctionRun;
      try {
        this.storage.begin();
        run = this.runtime.systemRun(this.nextTs());
        value = fn(run);
        mergeWrites(writes, run.writeSet);
        this.storage.setMeta(TS_KEY, String(this.lastTs));
        this.storage.commit();
      } catch (e) {
        this.storage.rollback();
        throw e;
      }
      if (run.scheduled.length > 0) this.onScheduled(run.scheduled);
      await this.onCommit(this.lastTs, writes).catch((e: Error) => process.emitWarning(`Reactive update failed: ${e.message}`));
      return value;
    });
  }

  private bridge(): ActionBridge {
    return {
      schedule: (op, args) => this.system((run) => run.syscall(op, args)),
      query: (path, a, id) => this.query(path, a, id, true),
      mutation: async (path, a, id) => (await this.mutateAsync({ udfPath: path, args: a, identity: id, allowInternal: true })).outcome,
      action: (path, a, id) => this.action(path, a, id, true),
    };
  }

  private pump(): void {
    if (this.running) return;
    this.running = true;
    this.idle = new Promise((resolve) => (this.markIdle = resolve));
    void this.work();
  }

  /**
   * Mutations go first: every one queued (up to MAX_GROUP) commits as one group, even past
   * tasks queued among them, which then run on the state the group made. Under load the
   * queue holds a subscription change from each client after each push; taken in arrival
   * order they cut the mutations into groups of one, each paying its own commit and its own
   * re-run of every subscribed query. A task only ever sees a later state than it would
   * have in arrival order, which a client cannot tell from a mutation that was sent sooner.
   * But only one group goes first: the tasks that waited for it run before the next group,
   * or steady typing would hold every subscription change back for as long as it lasts.
   */
  private async work(): Promise<void> {
    while (this.queue.length > 0) {
      const group: Array<Extract<Job, { kind: "mutation" }>> = [];
      const tasks: Array<Extract<Job, { kind: "task" }>> = [];
      for (const job of this.queue) {
        if (job.kind === "task") tasks.push(job);
        else if (group.length < MAX_GROUP) group.push(job);
        else break;
      }
      this.queue = this.queue.slice(group.length + tasks.length);
      if (group.length > 0) await this.commitGroup(group);
      for (const task of tasks) await task.run();
    }
    this.running = false;
    this.markIdle();
  }

  /**
   * Runs a group's mutations one after another, each started from the previous one's end,
   * then commits them, answers them and re-runs the subscribed queries the commit touched:
   * all in the group's one realm entry when the mutations needed nothing from outside (one
   * watchdog per commit rather than one for the mutations and another for the queries).
   */
  private commitGroup(group: Array<Extract<Job, { kind: "mutation" }>>): Promise<void> {
    const results: MutationResult[] = [];
    const writes: WriteSet = new Map();
    const scheduled: Array<{ id: string; at: number }> = [];
    const started = performance.now();
    return new Promise<void>((resolve) => {
      let over = false;
      const abandon = (e: unknown): void => {
        if (over) return;
        over = true;
        this.storage.rollback();
        // Busy, locked, full, I/O: nothing of the group is written, and every one of them may
        // be sent again once the storage recovers. The server keeps serving meanwhile.
        process.stderr.write(`[local backend] commit of ${group.length} mutation(s) failed, asking clients to retry: ${(e as Error).message}\n`);
        for (const job of group) answer(job, { outcome: failure(RETRY_LATER_MESSAGE), ts: 0n, retryable: true });
        resolve();
      };
      const commit = (): void => {
        if (over) return;
        try {
          this.storage.setMeta(TS_KEY, String(this.lastTs));
          this.storage.commit();
        } catch (e) {
          abandon(e);
          return;
        }
        over = true;
        if (scheduled.length > 0) this.onScheduled(scheduled);
        // Answered only now that the commit is in the database: a client drops an edit from
        // its pending queue when it hears back.
        group.forEach((job, i) => answer(job, results[i]!));
        this.onCommit(this.lastTs, writes)
          .catch((e: Error) => process.emitWarning(`Reactive update failed: ${e.message}`))
          .finally(resolve);
      };
      const step = (i: number): void => {
        // A long group holds every client's frames, answers and pushes until its COMMIT; and
        // the longer they wait, the further behind their next edits are based, which makes
        // those dearer to run. So a group closes once it has run for GROUP_BUDGET_MS, and
        // the rest goes first in the next one.
        if (i > 0 && i < group.length && performance.now() - started > GROUP_BUDGET_MS) this.queue.unshift(...group.splice(i));
        const job = group[i];
        if (!job) {
          if (performance.now() - started <= YOUNG_ENTRY_MS) commit();
          else setImmediate(commit);
          return;
        }
        this.runOneWith(job.request, writes, scheduled, (result) => {
          if (result instanceof Error) return abandon(result);
          results.push(result);
          step(i + 1);
        });
      };
      try {
        this.storage.begin();
        this.runtime.session(() => step(0));
      } catch (e) {
        abandon(e);
      }
    });
  }

  private runOneWith(
    request: MutationRequest,
    writes: WriteSet,
    scheduled: Array<{ id: string; at: number }>,
    done: (result: MutationResult | Error) => void,
  ): void {
    try {
      const { dedupe } = request;
      if (dedupe) {
        const stored = this.storage.getRequest(dedupe.sessionId, dedupe.requestId);
        if (stored !== undefined) return done(parseStored(stored));
      }
      if (this.dice?.roll(this.dice.faults.overloadRate)) {
        return done({ outcome: failure(OVERLOADED_MESSAGE), ts: 0n, retryable: true });
      }
      if (this.dice?.roll(this.dice.faults.conflictRate)) {
        // As Convex answers after its last retry; nothing is written or remembered.
        return done({ outcome: failure(conflictMessage(null)), ts: 0n });
      }
      const ts = this.nextTs();
      if (request.job && !this.jobPending(request.job)) return done({ outcome: { ok: true, value: null, logLines: [] }, ts });
      this.storage.savepoint();
      this.runtime.invokeWith(request.udfPath, "mutation", request.args, request.identity, ts, { allowInternal: request.allowInternal ?? false }, ({ outcome, run }) => {
        try {
          if (outcome.ok) {
            if (request.job) run.setJobState(request.job, { kind: "success" }, true);
            this.storage.releaseSavepoint();
            mergeWrites(writes, run.writeSet);
            scheduled.push(...run.scheduled);
          } else {
            this.storage.rollbackSavepoint();
            for (const table of run.createdTables) this.storage.forgetTable(table);
            if (request.job) {
              const sys = this.runtime.systemRun(ts);
              sys.setJobState(request.job, { kind: "failed", error: outcome.message }, true);
              mergeWrites(writes, sys.writeSet);
            }
          }
          const result = { outcome, ts };
          if (dedupe) this.storage.putRequest(dedupe.sessionId, dedupe.requestId, storeResult(result), Date.now());
          done(result);
        } catch (e) {
          done(e as Error);
        }
      });
    } catch (e) {
      done(e as Error);
    }
  }

  /** Whether a scheduled job is still waiting to run (not canceled, not already run). */
  jobPending(id: string): boolean {
    const row = this.storage.getDocument(id);
    if (!row) return false;
    return (JSON.parse(row.json) as { state?: { kind?: string } }).state?.kind === "pending";
  }

  /** Stops taking work, waits for what is queued, and closes the database. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.running) await this.idle;
    this.runtime.close();
    this.storage.close();
  }
}

/** Hands a mutation its result; a caller's failure to take it must not stop the engine. */
function answer(job: { done: (result: MutationResult) => void }, result: MutationResult): void {
  try {
    job.done(result);
  } catch (e) {
    process.emitWarning(`A mutation's answer could not be delivered: ${(e as Error).message}`);
  }
}

function storeResult(result: MutationResult): string {
  return JSON.stringify({ ...result.outcome, ts: String(result.ts) });
}

function parseStored(text: string): MutationResult {
  const { ts, ...outcome } = JSON.parse(text) as Outcome & { ts: string };
  return { outcome, ts: BigInt(ts) };
}

function mergeWrites(into: WriteSet, from: WriteSet): void {
  for (const [index, keys] of from) {
    const all = into.get(index);
    if (all) all.push(...keys);
    else into.set(index, [...keys]);
  }
}
