/**
 * The client's rules for talking to the server, in one place: when an edit is sent, what
 * each answer and each failure means, and the one recovery plan (catch up by paging
 * through the op log, then resend). NoteSession runs it over a ConvexClient; the simulated
 * network in the tests runs it over the real functions under convex-test. Pure apart from
 * the transport it is given.
 *
 * The rules (so nothing typed is lost):
 *   - an edit leaves the pending queue only when the server's log confirms it, or on a
 *     definitive rejection (the op itself can never apply); the user is then handed the
 *     text that was not saved;
 *   - every other failure (conflicts, "overloaded", a full disk, the network) is retried
 *     with capped, jittered backoff while the status says "retrying";
 *   - after any gap the session pages through the op log from the last revision it has and
 *     moves its pending edits past each op; the whole text is replaced only when our copy
 *     fails a checksum (or the ops it needs were compacted), and the user is told.
 */
import { InFlightLimit } from "./inFlightLimit";
import type { Submission, SyncClient, ServerOp } from "./syncClient";
import type { TextOp } from "./textOp";

export type SubmitAnswer = { readonly kind: "applied"; readonly rev: number } | { readonly kind: "stale"; readonly head: number };

/** A page of the op log after a revision: at most a bounded batch, so `head` may lie beyond it. */
export type LogPage =
  | { readonly kind: "ops"; readonly ops: readonly ServerOp[]; readonly head: number }
  /** The revisions after the one asked for are no longer kept op by op: take the text. */
  | { readonly kind: "reload"; readonly head: number };

/** How a failed call is handled. */
export type Failure =
  /** The edit can never apply (malformed, too large): drop it and tell the user. */
  | { readonly kind: "rejected"; readonly code: string; readonly message: string }
  /** Nothing of this note can be saved any more (deleted, access revoked). */
  | { readonly kind: "gone"; readonly code: string; readonly message: string }
  /** Another writer used our client id: move to a fresh one and resend. */
  | { readonly kind: "reused"; readonly message: string }
  /** Anything else may succeed later: retry. */
  | { readonly kind: "retry"; readonly message: string };

/**
 * The one mapping from the server's error codes (convex/schema.ts) to what the client does.
 * Errors without a code (Convex's own conflict and overload errors, the network, a full
 * disk) are all worth retrying.
 */
export function classifyFailure(code: string | undefined, message: string): Failure {
  switch (code) {
    case "INVALID_OP":
    case "TOO_LARGE":
      return { kind: "rejected", code, message };
    case "NOT_FOUND":
    case "ACCESS_DENIED":
      return { kind: "gone", code, message };
    case "SEQ_REUSED":
      return { kind: "reused", message };
    default:
      return { kind: "retry", message };
  }
}

export interface SyncTransport {
  submit(submission: Submission): Promise<SubmitAnswer>;
  page(afterRev: number): Promise<LogPage>;
  /** The note's whole text at its head revision. */
  open(): Promise<{ readonly text: string; readonly rev: number }>;
  /** What a thrown error means (see classifyFailure). */
  failure(err: unknown): Failure;
  wait(ms: number): Promise<void>;
  /** Milliseconds on a monotonic clock (how long submissions take to be confirmed). */
  now(): number;
  newClientId(): string;
}

/** An edit the server refused for good, with the text it would have added. */
export interface RejectedEdit {
  readonly text: string;
  readonly code: string;
  readonly message: string;
}

export interface SyncEvents {
  /** An op was applied to the engine's text by someone else, or as a repair: apply it to the editor. */
  remote(op: TextOp): void;
  rejected(edit: RejectedEdit): void;
  /** The whole text was taken from the server (our copy could not be followed op by op). */
  replaced(reason: string): void;
  /** Nothing more can be saved: `text` is everything the user has. The driver has stopped. */
  gone(failure: Failure, text: string): void;
  /** Pending edits, revision or retrying changed: persist and publish the status. */
  changed(): void;
  log(message: string): void;
}

/** Backoff: the first retry within about this long, doubling to at most MAX_BACKOFF_MS. */
export const FIRST_BACKOFF_MS = 200;
export const MAX_BACKOFF_MS = 30_000;

/** "Full jitter": a random delay up to the capped exponential, so clients that failed together do not retry together. */
export function backoffDelay(failures: number, random: () => number): number {
  const cap = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(failures, 20));
  return Math.round(cap / 2 + (random() * cap) / 2);
}

export class SyncDriver {
  /** Consecutive failures since the last confirmation; > 0 means "retrying". */
  private failures = 0;
  private recovering = false;
  /** Something happened during a recovery that needs another round. */
  private again = false;
  private renewDue = false;
  private replaceDue: string | undefined;
  private stopped = false;
  /** When each submission in flight was sent, by seq. */
  private readonly sentAt = new Map<number, number>();
  private readonly inFlight: InFlightLimit;

  constructor(
    readonly engine: SyncClient,
    private readonly transport: SyncTransport,
    private readonly events: SyncEvents,
    private readonly random: () => number = Math.random,
  ) {
    this.inFlight = new InFlightLimit(engine.maxInFlight);
  }

  /** True while failed sends are being retried. */
  get retrying(): boolean {
    return this.failures > 0 && this.engine.pendingCount > 0;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Sends the ops in flight of a restored engine (the server dedupes what it already has). */
  start(): void {
    for (const s of this.engine.resend()) this.send(s);
  }

  stop(): void {
    this.stopped = true;
  }

  /** A query's round trip took `ms`: the link without the server's mutation queue (sync/inFlightLimit.ts). */
  linkTime(ms: number): void {
    this.inFlight.link(ms);
  }

  /** The socket reconnected: the link's times are measured afresh (sync/inFlightLimit.ts). */
  reconnected(): void {
    this.inFlight.newLink();
    this.engine.setInFlightLimit(this.inFlight.value);
  }

  /** A local edit: applied to the engine at once; sent when the engine says so. */
  local(op: TextOp): void {
    const oldest = this.sentAt.values().next();
    if (!oldest.done) this.engine.setInFlightLimit(this.inFlight.waiting(this.transport.now() - oldest.value));
    const submission = this.engine.applyLocal(op);
    if (submission && !this.recovering && !this.stopped) this.send(submission);
    this.events.changed();
  }

  /** A page from the subscription. */
  receive(page: LogPage): void {
    if (this.stopped) return;
    if (page.kind === "reload") {
      this.replaceDue = `the revisions after ${this.engine.rev} are no longer kept one by one`;
      void this.recover(this.replaceDue);
      return;
    }
    this.feed(page.ops);
  }

  /** Runs the recovery plan now (also what a test or a reconnect uses to force one). */
  recover(reason: string, delayed = false): Promise<void> {
    if (this.stopped) return Promise.resolve();
    if (this.recovering) {
      this.again = true;
      return Promise.resolve();
    }
    this.events.log(`recovering: ${reason}`);
    return this.runRecovery(delayed);
  }

  /** Feeds revisions to the engine; false when it stopped at a gap or a divergence. */
  private feed(ops: readonly ServerOp[]): boolean {
    let changed = false;
    for (const op of ops) {
      const outcome = this.engine.receive(op);
      switch (outcome.kind) {
        case "duplicate":
          continue;
        case "remote":
          this.events.remote(outcome.op);
          changed = true;
          continue;
        case "foreign":
          this.events.remote(outcome.op);
          this.renewDue = true;
          changed = true;
          void this.recover(`revision ${op.rev} is another writer's edit under our id`);
          continue;
        case "confirmed":
          this.failures = 0;
          this.timeConfirmation(op.seq);
          if (outcome.next && !this.recovering && !this.stopped) this.send(outcome.next);
          changed = true;
          continue;
        case "gap":
          if (changed) this.events.changed();
          void this.recover(`revision ${op.rev} arrived before revision ${outcome.expected}`);
          return false;
        case "diverged":
          if (changed) this.events.changed();
          this.replaceDue = outcome.reason;
          void this.recover(outcome.reason);
          return false;
        default: {
          const never: never = outcome;
          throw new Error(`unknown outcome ${JSON.stringify(never)}`);
        }
      }
    }
    if (changed) this.events.changed();
    return true;
  }

  private timeConfirmation(seq: number): void {
    const sent = this.sentAt.get(seq);
    for (const s of this.sentAt.keys()) if (s <= seq) this.sentAt.delete(s);
    if (sent !== undefined) this.engine.setInFlightLimit(this.inFlight.observe(this.transport.now() - sent));
  }

  private send(submission: Submission): void {
    this.sentAt.set(submission.seq, this.transport.now());
    // Answers for an id we moved away from are settled already (see runRecovery).
    const current = (): boolean => !this.stopped && submission.clientId === this.engine.clientId;
    this.transport.submit(submission).then(
      (answer) => {
        if (!current()) return;
        if (answer.kind === "stale") void this.recover(`edit ${submission.seq} was based on a revision too old to transform from`);
      },
      (err: unknown) => {
        if (!current()) return;
        const failure = this.transport.failure(err);
        switch (failure.kind) {
          case "rejected":
            this.reject(submission.seq, failure);
            return;
          case "gone":
            this.stopped = true;
            this.events.log(`stopped: ${failure.message}`);
            this.events.gone(failure, this.engine.text);
            return;
          case "reused":
            this.renewDue = true;
            void this.recover(`edit ${submission.seq}'s id was used by another writer`);
            return;
          case "retry":
            this.failures += 1;
            this.events.changed();
            void this.recover(`sending edit ${submission.seq} failed: ${failure.message}`, true);
            return;
          default: {
            const never: never = failure;
            throw new Error(`unknown failure ${JSON.stringify(never)}`);
          }
        }
      },
    );
  }

  private reject(seq: number, failure: { code: string; message: string }): void {
    const taken = this.engine.reject(seq);
    if (taken === undefined) return;
    this.events.log(`edit ${seq} was refused for good (${failure.code}): ${failure.message}`);
    this.events.remote(taken.correction);
    this.events.rejected({ text: taken.lost, code: failure.code, message: failure.message });
    this.events.changed();
    // The later edits in flight were sent on top of the refused one and will come back stale.
  }

  private async runRecovery(delayed: boolean): Promise<void> {
    this.recovering = true;
    // What is sent again is timed again; a renewed client id starts its seqs afresh.
    this.sentAt.clear();
    let attempt = delayed ? 1 : 0;
    try {
      for (;;) {
        if (this.stopped) return;
        if (attempt > 0) await this.transport.wait(backoffDelay(Math.max(this.failures, attempt) - 1, this.random));
        if (this.stopped) return;
        this.again = false;
        try {
          const replace = this.replaceDue;
          if (replace !== undefined) {
            await this.replaceWhole(replace);
            this.replaceDue = undefined;
          } else {
            await this.catchUp();
          }
          if (this.renewDue) {
            // Before the edits move to a new id, every submission under the old one must
            // have been answered (the transport is in order, so awaiting a resend of each
            // does it) and every one applied received: none can land a second time later.
            await this.settle();
            await this.catchUp();
            this.engine.renew(this.transport.newClientId());
            this.renewDue = false;
            this.events.log(`moved to client id ${this.engine.clientId}`);
          }
        } catch (err) {
          if (this.stopped) return;
          const failure = this.transport.failure(err);
          if (failure.kind === "gone") {
            this.stopped = true;
            this.events.gone(failure, this.engine.text);
            return;
          }
          this.failures += 1;
          attempt += 1;
          this.events.log(`recovery failed, retrying: ${failure.message}`);
          this.events.changed();
          continue;
        }
        if (!this.again) break;
      }
    } finally {
      this.recovering = false;
    }
    if (this.stopped) return;
    this.events.changed();
    for (const s of this.engine.resend()) this.send(s);
  }

  /** Pages through the op log from our revision to the head, feeding every op to the engine. */
  private async catchUp(): Promise<void> {
    for (;;) {
      const page = await this.transport.page(this.engine.rev);
      if (page.kind === "reload") {
        await this.replaceWhole(`the revisions after ${this.engine.rev} are no longer kept one by one`);
        return;
      }
      if (!this.feed(page.ops)) {
        if (this.replaceDue !== undefined) {
          const reason = this.replaceDue;
          await this.replaceWhole(reason);
          this.replaceDue = undefined;
          return;
        }
        continue; // a gap cannot come from a page that starts at our revision; ask again
      }
      if (page.ops.length === 0 || this.engine.rev >= page.head) return;
    }
  }

  /**
   * Sends the ops in flight again one by one, awaiting each answer, and returns how many the
   * server has: afterwards the text surely holds each one that was ever applied, and no
   * earlier submission of ours is still on its way.
   */
  private async settle(): Promise<number> {
    let settled = 0;
    for (const submission of this.engine.resend()) {
      try {
        const answer = await this.transport.submit(submission);
        if (answer.kind === "stale") break;
        settled += 1;
      } catch (err) {
        const failure = this.transport.failure(err);
        if (failure.kind === "reused") {
          this.renewDue = true;
          break;
        }
        if (failure.kind !== "rejected") throw err;
        this.reject(submission.seq, failure);
        break;
      }
    }
    return settled;
  }

  /** Takes the server's whole text, keeping the edits it does not hold yet on top of it. */
  private async replaceWhole(reason: string): Promise<void> {
    const settled = await this.settle();
    const opened = await this.transport.open();
    const correction = this.engine.replaceText(opened.text, opened.rev, settled);
    this.events.log(`took the server's text at revision ${opened.rev}: ${reason}`);
    this.events.remote(correction);
    this.events.replaced(reason);
  }

}
