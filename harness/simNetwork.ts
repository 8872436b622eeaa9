/**
 * Several clients and the real server functions (convex/ under convex-test) joined by a
 * network the test drives one step at a time. Each client is the product's engine and
 * driver (sync/syncClient.ts, sync/syncDriver.ts) — the same recovery plan NoteSession
 * runs — with a transport whose calls wait in a queue until a random step delivers them.
 *
 * Faults, as Convex shows them to a client: calls wait while the link is down (the Convex
 * client holds and resends them), a mutation commits but its answer is lost and the call
 * is sent again, a mutation fails with Convex's conflict or "overloaded" error without
 * committing, the subscription delivers an old page again, the process restarts from its
 * saved state (now and then from another client's, so two share a client id), and a
 * client is told to recover at a random moment.
 *
 * Every client also keeps an "editor" string to which it applies only what the driver
 * hands out (its own edits and the ops of `remote`), so the test checks that those ops
 * really turn the editor into the engine's text.
 */
import { ConvexError } from "convex/values";
import { api } from "../convex/_generated/api";
import { readHead } from "../convex/noteStore";
import type { Id } from "../convex/_generated/dataModel";
import { describeError } from "../sync/describeError";
import { SyncClient, type Submission } from "../sync/syncClient";
import { classifyFailure, SyncDriver, type LogPage, type RejectedEdit, type SubmitAnswer, type SyncTransport } from "../sync/syncDriver";
import { apply, type TextOp } from "../sync/textOp";
import type schema from "../convex/schema";
import type { TestConvex } from "convex-test";
import type { Random } from "./random";

/** The convex/ functions under convex-test, made by the test (it alone can list the modules). */
export type SimBackend = TestConvex<typeof schema>;
export interface SimSpace {
  readonly spaceId: Id<"spaces">;
  readonly key: string;
}

/** Convex's own error texts for a mutation that did not commit (what a client sees). */
export const CONFLICT_ERROR =
  'Documents read from or written to the "heads" table changed while this mutation was being run and on every subsequent retry. Another call to this mutation changed the document.';
export const OVERLOADED_ERROR = "Your request couldn't be completed. Try again later. (overloaded)";

type Call =
  | { readonly kind: "submit"; readonly submission: Submission; settle: Settle<SubmitAnswer> }
  | { readonly kind: "page"; readonly afterRev: number; settle: Settle<LogPage> }
  | { readonly kind: "open"; settle: Settle<{ text: string; rev: number }> };

interface Settle<T> {
  resolve(value: T): void;
  reject(err: unknown): void;
}

export interface SimClient {
  readonly id: string;
  /** Bumps on every restart, so ids stay unique per process as NoteSession's are. */
  generation: number;
  sync: SyncClient;
  driver: SyncDriver;
  editor: string;
  connected: boolean;
  /** Calls on their way to the server, oldest first (Convex sends them in order). */
  outbox: Call[];
  /** Backoff timers waiting to fire. */
  timers: (() => void)[];
  /** The revision the subscription asks from (moves to the last revision received). */
  subscribedAfter: number;
  rejected: RejectedEdit[];
  /** Errors the next submits of this client fail with, in order (for saved schedules). */
  failNext: Error[];
}

export interface SimOptions {
  /** Called with each remote op as the client's editor applies it. */
  readonly onRemote?: (client: number, op: TextOp) => void;
  /** Drops, lost answers, failures, repeated pages, restarts and forced recoveries (default true). */
  readonly faults?: boolean;
  /** Submit failures injected per delivery (Convex conflict / overloaded). Default 0.05. */
  readonly failureRate?: number;
}

export class SimNetwork {
  readonly clients: SimClient[] = [];
  readonly log: string[] = [];
  private readonly faults: boolean;
  private failureRate: number;
  /** Steps taken: the simulated clock. */
  private steps = 0;
  private ids = 0;

  private constructor(
    private readonly rng: Random,
    readonly t: SimBackend,
    readonly space: SimSpace,
    readonly noteId: Id<"notes">,
    private readonly options: SimOptions,
  ) {
    this.faults = options.faults ?? true;
    this.failureRate = options.failureRate ?? 0.05;
  }

  /**
   * A new note on `where` (a backend and space may be shared by many schedules: making a
   * backend costs more than a whole short schedule), followed by one client per name.
   * `names` are client ids; a name given twice makes two clients that share one id (two
   * windows restored from one saved state).
   */
  static async create(
    rng: Random,
    initialText: string,
    names: readonly string[],
    where: { readonly t: SimBackend; readonly space: SimSpace },
    options: SimOptions = {},
  ): Promise<SimNetwork> {
    const { t, space } = where;
    const noteId = await t.mutation(api.notes.create, { ...space, title: `fuzz ${rng.next()}`, text: initialText });
    const net = new SimNetwork(rng, t, space, noteId, options);
    for (const name of names) {
      // Pipelined clients and one-op-in-flight clients must interoperate.
      const sync = new SyncClient({ clientId: name, rev: 0, text: initialText, maxInFlight: rng.pick([1, 2, 8]) });
      net.clients.push(net.attach(name, sync, initialText, 0));
    }
    return net;
  }

  /** The server's text and head, through notes:open. */
  async server(): Promise<{ text: string; rev: number }> {
    return await this.t.query(api.notes.open, { ...this.space, noteId: this.noteId });
  }

  /** A local edit on client i, as its editor makes it. */
  edit(i: number, op: TextOp): void {
    const c = this.at(i);
    c.editor = apply(c.editor, op);
    c.driver.local(op);
    this.log.push(`${c.id} edits ${JSON.stringify(op)}`);
    this.check(c);
  }

  /** One random network event. */
  async step(): Promise<void> {
    this.steps += 1;
    const rng = this.rng;
    const i = rng.int(this.clients.length);
    const c = this.at(i);
    const roll = rng.next();
    if (this.faults && roll < 0.04) this.setConnected(i, !c.connected);
    else if (this.faults && roll < 0.05) this.restart(i);
    else if (this.faults && roll < 0.06) void c.driver.recover("the test asks for it");
    else if (this.faults && roll < 0.063 && this.clients.length > 1) this.restartAs(i, (i + 1 + rng.int(this.clients.length - 1)) % this.clients.length);
    else if (roll < 0.12) this.fireTimer(i);
    else if (!c.connected) return;
    else if (roll < 0.55) await this.deliverUp(i);
    else await this.deliverDown(i, this.faults && rng.chance(0.05));
    await settle();
  }

  /** Reconnects everyone and delivers everything, faults off, until nothing is left to do. */
  async flush(): Promise<void> {
    for (let i = 0; i < this.clients.length; i++) if (!this.at(i).connected) this.setConnected(i, true);
    const saved = this.failureRate;
    this.failureRate = 0;
    try {
      for (let round = 0; round < 2000; round++) {
        let moved = false;
        const head = await this.t.run(async (ctx) => (await readHead(ctx, this.noteId)).rev);
        for (let i = 0; i < this.clients.length; i++) {
          const c = this.at(i);
          while (c.outbox.length > 0 || c.timers.length > 0) {
            if (c.outbox.length > 0) await this.deliverUp(i, false);
            else this.fireTimer(i);
            await settle();
            moved = true;
          }
          if (c.sync.rev < head || c.subscribedAfter < c.sync.rev) {
            await this.deliverDown(i, false);
            await settle();
            moved = true;
          }
        }
        if (!moved) return;
      }
      throw new Error("the network did not settle");
    } finally {
      this.failureRate = saved;
    }
  }

  /** Delivers client i's oldest call; with faults it may fail, or commit and lose its answer. */
  async deliverUp(i: number, faults = this.faults): Promise<void> {
    const c = this.at(i);
    const call = c.outbox.shift();
    if (!call) return;
    const auth = { ...this.space, noteId: this.noteId };
    switch (call.kind) {
      case "submit": {
        const s = call.submission;
        const forced = c.failNext.shift();
        if (forced !== undefined) {
          this.log.push(`server fails ${s.clientId}#${s.seq}: ${forced.message}`);
          call.settle.reject(forced);
          return;
        }
        if (faults && this.rng.chance(this.failureRate)) {
          const text = this.rng.chance(0.5) ? CONFLICT_ERROR : OVERLOADED_ERROR;
          this.log.push(`server fails ${s.clientId}#${s.seq}: ${text.slice(0, 30)}…`);
          call.settle.reject(new Error(text));
          return;
        }
        let answer: SubmitAnswer;
        try {
          answer = await this.t.mutation(api.ops.submit, { ...auth, ...s });
        } catch (err) {
          this.log.push(`server refuses ${s.clientId}#${s.seq}: ${err instanceof ConvexError ? JSON.stringify(err.data) : String(err)}`);
          call.settle.reject(err);
          return;
        }
        this.log.push(`server takes ${s.clientId}#${s.seq} base ${s.baseRev} → ${JSON.stringify(answer)}`);
        // Committed, but the answer is lost with the link: the Convex client sends it again.
        if (faults && this.rng.chance(0.1)) c.outbox.unshift(call);
        else call.settle.resolve(answer);
        return;
      }
      case "page":
        await this.run(call.settle, () => this.t.query(api.ops.since, { ...auth, afterRev: call.afterRev }));
        return;
      case "open":
        await this.run(call.settle, () => this.t.query(api.notes.open, auth));
        return;
      default: {
        const never: never = call;
        throw new Error(`unknown call ${JSON.stringify(never)}`);
      }
    }
  }

  /** The subscription delivers its current page to client i; `repeat` delivers an older page again. */
  async deliverDown(i: number, repeat = false): Promise<void> {
    const c = this.at(i);
    const afterRev = repeat && c.sync.rev > 0 ? this.rng.int(c.sync.rev) : c.subscribedAfter;
    const page = await this.t.query(api.ops.since, { ...this.space, noteId: this.noteId, afterRev });
    this.log.push(`${c.id} receives ${page.kind === "ops" ? `revs ${page.ops[0]?.rev ?? "-"}…${page.ops.at(-1)?.rev ?? "-"} of ${page.head}` : "reload"} after ${afterRev}`);
    c.driver.receive(page);
    // What NoteSession does after each update: follow from the last revision received.
    c.subscribedAfter = c.sync.rev;
    this.check(c);
  }

  private async run<T>(settle: Settle<T>, call: () => Promise<T>): Promise<void> {
    try {
      settle.resolve(await call());
    } catch (err) {
      settle.reject(err);
    }
  }

  private fireTimer(i: number): void {
    const timer = this.at(i).timers.shift();
    timer?.();
  }

  setConnected(i: number, connected: boolean): void {
    const c = this.at(i);
    c.connected = connected;
    this.log.push(`${c.id} ${connected ? "reconnects" : "disconnects"}`);
    // Calls wait while the link is down (the Convex client resends them); a new
    // subscription starts from the revision the client has.
    if (connected) c.subscribedAfter = c.sync.rev;
  }

  /** The process dies and starts again from its saved state (through JSON, as on disk). */
  private restart(i: number): void {
    const old = this.at(i);
    old.driver.stop();
    const saved = JSON.stringify(old.sync.snapshot());
    const sync = SyncClient.restore(JSON.parse(saved));
    const c = this.attach(old.id, sync, old.editor, old.generation + 1);
    c.rejected.push(...old.rejected);
    this.clients[i] = c;
    this.log.push(`${c.id} restarts at rev ${sync.rev} with ${sync.pendingCount} pending`);
    this.check(c);
    c.driver.start();
  }

  /**
   * Client i's process starts again from client j's saved state, as a second window that
   * restored another's unconfirmed edits did: both now send under one client id.
   */
  private restartAs(i: number, j: number): void {
    const old = this.at(i);
    old.driver.stop();
    const sync = SyncClient.restore(JSON.parse(JSON.stringify(this.at(j).sync.snapshot())));
    const c = this.attach(old.id, sync, sync.text, old.generation + 1);
    c.rejected.push(...old.rejected);
    this.clients[i] = c;
    this.log.push(`${c.id} restarts from ${this.at(j).id}'s saved state (client id ${sync.clientId})`);
    c.driver.start();
  }

  private attach(id: string, sync: SyncClient, editor: string, generation: number): SimClient {
    const c: SimClient = {
      id,
      generation,
      sync,
      driver: undefined as unknown as SyncDriver,
      editor,
      connected: true,
      outbox: [],
      timers: [],
      subscribedAfter: sync.rev,
      rejected: [],
      failNext: [],
    };
    const queue = <T>(make: (settle: Settle<T>) => Call): Promise<T> =>
      new Promise<T>((resolve, reject) => c.outbox.push(make({ resolve, reject })));
    const transport: SyncTransport = {
      submit: (submission) => queue((settle) => ({ kind: "submit", submission, settle })),
      page: (afterRev) => queue((settle) => ({ kind: "page", afterRev, settle })),
      open: () => queue((settle) => ({ kind: "open", settle })),
      failure: (err) => classifyFailure(err instanceof ConvexError ? (err.data as { code: string }).code : undefined, describeError(err)),
      wait: () => new Promise<void>((resolve) => c.timers.push(resolve)),
      now: () => this.steps,
      newClientId: () => `${id}.${generation}.${++this.ids}`,
    };
    c.driver = new SyncDriver(sync, transport, {
      remote: (op) => {
        c.editor = apply(c.editor, op);
        this.options.onRemote?.(this.clients.indexOf(c), op);
      },
      rejected: (edit) => c.rejected.push(edit),
      replaced: (reason) => this.log.push(`${id} replaced its text: ${reason}`),
      gone: (failure) => {
        throw new Error(`${id}: the note is gone: ${failure.message}`);
      },
      changed: () => {},
      log: (message) => this.log.push(`${id}: ${message}`),
    }, () => this.rng.next());
    return c;
  }

  private check(c: SimClient): void {
    if (c.editor !== c.sync.text) {
      throw new Error(`${c.id}: the editor (${JSON.stringify(c.editor)}) and the engine (${JSON.stringify(c.sync.text)}) differ`);
    }
  }

  private at(i: number): SimClient {
    const c = this.clients[i];
    if (!c) throw new RangeError(`no client ${i}`);
    return c;
  }
}

/** Lets the promise continuations of the step just taken run (the driver's recovery plan). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
