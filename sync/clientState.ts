/**
 * Where a client stands with the server, as three states. Pure: ops in, ops out; the
 * texts, revisions and the wire live in SyncClient.
 *
 *                 local edit                        local edit
 *   Synchronized ──────────► AwaitingConfirm ──────────────► AwaitingWithBuffer ─┐
 *        ▲                    │   ▲                             │    ▲           │ local edit:
 *        └────── ack ─────────┘   └──── ack (buffer is sent) ───┘    └───────────┘ compose into buffer
 *
 *   In every state a remote op is transformed past what is in flight and then past the
 *   buffer; the state keeps its kind and holds the transformed ops. An ack while
 *   Synchronized is a protocol error (nothing was in flight).
 *
 * Why one op in flight: the server transforms a submission past every op after its base
 * revision. With one submission outstanding, the client knows exactly which server ops
 * its pending edits have to be transformed past — all ops it receives before the ack —
 * and the server's transform and ours see the same pairs in the same order, so both
 * sides compute the same result. Later edits wait, composed into a single buffer, so a
 * burst of typing is one submission instead of one per key.
 */
import { compose, transform, type TextOp } from "./textOp";

/** An op that was handed out for sending, with the sequence number it went out with. */
export interface InFlight {
  readonly seq: number;
  readonly op: TextOp;
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
    return new AwaitingConfirm({ seq, op });
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

  constructor(readonly inflight: InFlight) {}

  /** The edit waits behind the op in flight. */
  localEdit(op: TextOp): AwaitingWithBuffer {
    return new AwaitingWithBuffer(this.inflight, op);
  }

  /**
   * The server put `op` before our op in flight. `oursFirst` is the tie-break the server
   * applied when it transformed ours past it (insertsFirst(our id, its author)).
   */
  remoteOp(op: TextOp, oursFirst: boolean): RemoteTaken {
    const [inflight, remote] = transform(this.inflight.op, op, oursFirst);
    return { state: new AwaitingConfirm({ seq: this.inflight.seq, op: inflight }), op: remote };
  }

  ack(): Synchronized {
    return SYNCHRONIZED;
  }
}

export class AwaitingWithBuffer {
  readonly kind = "awaitingWithBuffer";

  constructor(
    readonly inflight: InFlight,
    readonly buffer: TextOp,
  ) {}

  localEdit(op: TextOp): AwaitingWithBuffer {
    return new AwaitingWithBuffer(this.inflight, compose(this.buffer, op));
  }

  remoteOp(op: TextOp, oursFirst: boolean): RemoteTaken {
    // The remote op passes the op in flight first, then the buffer, which was made on
    // top of the op in flight: the same path the server will take with the buffer later.
    const [inflight, pastInflight] = transform(this.inflight.op, op, oursFirst);
    const [buffer, remote] = transform(this.buffer, pastInflight, oursFirst);
    return { state: new AwaitingWithBuffer({ seq: this.inflight.seq, op: inflight }, buffer), op: remote };
  }

  /** Our op in flight is in; the buffer goes out now as sequence number `seq`. */
  ack(seq: number): AwaitingConfirm {
    return new AwaitingConfirm({ seq, op: this.buffer });
  }
}

/** Our unconfirmed ops in order: in flight first, then the buffer. */
export function pendingOps(state: ClientState): TextOp[] {
  switch (state.kind) {
    case "synchronized":
      return [];
    case "awaitingConfirm":
      return [state.inflight.op];
    case "awaitingWithBuffer":
      return [state.inflight.op, state.buffer];
    default:
      return unreachable(state);
  }
}

/** The op in flight, if any. */
export function inflightOf(state: ClientState): InFlight | undefined {
  switch (state.kind) {
    case "synchronized":
      return undefined;
    case "awaitingConfirm":
    case "awaitingWithBuffer":
      return state.inflight;
    default:
      return unreachable(state);
  }
}

/**
 * Applies a local edit; `seq` is used only if the edit goes out at once.
 * Returns the next state and, when the edit is to be sent now, what to send.
 */
export function withLocalEdit(state: ClientState, op: TextOp, seq: number): { state: ClientState; send?: InFlight } {
  switch (state.kind) {
    case "synchronized": {
      const next = state.localEdit(op, seq);
      return { state: next, send: next.inflight };
    }
    case "awaitingConfirm":
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
 * Our op in flight was confirmed; `nextSeq` numbers the buffer if it goes out now.
 * Throws if nothing was in flight: the caller checks that the ack is ours first.
 */
export function withAck(state: ClientState, nextSeq: number): { state: ClientState; send?: InFlight } {
  switch (state.kind) {
    case "synchronized":
      throw new Error("an ack arrived while nothing was in flight");
    case "awaitingConfirm":
      return { state: state.ack() };
    case "awaitingWithBuffer": {
      const next = state.ack(nextSeq);
      return { state: next, send: next.inflight };
    }
    default:
      return unreachable(state);
  }
}

/** Builds the state that holds `ops` as unconfirmed, the first in flight as `seq`. */
export function stateWithPending(ops: readonly TextOp[], seq: number): ClientState {
  const [first, ...rest] = ops;
  if (first === undefined) return SYNCHRONIZED;
  if (rest.length === 0) return new AwaitingConfirm({ seq, op: first });
  return new AwaitingWithBuffer({ seq, op: first }, rest.reduce((a, b) => compose(a, b)));
}

function unreachable(state: never): never {
  throw new Error(`unknown client state ${JSON.stringify(state)}`);
}
