/**
 * Where a client stands with the server, as three states. Pure: ops in, ops out; the
 * texts, revisions and the wire live in SyncClient.
 *
 *                 local edit                    local edit, limit reached
 *   Synchronized ──────────► AwaitingConfirm ────────────────────────► AwaitingWithBuffer ─┐
 *        ▲                     │   ▲  ⟲ local edit under the limit:      │    ▲            │ local edit:
 *        │                     │   │    sent at once, one more in flight  │    └────────────┘ compose into buffer
 *        └─ ack of the last ───┘   └──── ack (the buffer is sent) ────────┘
 *
 *   ⟲ ack with more in flight: AwaitingConfirm stays, one fewer in flight.
 *   In every state a remote op is transformed past each op in flight, oldest first, then
 *   past the buffer; the state keeps its kind and holds the transformed ops. An ack while
 *   Synchronized is a protocol error (nothing was in flight).
 *
 * Why several ops in flight, and why a limit: on a slow link, waiting for each
 * confirmation before sending the next edit would hold a keystroke back for up to a whole
 * round trip. So an edit goes out at once, carrying the earlier unconfirmed ops in the
 * form we hold them (`prior`), which lets the server do exactly what we do (sync/rebase.ts):
 * both sides see the same pairs in the same order and compute the same result. Past the
 * limit, edits wait composed in a single buffer, so a burst of typing on a stalled link is
 * one submission, not one per key. A limit of 1 is the classic one-op-in-flight client.
 */
import { compose, transform, type TextOp } from "./textOp";

/** An op that was handed out for sending, with the sequence number it went out with. */
export interface InFlight {
  readonly seq: number;
  readonly op: TextOp;
}

/** What to send: the op, and the ops in flight before it, which it was made on top of. */
export interface Outgoing {
  readonly sent: InFlight;
  readonly prior: readonly InFlight[];
}

/** A remote op after the state took it in: the op to apply to the local text, and the next state. */
export interface RemoteTaken {
  readonly state: ClientState;
  readonly op: TextOp;
}

export type ClientState = Synchronized | AwaitingConfirm | AwaitingWithBuffer;

export class Synchronized {
  readonly kind = "synchronized";

  /** Nothing is waiting: the edit goes out at once with sequence number `seq`. */
  localEdit(op: TextOp, seq: number): AwaitingConfirm {
    return new AwaitingConfirm([{ seq, op }]);
  }

  /** Nothing of ours to move past: the remote op applies as it is. */
  remoteOp(op: TextOp): RemoteTaken {
    return { state: this, op };
  }
}

/** Synchronized holds nothing, so one instance serves every client. */
const SYNCHRONIZED = new Synchronized();

export class AwaitingConfirm {
  readonly kind = "awaitingConfirm";

  /** Oldest first; never empty. */
  constructor(readonly inflight: readonly InFlight[]) {}

  /** Under the limit the edit goes out too (as `seq`); at the limit it waits in a buffer. */
  localEdit(op: TextOp, seq: number, limit: number): AwaitingConfirm | AwaitingWithBuffer {
    if (this.inflight.length < limit) return new AwaitingConfirm([...this.inflight, { seq, op }]);
    return new AwaitingWithBuffer(this.inflight, op);
  }

  /**
   * The server put `op` before our ops in flight. `oursFirst` is the tie-break the server
   * applied when it transformed ours past it (insertsFirst(our id, its author)).
   */
  remoteOp(op: TextOp, oursFirst: boolean): RemoteTaken {
    const [inflight, remote] = pastInflight(this.inflight, op, oursFirst);
    return { state: new AwaitingConfirm(inflight), op: remote };
  }

  /** The oldest op in flight is in. */
  ack(): AwaitingConfirm | Synchronized {
    return this.inflight.length > 1 ? new AwaitingConfirm(this.inflight.slice(1)) : SYNCHRONIZED;
  }
}

export class AwaitingWithBuffer {
  readonly kind = "awaitingWithBuffer";

  constructor(
    readonly inflight: readonly InFlight[],
    readonly buffer: TextOp,
  ) {}

  localEdit(op: TextOp): AwaitingWithBuffer {
    return new AwaitingWithBuffer(this.inflight, compose(this.buffer, op));
  }

  remoteOp(op: TextOp, oursFirst: boolean): RemoteTaken {
    // The remote op passes the ops in flight first, then the buffer, which was made on
    // top of them: the same path the server will take with the buffer later.
    const [inflight, passed] = pastInflight(this.inflight, op, oursFirst);
    const [buffer, remote] = transform(this.buffer, passed, oursFirst);
    return { state: new AwaitingWithBuffer(inflight, buffer), op: remote };
  }

  /** The oldest op in flight is in, which frees a place: the buffer goes out as `seq`. */
  ack(seq: number): AwaitingConfirm {
    return new AwaitingConfirm([...this.inflight.slice(1), { seq, op: this.buffer }]);
  }
}

/** Moves our ops in flight past a remote op, oldest first, and the remote op past them. */
function pastInflight(inflight: readonly InFlight[], op: TextOp, oursFirst: boolean): [InFlight[], TextOp] {
  let remote = op;
  const moved = inflight.map((f) => {
    const [mine, theirs] = transform(f.op, remote, oursFirst);
    remote = theirs;
    return { seq: f.seq, op: mine };
  });
  return [moved, remote];
}

/** Our unconfirmed ops in order: in flight first, then the buffer. */
export function pendingOps(state: ClientState): TextOp[] {
  switch (state.kind) {
    case "synchronized":
      return [];
    case "awaitingConfirm":
      return state.inflight.map((f) => f.op);
    case "awaitingWithBuffer":
      return [...state.inflight.map((f) => f.op), state.buffer];
    default:
      return unreachable(state);
  }
}

/** Our ops in flight, oldest (the next to be confirmed) first. */
export function inflightOf(state: ClientState): readonly InFlight[] {
  switch (state.kind) {
    case "synchronized":
      return [];
    case "awaitingConfirm":
    case "awaitingWithBuffer":
      return state.inflight;
    default:
      return unreachable(state);
  }
}

/**
 * Applies a local edit; `seq` is used only if the edit goes out at once, which it does
 * while fewer than `limit` ops are in flight. Returns the next state and what to send.
 */
export function withLocalEdit(state: ClientState, op: TextOp, seq: number, limit: number): { state: ClientState; send?: Outgoing } {
  switch (state.kind) {
    case "synchronized": {
      const next = state.localEdit(op, seq);
      return { state: next, send: lastSent(next) };
    }
    case "awaitingConfirm": {
      const next = state.localEdit(op, seq, limit);
      return next.kind === "awaitingConfirm" ? { state: next, send: lastSent(next) } : { state: next };
    }
    case "awaitingWithBuffer":
      return { state: state.localEdit(op) };
    default:
      return unreachable(state);
  }
}

/** Takes a remote op in; `oursFirst` is insertsFirst(our id, the op's author). */
export function withRemoteOp(state: ClientState, op: TextOp, oursFirst: boolean): RemoteTaken {
  switch (state.kind) {
    case "synchronized":
      return state.remoteOp(op);
    case "awaitingConfirm":
    case "awaitingWithBuffer":
      return state.remoteOp(op, oursFirst);
    default:
      return unreachable(state);
  }
}

/**
 * Our oldest op in flight was confirmed; `nextSeq` numbers the buffer if it goes out now.
 * Throws if nothing was in flight: the caller checks that the ack is ours first.
 */
export function withAck(state: ClientState, nextSeq: number): { state: ClientState; send?: Outgoing } {
  switch (state.kind) {
    case "synchronized":
      throw new Error("an ack arrived while nothing was in flight");
    case "awaitingConfirm":
      return { state: state.ack() };
    case "awaitingWithBuffer": {
      const next = state.ack(nextSeq);
      return { state: next, send: lastSent(next) };
    }
    default:
      return unreachable(state);
  }
}

/**
 * Builds the state that holds `ops` as unconfirmed: up to `limit` in flight from `seq`
 * on, the rest composed into the buffer.
 */
export function stateWithPending(ops: readonly TextOp[], seq: number, limit: number): ClientState {
  if (ops.length === 0) return SYNCHRONIZED;
  const inflight = ops.slice(0, limit).map((op, i) => ({ seq: seq + i, op }));
  const rest = ops.slice(limit);
  if (rest.length === 0) return new AwaitingConfirm(inflight);
  return new AwaitingWithBuffer(inflight, rest.reduce((a, b) => compose(a, b)));
}

/** Every op in flight as it would be sent now, each with the ones before it as `prior`. */
export function allOutgoing(state: ClientState): Outgoing[] {
  const inflight = inflightOf(state);
  return inflight.map((sent, i) => ({ sent, prior: inflight.slice(0, i) }));
}

function lastSent(state: AwaitingConfirm): Outgoing {
  const inflight = state.inflight;
  return { sent: inflight[inflight.length - 1] as InFlight, prior: inflight.slice(0, -1) };
}

function unreachable(state: never): never {
  throw new Error(`unknown client state ${JSON.stringify(state)}`);
}
