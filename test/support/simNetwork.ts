/**
 * Several SyncClients and one in-memory server joined by a network the test drives one
 * step at a time: messages wait in queues until a random step delivers them, links drop
 * (losing whatever was in transit, answers included), come back (the client resends its
 * ops in flight), deliver revisions twice, and processes restart from their saved state.
 *
 * Every client also keeps an "editor" string to which it applies only what the engine
 * hands out (its own edits and the remote ops `receive` returns), so the test checks
 * that those ops really turn the editor into the engine's text.
 */
import { Sequencer } from "../../sync/sequencer";
import { SyncClient, type Submission } from "../../sync/syncClient";
import { apply, type TextOp } from "../../sync/textOp";
import type { Random } from "./random";

export interface SimClient {
  readonly id: string;
  sync: SyncClient;
  editor: string;
  connected: boolean;
  /** Submissions on their way to the server. */
  outbox: Submission[];
  /** The revision the subscription has delivered up to (may lag, may repeat). */
  delivered: number;
}

export interface SimOptions {
  /** Called with each remote op as the client's editor applies it. */
  readonly onRemote?: (client: number, op: TextOp) => void;
  /** Drops, reconnects, repeated deliveries and restarts (default true). */
  readonly faults?: boolean;
  /** Reloads from the server's text, which hand the editor a correction op (default true). */
  readonly reloads?: boolean;
}

export class SimNetwork {
  readonly server: Sequencer;
  readonly clients: SimClient[];
  readonly log: string[] = [];

  constructor(
    private readonly rng: Random,
    initialText: string,
    ids: readonly string[],
    private readonly options: SimOptions = {},
  ) {
    this.server = new Sequencer(initialText);
    this.clients = ids.map((id) => ({
      id,
      // Pipelined clients and one-op-in-flight clients must interoperate.
      sync: new SyncClient({ clientId: id, rev: 0, text: initialText, maxInFlight: rng.pick([1, 2, 8]) }),
      editor: initialText,
      connected: true,
      outbox: [],
      delivered: 0,
    }));
  }

  /** A local edit on client i, as its editor makes it. */
  edit(i: number, op: TextOp): void {
    const c = this.at(i);
    c.editor = apply(c.editor, op);
    const sub = c.sync.applyLocal(op);
    this.log.push(`${c.id} edits ${JSON.stringify(op)}${sub ? ` → sends #${sub.seq}` : ""}`);
    if (sub && c.connected) c.outbox.push(sub);
    this.check(c);
  }

  /** One random network event. */
  step(): void {
    const rng = this.rng;
    const i = rng.int(this.clients.length);
    const c = this.at(i);
    const roll = rng.next();
    const faults = this.options.faults ?? true;
    if (faults && roll < 0.04) return this.setConnected(i, !c.connected);
    if (faults && roll < 0.05) return this.restart(i);
    if (faults && (this.options.reloads ?? true) && roll < 0.06) return this.reload(i);
    if (!c.connected) return;
    if (roll < 0.5) this.deliverUp(i, faults && rng.chance(0.1));
    else this.deliverDown(i, faults && rng.chance(0.05));
  }

  /** Reconnects everyone and delivers everything until nothing is left to send. */
  flush(): void {
    for (let i = 0; i < this.clients.length; i++) if (!this.at(i).connected) this.setConnected(i, true);
    for (let round = 0; round < 10_000; round++) {
      let moved = false;
      for (let i = 0; i < this.clients.length; i++) {
        const c = this.at(i);
        while (c.outbox.length > 0) {
          this.deliverUp(i, false);
          moved = true;
        }
        while (c.delivered < this.server.head) {
          this.deliverDown(i, false);
          moved = true;
        }
      }
      if (!moved) return;
    }
    throw new Error("the network did not settle");
  }

  /** Delivers client i's oldest submission in transit; `duplicate` leaves a copy to deliver again. */
  deliverUp(i: number, duplicate = false): void {
    const c = this.at(i);
    const sub = c.outbox.shift();
    if (!sub) return;
    const result = this.server.submit(sub);
    this.log.push(`server takes ${c.id}#${sub.seq} base ${sub.baseRev} → rev ${result.rev}${result.applied ? "" : " (duplicate)"}`);
    // A retry by the transport: the server must recognise it.
    if (duplicate) c.outbox.push(sub);
  }

  /** Delivers the next revision to client i; `repeat` delivers an old one again instead. */
  deliverDown(i: number, repeat = false): void {
    const c = this.at(i);
    if (repeat && c.delivered > 0) {
      const old = this.server.op(1 + this.rng.int(c.delivered));
      const outcome = c.sync.receive(old);
      if (outcome.kind !== "duplicate") throw new Error(`rev ${old.rev} delivered again was taken as ${outcome.kind}`);
      return;
    }
    if (c.delivered >= this.server.head) return;
    const op = this.server.op(c.delivered + 1);
    c.delivered += 1;
    const outcome = c.sync.receive(op);
    this.log.push(`${c.id} receives rev ${op.rev} (${op.clientId}#${op.seq}) → ${outcome.kind}`);
    switch (outcome.kind) {
      case "duplicate":
        break;
      case "remote":
        c.editor = apply(c.editor, outcome.op);
        this.options.onRemote?.(i, outcome.op);
        break;
      case "confirmed":
        if (outcome.next) c.outbox.push(outcome.next);
        break;
      case "gap":
      case "diverged":
        throw new Error(`${c.id} reported ${outcome.kind} at rev ${op.rev}: ${JSON.stringify(outcome)}`);
      default: {
        const never: never = outcome;
        throw new Error(`unknown outcome ${JSON.stringify(never)}`);
      }
    }
    this.check(c);
  }

  private setConnected(i: number, connected: boolean): void {
    const c = this.at(i);
    c.connected = connected;
    this.log.push(`${c.id} ${connected ? "reconnects" : "disconnects"}`);
    if (!connected) {
      c.outbox = []; // lost in transit
      return;
    }
    // A new subscription starts from the revision the client has.
    c.delivered = c.sync.rev;
    c.outbox.push(...c.sync.resend());
  }

  /** The process dies and starts again from its saved state (through JSON, as on disk). */
  private restart(i: number): void {
    const c = this.at(i);
    const saved = JSON.stringify(c.sync.snapshot());
    c.sync = SyncClient.restore(JSON.parse(saved));
    this.log.push(`${c.id} restarts at rev ${c.sync.rev} with ${c.sync.pendingCount} pending`);
    this.check(c);
    this.setConnected(i, false);
    this.setConnected(i, true);
  }

  /** What a session does when it reloads: settle the ops in flight, then take the server's text. */
  private reload(i: number): void {
    const c = this.at(i);
    if (!c.connected) return;
    let settled = 0;
    for (const again of c.sync.resend()) {
      this.server.submit(again);
      settled += 1;
    }
    const correction = c.sync.resync(this.server.text, this.server.head, settled);
    c.editor = apply(c.editor, correction);
    c.delivered = c.sync.rev;
    c.outbox = [];
    c.outbox.push(...c.sync.resend());
    this.log.push(`${c.id} reloads at rev ${c.sync.rev}`);
    this.check(c);
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
