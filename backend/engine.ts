// The single writer, optimistic around outside waits. Every function run (and every piece
// of work that must see a consistent database, like re-running subscribed queries) goes
// through one worker. Queued mutations are committed as a group (ahead of queued tasks):
// each runs in its own savepoint, one COMMIT takes them all in, and once it is on disk
// (storage.ts says how) their responses are released. The worker does not wait for the
// disk: the next group runs while the last one syncs, and everything sent (answers,
// pushes, query results) waits for the commits it shows (`afterDurable`). A group also
// stays open while the updates to clients run over their budget (pushBudget.ts), so under
// a stream of commits to many watchers each update carries several.
//
// A mutation that waits for something outside the database (Web Crypto) does not hold the
// others up, as on Convex: its writes are taken out of the transaction (kept as a journal),
// the group goes on, and when its answer comes it resumes in a later group: if nothing
// committed meanwhile wrote inside a range it read, its writes are put back and it runs on;
// otherwise it is run again from the start, up to Convex's retry limit, after which it fails
// with Convex's conflict error. `serialMutations` turns this off (a waiting mutation holds
// the worker), for debugging.
import type { JSONValue } from "convex/values";
import { DiskSync } from "./diskSync.js";
import { conflictMessage, failure, OVERLOADED_MESSAGE, RETRY_LATER_MESSAGE } from "./errors.js";
import { FaultDice } from "./faults.js";
import { YOUNG_ENTRY_MS } from "./isolate.js";
import type { FunctionRun } from "./function-run.js";
import { historyOf } from "./history.js";
import { CommitLog } from "./occ.js";
import { PushBudget } from "./pushBudget.js";
import { Runtime, type ActionBridge, type Invoked, type Outcome, type RuntimeOptions, type UserIdentity, type WriteSet } from "./runtime.js";
import { ReplayClash, Storage, type StorageOp } from "./storage.js";

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

/** Convex retries a conflicting mutation this many times (UDF_EXECUTOR_OCC_MAX_RETRIES in its knobs). */
export const MAX_CONFLICT_RETRIES = 4;

export type EngineOptions = {
  /** Run each mutation to completion before the next, even while it waits outside (debugging). */
  serialMutations?: boolean;
  /** Test seam: an outside answer for a mutation is held until this settles (attempt counts from 0). */
  holdOutsideAnswer?: (udfPath: string, attempt: number) => Promise<void>;
  /** Test seam: each commit counts as on disk only once this settles too (a slow disk). */
  holdDurable?: () => Promise<void>;
  /** Test seam: the updates to clients a second, sustained and at once (pushBudget.ts has the defaults). */
  pushBudget?: { perSecond: number; burst: number };
};

/** Contention, per function and in total (benchmarks read it). */
export type ContentionStats = {
  /** COMMITs: each takes a group of mutations (or system bookkeeping) in. */
  commits: number;
  /**
   * Entries into the realm queries and mutations run in. Each is watched (watchdog.ts): a
   * few µs, or ~0.15 ms idle and ~1 ms on busy cores where it falls back to vm's timeout.
   */
  realmEntries: number;
  /** Mutations answered, retries because of a conflict, and those failed after the last retry. */
  mutations: number;
  retries: number;
  failedAfterRetries: number;
  /** How many mutations were retried 0, 1, 2, … times. */
  retriesPerMutation: number[];
  /**
   * Mutations a commit after their arrival conflicted with: what Convex, running them all
   * at once, would have retried (counted in both modes; the queue keeps them apart here).
   */
  wouldConflict: number;
  byFunction: Record<string, { mutations: number; retries: number; failedAfterRetries: number; wouldConflict: number }>;
};

/** One mutation request, across its attempts. */
type Pending = {
  request: MutationRequest;
  listeners: Array<(result: MutationResult) => void>;
  retries: number;
  /** Commit-log position at arrival (pinned until answered). */
  arrival: number;
  /** When it was queued (performance.now()). */
  queuedAt: number;
  answered: boolean;
};

/** One run of a mutation, possibly parked around outside waits. */
type Attempt = {
  pending: Pending;
  ts: bigint;
  /** Commit-log position at its start (pinned while it lives). */
  start: number;
  run: FunctionRun | null;
  /** Its writes so far, to take out of the transaction and put back. */
  ops: StorageOp[];
  /** Outside answers waiting to be delivered when it resumes. */
  answers: Array<() => void>;
  parked: boolean;
  /** When it was last parked (performance.now()). */
  parkedAt: number;
  resumeQueued: boolean;
  /** Parked in a group that was rolled back: it may have read writes that never were. */
  doomed: boolean;
  /** Finished or given up: its late answers are dropped. */
  over: boolean;
  /** The group step it runs in, while it runs (not while parked). */
  group: { sink: GroupSink; next: (outcome: Step | Error) => void } | null;
};

type GroupJob = { kind: "mutation"; pending: Pending } | { kind: "resume"; attempt: Attempt };
type Job = GroupJob | { kind: "task"; run: () => Promise<void> };

/** What a group step ended with. */
type Step = { kind: "done"; pending: Pending; result: MutationResult } | { kind: "parked" };

/** A group's shared results: what its commit wrote and scheduled. */
type GroupSink = { writes: WriteSet; scheduled: Array<{ id: string; at: number }> };

const MAX_GROUP = 256;
/** How long a commit group's mutations may run before the group commits (see commitGroup)... */
const GROUP_BUDGET_MS = 20;
/** ...unless its first mutation waited longer than this: then a quarter of that wait, up to MAX_GROUP_BUDGET_MS. */
const BACKLOG_MS = 250;
const MAX_GROUP_BUDGET_MS = 200;
/** A group lets the event loop in after running this long in one turn. */
const TURN_MS = 5;
const NO_WRITES: WriteSet = new Map();
const TS_KEY = "last_ts";

/**
 * Told about each commit as soon as it is in the database, before it is on disk: whatever
 * it sends about the commit goes through `afterDurable`. Answers how many clients it sent
 * an update to (the push budget counts them).
 */
export type CommitListener = (ts: bigint, writes: WriteSet) => Promise<number>;

export class Engine {
  private queue: Job[] = [];
  private running = false;
  private idle: Promise<void> = Promise.resolve();
  private markIdle: () => void = () => {};
  private lastTs: bigint;
  private closed = false;
  onCommit: CommitListener = async () => 0;
  /** Injected faults, when the backend was started with some. */
  dice: FaultDice | null = null;
  /** Told about functions scheduled by each commit. */
  onScheduled: (jobs: Array<{ id: string; at: number }>) => void = () => {};
  private readonly log = new CommitLog();
  /** Sync-protocol mutations under way, by dedupe key: a resend meanwhile waits for the same answer. */
  private inFlight = new Map<string, Pending>();
  /** The attempt whose code is running now, and those parked around outside waits. */
  private executing: Attempt | null = null;
  private parked = new Set<Attempt>();
  private attempts = new WeakMap<FunctionRun, Attempt>();
  /** COMMITs so far and which of them are on disk (diskSync.ts). */
  private readonly disk: DiskSync;
  /** The updates to clients that commits may send (pushBudget.ts). */
  private readonly pushBudget: PushBudget;
  /** The open group while it waits for the last commit's sync: it takes mutations as they come. */
  private joinable: ((job: GroupJob) => boolean) | null = null;
  private stats: Omit<ContentionStats, "commits" | "realmEntries"> = { mutations: 0, retries: 0, failedAfterRetries: 0, retriesPerMutation: [], wouldConflict: 0, byFunction: {} };

  private constructor(
    readonly storage: Storage,
    readonly runtime: Runtime,
    private readonly options: EngineOptions,
  ) {
    this.lastTs = BigInt(storage.getMeta(TS_KEY) ?? "0");
    this.disk = new DiskSync(
      () => Promise.all([storage.durable(), options.holdDurable?.()]),
      (message) => process.stderr.write(`[local backend] ${message}\n`),
    );
    this.pushBudget = new PushBudget(performance.now(), options.pushBudget?.perSecond, options.pushBudget?.burst);
    if (!options.serialMutations) {
      runtime.setOutsideGate({ waiting: (run) => this.waiting(run), answered: (run, resume) => this.answered(run, resume) });
    }
  }

  static async open(dataDir: string, functionsDir: string, options: RuntimeOptions, engineOptions: EngineOptions = {}): Promise<Engine> {
    const storage = new Storage(dataDir);
    try {
      const runtime = await Runtime.load(storage, functionsDir, options);
      return new Engine(storage, runtime, engineOptions);
    } catch (e) {
      await storage.close();
      throw e;
    }
  }

  /** The timestamp of the latest commit: every query result reflects exactly this state. */
  currentTs(): bigint {
    return this.lastTs;
  }

  /** Conflicts and retries so far (a copy). */
  contention(): ContentionStats {
    return structuredClone({ commits: this.disk.commits, realmEntries: this.runtime.realmEntries, ...this.stats });
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

  /**
   * `done` runs right after the commit, before it is on disk and before the commit's
   * reactive updates are made: what it sends goes through `afterDurable`.
   */
  mutate(request: MutationRequest, done: (result: MutationResult) => void): void {
    if (this.closed) {
      done({ outcome: failure("The local backend is shutting down."), ts: 0n, retryable: true });
      return;
    }
    const key = request.dedupe && dedupeKey(request.dedupe);
    const same = key ? this.inFlight.get(key) : undefined;
    if (same) {
      // A resend while the first is still under way (parked): one run, one answer for both.
      same.listeners.push(done);
      return;
    }
    const pending: Pending = { request, listeners: [done], retries: 0, arrival: this.log.pin(), queuedAt: performance.now(), answered: false };
    if (key) this.inFlight.set(key, pending);
    const job: GroupJob = { kind: "mutation", pending };
    if (this.joinable?.(job)) return;
    this.queue.push(job);
    this.pump();
  }

  /** The result once the mutation's commit is on disk (for callers that answer at once). */
  mutateAsync(request: MutationRequest): Promise<MutationResult> {
    return new Promise((resolve) => this.mutate(request, (result) => this.afterDurable(() => resolve(result))));
  }

  /**
   * Runs `then` once everything committed so far is on disk: at once if it is. Every frame
   * and answer that shows the database's state goes through here, so nothing is seen that
   * a crash could take back, while the next commit group runs as the last one syncs.
   */
  afterDurable(then: () => void): void {
    this.disk.afterDurable(then);
  }

  /** Re-runs what clients watch after a commit and counts the updates against the push budget. */
  private async updateClients(writes: WriteSet): Promise<void> {
    try {
      this.pushBudget.spend(await this.onCommit(this.lastTs, writes), performance.now());
    } catch (e) {
      process.emitWarning(`Reactive update failed: ${(e as Error).message}`);
    }
  }

  /** `afterDurable` as a promise. */
  durableNow(): Promise<void> {
    return this.disk.durableNow();
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
    const { outcome, onDisk } = await this.exclusive(async () => {
      const readAt = atTs !== undefined && atTs !== this.lastTs ? atTs : undefined;
      const { outcome } = await this.runtime.invoke(udfPath, "query", args, identity, this.lastTs, { allowInternal, readAt });
      return { outcome, onDisk: this.durableNow() };
    });
    await onDisk;
    return outcome;
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
  async system<T>(fn: (run: FunctionRun) => T): Promise<T> {
    const { value, onDisk } = await this.exclusive(async () => {
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
      this.disk.committed();
      this.log.append(writes);
      if (run.scheduled.length > 0) this.onScheduled(run.scheduled);
      await this.updateClients(writes);
      return { value, onDisk: this.durableNow() };
    });
    await onDisk;
    return value;
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
   * Mutations go first: every one queued (up to MAX_GROUP), and every parked one whose
   * outside answer came, commits as one group, even past tasks queued among them, which
   * then run on the state the group made. Under load the queue holds a subscription change
   * from each client after each push; taken in arrival order they cut the mutations into
   * groups of one, each paying its own commit and its own re-run of every subscribed query.
   * A task only ever sees a later state than it would have in arrival order, which a
   * client cannot tell from a mutation that was sent sooner. But only one group goes
   * first: the tasks that waited for it run before the next group, or steady typing would
   * hold every subscription change back for as long as it lasts.
   */
  private async work(): Promise<void> {
    while (this.queue.length > 0) {
      const group: GroupJob[] = [];
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
   * Runs a group's mutations one after another, each started from the previous one's end
   * (one that waits outside is parked and the next one starts), then commits them, answers
   * them and re-runs the subscribed queries the commit touched: all in the group's one
   * realm entry when the mutations needed nothing from outside (one watchdog per commit
   * rather than one for the mutations and another for the queries).
   */
  private commitGroup(group: GroupJob[]): Promise<void> {
    const done: Array<{ pending: Pending; result: MutationResult }> = [];
    const sink: GroupSink = { writes: new Map(), scheduled: [] };
    const started = performance.now();
    const first = group[0];
    const waited = first?.kind === "mutation" ? started - first.pending.queuedAt : 0;
    const budget = waited > BACKLOG_MS ? Math.min(MAX_GROUP_BUDGET_MS, waited / 4) : GROUP_BUDGET_MS;
    const logAtStart = this.log.head;
    let current: Pending | null = null;
    let reached = -1;
    return new Promise<void>((resolve) => {
      let over = false;
      const abandon = (e: unknown): void => {
        if (over) return;
        over = true;
        this.storage.journal = null;
        this.storage.rollback();
        this.log.dropAfter(logAtStart);
        // What is parked may have read this group's writes, which now never were.
        for (const attempt of this.parked) attempt.doomed = true;
        const executing = this.executing;
        if (executing) this.giveUp(executing);
        // Busy, locked, full, I/O: nothing of the group is written, and every one of them may
        // be sent again once the storage recovers. The server keeps serving meanwhile.
        process.stderr.write(`[local backend] commit of ${group.length} mutation(s) failed, asking clients to retry: ${(e as Error).message}\n`);
        const unanswered = [...done.map((d) => d.pending), ...(current ? [current] : [])];
        for (const job of group.slice(reached + 1)) {
          if (job.kind === "resume") this.giveUp(job.attempt);
          unanswered.push(job.kind === "mutation" ? job.pending : job.attempt.pending);
        }
        for (const pending of unanswered) this.answer(pending, { outcome: failure(RETRY_LATER_MESSAGE), ts: 0n, retryable: true });
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
        this.disk.committed();
        if (sink.scheduled.length > 0) this.onScheduled(sink.scheduled);
        // The answers and the re-runs' updates are made now and leave once the commit is on
        // disk (afterDurable): a client drops an edit from its pending queue when it hears
        // back. The next group does not wait for the disk: at 50 typists the sync was two
        // fifths of the worker's time. It commits on top of this one, and what it sends
        // waits for its own sync, which covers this one too.
        for (const { pending, result } of done) this.answer(pending, result);
        void this.updateClients(sink.writes).then(resolve);
      };
      // While the last commit syncs, the group stays open and takes what arrives (within its
      // budget): each sync then covers one group, and the mutations run while the disk works.
      // Committing at once instead made groups of one, each re-running every subscribed query.
      // Likewise while the updates to clients are over their budget (pushBudget.ts).
      let turnStarted = started;
      const stayOpen = (i: number): boolean => {
        const now = performance.now();
        const left = budget - (now - started);
        const onDisk = this.disk.allOnDisk;
        const pushWait = this.pushBudget.waitMs(now);
        if ((onDisk && pushWait === 0) || group.length >= MAX_GROUP || left <= 0) return false;
        let open = true;
        const go = (): void => {
          if (!open) return;
          open = false;
          this.joinable = null;
          clearTimeout(timer);
          turnStarted = performance.now();
          this.runtime.session(() => step(i));
        };
        const timer = setTimeout(go, onDisk ? Math.min(pushWait, left) : left);
        let joined = false;
        this.joinable = (job) => {
          if (!open) return false;
          group.push(job);
          // Run from the engine's own stack, after every frame this turn of the event loop
          // read: those that arrive together share one realm entry (joining at once made
          // an entry per mutation at 50 typists). An entry costs its watching, and a thread
          // where Node's vm timeout watches it (watchdog.ts).
          if (!joined) setImmediate(go);
          joined = true;
          return true;
        };
        // Not inside the sync's callback: the frames it released are written there, and
        // they leave (uncorked) only once that callback's turn ends, which a realm entry run
        // from it would make them wait for. (Once on disk, `step` asks again: the push
        // budget may still hold the group.)
        if (!onDisk) this.afterDurable(() => setImmediate(go));
        return true;
      };
      const step = (i: number): void => {
        if (over) return;
        // A long group holds every client's frames, answers and pushes until its COMMIT; and
        // the longer they wait, the further behind their next edits are based, which makes
        // those dearer to run. So a group closes once it has run for its budget, and the
        // rest goes first in the next one. But behind a backlog each group's COMMIT, sync
        // to disk, re-runs, pushes and the subscription changes queued meanwhile are what
        // the queue waits for: a submit made a second behind costs three times one at the
        // head, so short groups drain it slower than it fills. Then groups run longer.
        if (i > 0 && i < group.length && performance.now() - started > budget) this.queue.unshift(...group.splice(i));
        // The mutations run one after another in one turn of the event loop; every few ms the
        // group lets it in, so the last group's answers and pushes leave as soon as its sync
        // lands, and frames that arrived are read.
        if (i > 0 && i < group.length && performance.now() - turnStarted > TURN_MS) {
          setImmediate(() => {
            turnStarted = performance.now();
            this.runtime.session(() => step(i));
          });
          return;
        }
        const job = group[i];
        if (!job) {
          current = null;
          if (stayOpen(i)) return;
          if (performance.now() - started <= YOUNG_ENTRY_MS) commit();
          else setImmediate(commit);
          return;
        }
        reached = i;
        current = job.kind === "mutation" ? job.pending : job.attempt.pending;
        const next = (outcome: Step | Error): void => {
          if (outcome instanceof Error) return abandon(outcome);
          if (outcome.kind === "done") done.push(outcome);
          current = null;
          // After a park the rest of the group starts a fresh realm entry of its own.
          if (outcome.kind === "parked") this.runtime.session(() => step(i + 1));
          else step(i + 1);
        };
        if (job.kind === "mutation") this.start(job.pending, sink, next);
        else this.resume(job.attempt, sink, next);
      };
      try {
        this.storage.begin();
        this.runtime.session(() => step(0));
      } catch (e) {
        abandon(e);
      }
    });
  }

  /** Starts a mutation (again, after a conflict) inside the group's transaction. */
  private start(pending: Pending, sink: GroupSink, next: (outcome: Step | Error) => void): void {
    try {
      const { request } = pending;
      const { dedupe } = request;
      if (dedupe) {
        const stored = this.storage.getRequest(dedupe.sessionId, dedupe.requestId);
        if (stored !== undefined) return next({ kind: "done", pending, result: parseStored(stored) });
      }
      if (this.dice?.roll(this.dice.faults.overloadRate)) {
        return next({ kind: "done", pending, result: { outcome: failure(OVERLOADED_MESSAGE), ts: 0n, retryable: true } });
      }
      if (this.dice?.roll(this.dice.faults.conflictRate)) {
        // As Convex answers after its last retry; nothing is written or remembered.
        return next({ kind: "done", pending, result: { outcome: failure(conflictMessage(null)), ts: 0n } });
      }
      const ts = this.nextTs();
      if (request.job && !this.jobPending(request.job)) return next({ kind: "done", pending, result: { outcome: { ok: true, value: null, logLines: [] }, ts } });
      const attempt: Attempt = {
        pending,
        ts,
        start: this.log.pin(),
        run: null,
        ops: [],
        answers: [],
        parked: false,
        parkedAt: 0,
        resumeQueued: false,
        doomed: false,
        over: false,
        group: null,
      };
      this.storage.savepoint();
      this.enter(attempt, sink, next);
      this.runtime.invokeWith(request.udfPath, "mutation", request.args, request.identity, ts, { allowInternal: request.allowInternal ?? false }, (invoked) => {
        if (attempt.over) return; // Given up on (a conflict, a failed group): nothing of it counts.
        attempt.run ??= invoked.run;
        if (attempt.group) return this.finish(attempt, invoked);
        // It failed while parked (its outside wait timed out): nothing of it is in the database.
        this.giveUp(attempt);
        if (request.job && !invoked.outcome.ok) {
          const { job } = request;
          const message = invoked.outcome.message;
          this.system((run) => run.setJobState(job, { kind: "failed", error: message }, true)).catch((e: Error) =>
            process.stderr.write(`[local backend] could not mark scheduled job ${job} failed: ${e.message}\n`),
          );
        }
        this.answer(attempt.pending, { outcome: invoked.outcome, ts: this.lastTs });
      });
    } catch (e) {
      next(e as Error);
    }
  }

  /** Makes `attempt` the running one: its writes are journaled (for a park). */
  private enter(attempt: Attempt, sink: GroupSink, next: (outcome: Step | Error) => void): void {
    attempt.group = { sink, next };
    this.executing = attempt;
    if (!this.options.serialMutations) this.storage.journal = attempt.ops;
  }

  /** An attempt finished running (whatever its outcome): keep or undo its writes, and record its answer. */
  private finish(attempt: Attempt, { outcome, run }: Invoked): void {
    const { sink, next } = attempt.group!;
    try {
      const { pending } = attempt;
      const { request } = pending;
      this.release(attempt);
      attempt.over = true;
      this.log.unpin(attempt.start);
      // One that was parked commits now, after what committed while it waited: so do its
      // writes' before-images (reads at a timestamp in between must not see them).
      const ts = attempt.parked ? this.nextTs() : attempt.ts;
      if (attempt.parked) historyOf(this.storage, ts).retime(attempt.ts, ts);
      let writes: WriteSet = NO_WRITES;
      if (outcome.ok) {
        if (request.job) run.setJobState(request.job, { kind: "success" }, true);
        this.storage.releaseSavepoint();
        writes = run.writeSet;
        sink.scheduled.push(...run.scheduled);
      } else {
        this.storage.rollbackSavepoint();
        for (const table of run.createdTables) this.storage.forgetTable(table);
        if (request.job) writes = this.failJob(request.job, ts, outcome.message);
      }
      if (this.log.conflict(run.readSet, pending.arrival) !== null) this.count(request.udfPath, "wouldConflict");
      this.log.append(writes);
      mergeWrites(sink.writes, writes);
      const result = { outcome, ts };
      if (request.dedupe) this.storage.putRequest(request.dedupe.sessionId, request.dedupe.requestId, storeResult(result), Date.now());
      next({ kind: "done", pending, result });
    } catch (e) {
      next(e as Error);
    }
  }

  /** Marks a scheduled mutation's job failed, in the group's transaction; returns the writes. */
  private failJob(job: string, ts: bigint, message: string): WriteSet {
    const sys = this.runtime.systemRun(ts);
    sys.setJobState(job, { kind: "failed", error: message }, true);
    return sys.writeSet;
  }

  /** The attempt stops running (finished, parked or given up). */
  private release(attempt: Attempt): void {
    attempt.group = null;
    if (this.executing === attempt) this.executing = null;
    this.storage.journal = null;
  }

  /** Gives up on an attempt: its code never runs on, its late answers are dropped. */
  private giveUp(attempt: Attempt): void {
    if (attempt.over) return;
    this.release(attempt);
    attempt.over = true;
    attempt.answers = [];
    this.parked.delete(attempt);
    if (attempt.run) attempt.run.active = false;
    this.log.unpin(attempt.start);
  }

  /** The running mutation waits for something outside: park it once its code has yielded. */
  private waiting(run: FunctionRun): void {
    const attempt = this.executing;
    if (!attempt || (attempt.run !== null && attempt.run !== run)) return;
    if (attempt.run === null) {
      attempt.run = run;
      this.attempts.set(run, attempt);
    }
    setImmediate(() => {
      if (this.executing === attempt && attempt.group) this.park(attempt);
    });
  }

  /** Takes a waiting attempt's writes out of the transaction and lets the group go on. */
  private park(attempt: Attempt): void {
    const { next } = attempt.group!;
    this.release(attempt);
    attempt.parked = true;
    attempt.parkedAt = performance.now();
    try {
      this.storage.rollbackSavepoint();
      for (const table of attempt.run?.createdTables ?? []) this.storage.forgetTable(table);
    } catch (e) {
      // The transaction is gone: the group fails, and this attempt with it.
      this.giveUp(attempt);
      next(e as Error);
      return;
    }
    this.parked.add(attempt);
    next({ kind: "parked" });
    if (attempt.answers.length > 0) this.queueResume(attempt);
  }

  private answered(run: FunctionRun, resume: () => void): void {
    const attempt = this.attempts.get(run);
    if (!attempt) return resume();
    if (attempt.over) return; // Nothing of it counts any more; its code stays stopped.
    const queue = () => {
      attempt.answers.push(resume);
      if (this.parked.has(attempt)) this.queueResume(attempt);
    };
    const hold = this.options.holdOutsideAnswer;
    if (!hold) return queue();
    hold(attempt.pending.request.udfPath, attempt.pending.retries).then(queue, queue);
  }

  private queueResume(attempt: Attempt): void {
    if (attempt.resumeQueued || attempt.over) return;
    if (this.closed) {
      this.giveUp(attempt);
      this.answer(attempt.pending, { outcome: failure("The local backend is shutting down."), ts: 0n, retryable: true });
      return;
    }
    attempt.resumeQueued = true;
    this.queue.push({ kind: "resume", attempt });
    this.pump();
  }

  /**
   * Resumes a parked attempt: if nothing committed since it started wrote inside what it
   * read, its writes go back in and its outside answers are delivered; otherwise it runs again.
   */
  private resume(attempt: Attempt, sink: GroupSink, next: (outcome: Step | Error) => void): void {
    attempt.resumeQueued = false;
    this.parked.delete(attempt);
    if (attempt.over) return next({ kind: "parked" });
    // Time spent parked is not the function's own (Convex's 1 s counts user code only).
    attempt.run!.syscallMs += performance.now() - attempt.parkedAt;
    const conflict = attempt.doomed ? "" : this.log.conflict(attempt.run!.readSet, attempt.start);
    if (conflict !== null) return this.retry(attempt, conflict || null, sink, next);
    try {
      this.storage.savepoint();
      this.storage.replay(attempt.ops);
    } catch (e) {
      if (!(e instanceof ReplayClash)) return next(e as Error);
      this.storage.rollbackSavepoint();
      return this.retry(attempt, null, sink, next);
    }
    this.enter(attempt, sink, next);
    for (const deliver of attempt.answers.splice(0)) deliver();
  }

  /** Runs a conflicted attempt's mutation again, or fails it with Convex's error after the last retry. */
  private retry(attempt: Attempt, table: string | null, sink: GroupSink, next: (outcome: Step | Error) => void): void {
    this.giveUp(attempt);
    const { pending } = attempt;
    if (pending.retries >= MAX_CONFLICT_RETRIES) {
      this.count(pending.request.udfPath, "failedAfterRetries");
      // As Convex: the error, and nothing of it written or remembered (a scheduled one is marked failed).
      const outcome = failure(conflictMessage(table));
      const { job } = pending.request;
      if (job) {
        try {
          const writes = this.failJob(job, this.nextTs(), outcome.message);
          this.log.append(writes);
          mergeWrites(sink.writes, writes);
        } catch (e) {
          return next(e as Error);
        }
      }
      return next({ kind: "done", pending, result: { outcome, ts: 0n } });
    }
    pending.retries++;
    this.count(pending.request.udfPath, "retries");
    this.start(pending, sink, next);
  }

  private count(udfPath: string, what: "retries" | "failedAfterRetries" | "wouldConflict" | "mutations"): void {
    this.stats[what]++;
    const mine = (this.stats.byFunction[udfPath] ??= { mutations: 0, retries: 0, failedAfterRetries: 0, wouldConflict: 0 });
    mine[what]++;
  }

  /** Hands a request its result (and any resend of it that waited), once. */
  private answer(pending: Pending, result: MutationResult): void {
    if (pending.answered) return;
    pending.answered = true;
    const { request } = pending;
    if (request.dedupe) this.inFlight.delete(dedupeKey(request.dedupe));
    this.log.unpin(pending.arrival);
    if (!result.retryable) {
      this.count(request.udfPath, "mutations");
      this.stats.retriesPerMutation[pending.retries] = (this.stats.retriesPerMutation[pending.retries] ?? 0) + 1;
      for (let i = 0; i < pending.retries; i++) this.stats.retriesPerMutation[i] ??= 0;
    }
    for (const listener of pending.listeners.splice(0)) answer(listener, result);
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
    await this.durableNow();
    for (const attempt of [...this.parked]) {
      this.giveUp(attempt);
      this.answer(attempt.pending, { outcome: failure("The local backend is shutting down."), ts: 0n, retryable: true });
    }
    this.runtime.close();
    await this.storage.close();
  }
}

function dedupeKey(dedupe: { sessionId: string; requestId: number }): string {
  return `${dedupe.sessionId}\u0000${dedupe.requestId}`;
}

/** Hands a mutation its result; a caller's failure to take it must not stop the engine. */
function answer(done: (result: MutationResult) => void, result: MutationResult): void {
  try {
    done(result);
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
