/**
 * One client's side of the sync protocol, pure: no I/O, no timers.
 *
 * The server is the sequencer: it numbers revisions and transforms each submitted op past
 * the revisions its author had not seen. The client keeps at most one submission in flight
 * and composes later local edits into a buffer, so a slow link costs one round trip per
 * batch of typing rather than per key. Its states:
 *
 *                 local edit                         local edit
 *   Synchronized ───────────▶ Awaiting(inflight) ───────────▶ Buffering(inflight, buffer)
 *        ▲                      │        ▲                        │          ⟲ local edit:
 *        └──── confirmation ────┘        └──── confirmation ──────┘            compose into buffer
 *                                              (the buffer goes out)
 *
 * A remote revision leaves the state's kind alone: it is transformed past the in-flight
 * op and the buffer (which are transformed past it in turn) and applied to the local text.
 * The server's stream is the acknowledgement: our own op comes back in it, at its revision.
 */
import { checksum } from "./checksum";
import { replacementOp } from "./diff";
import { apply, baseLength, compose, insertsFirst, OpError, transform, type TextOp } from "./textOp";

/**
 * A local op the server has not confirmed, kept transformed to apply to the server's text
 * at the client's current revision — so a resend says `baseRev: rev` with this op, and the
 * server (which dedupes by seq) never needs the op as first sent.
 */
export interface Pending {
  readonly seq: number;
  readonly op: TextOp;
}

export type ClientState =
  | { readonly kind: "synchronized" }
  | { readonly kind: "awaiting"; readonly inflight: Pending }
  | { readonly kind: "buffering"; readonly inflight: Pending; readonly buffer: TextOp };

/** What to send to the server's submit. */
export interface Submission {
  readonly clientId: string;
  readonly seq: number;
  readonly baseRev: number;
  readonly op: TextOp;
}

/** A revision as the server's stream delivers it. */
export interface ServerOp {
  readonly rev: number;
  readonly clientId: string;
  readonly seq: number;
  readonly op: TextOp;
  /** Checksum of the server's text right after this revision, when known. */
  readonly checksum?: string;
}

export type Received =
  /** Already had it (a subscription may deliver a revision twice). */
  | { readonly kind: "duplicate" }
  /** A teammate's edit, transformed to apply to the local text (already applied to `text`). */
  | { readonly kind: "remote"; readonly op: TextOp }
  /** Our in-flight op was sequenced; `next` is the buffer, now in flight, to send. */
  | { readonly kind: "confirmed"; readonly next?: Submission }
  /** A revision is missing before this one: reload. */
  | { readonly kind: "gap" }
  /** Our copy of the server's text no longer matches its checksum: reload. */
  | { readonly kind: "diverged" };

export interface SyncSnapshot {
  readonly clientId: string;
  readonly rev: number;
  readonly serverText: string;
  readonly nextSeq: number;
  readonly inflight?: Pending;
  readonly buffer?: TextOp;
}

export class SyncClient {
  readonly clientId: string;
  private revision: number;
  /** The server's text at `rev`: what checksums are computed over. */
  private shadow: string;
  private local: string;
  private state: ClientState = { kind: "synchronized" };
  private nextSeq: number;

  constructor(init: { clientId: string; rev: number; text: string; nextSeq?: number }) {
    this.clientId = init.clientId;
    this.revision = init.rev;
    this.shadow = init.text;
    this.local = init.text;
    this.nextSeq = init.nextSeq ?? 1;
  }

  /** Rebuilds a client from `snapshot()`, e.g. after a restart with edits still unconfirmed. */
  static restore(value: unknown): SyncClient {
    const s = value as Partial<SyncSnapshot> | null;
    if (
      !s ||
      typeof s.clientId !== "string" ||
      typeof s.rev !== "number" ||
      typeof s.serverText !== "string" ||
      typeof s.nextSeq !== "number"
    ) {
      throw new Error("the saved pending edits are not in a form this version understands");
    }
    const client = new SyncClient({ clientId: s.clientId, rev: s.rev, text: s.serverText, nextSeq: s.nextSeq });
    if (s.inflight) {
      client.local = apply(client.local, s.inflight.op);
      client.state = { kind: "awaiting", inflight: s.inflight };
      if (s.buffer) {
        client.local = apply(client.local, s.buffer);
        client.state = { kind: "buffering", inflight: s.inflight, buffer: s.buffer };
      }
    }
    return client;
  }

  get rev(): number {
    return this.revision;
  }

  get text(): string {
    return this.local;
  }

  get serverText(): string {
    return this.shadow;
  }

  get current(): ClientState {
    return this.state;
  }

  /** Local ops not yet confirmed, oldest first; composed they turn `serverText` into `text`. */
  get pendingOps(): TextOp[] {
    switch (this.state.kind) {
      case "synchronized":
        return [];
      case "awaiting":
        return [this.state.inflight.op];
      case "buffering":
        return [this.state.inflight.op, this.state.buffer];
    }
  }

  get pendingCount(): number {
    return this.pendingOps.length;
  }

  /** Applies a local edit; returns a submission to send now when nothing is in flight. */
  applyLocal(op: TextOp): Submission | undefined {
    this.local = apply(this.local, op);
    const s = this.state;
    switch (s.kind) {
      case "synchronized": {
        const inflight = this.newPending(op);
        this.state = { kind: "awaiting", inflight };
        return this.submission(inflight);
      }
      case "awaiting":
        this.state = { kind: "buffering", inflight: s.inflight, buffer: op };
        return undefined;
      case "buffering":
        this.state = { kind: "buffering", inflight: s.inflight, buffer: compose(s.buffer, op) };
        return undefined;
      default:
        return unreachable(s);
    }
  }

  receive(server: ServerOp): Received {
    if (server.rev <= this.revision) return { kind: "duplicate" };
    if (server.rev !== this.revision + 1) return { kind: "gap" };
    const s = this.state;
    const ours = s.kind !== "synchronized" && server.clientId === this.clientId && server.seq === s.inflight.seq;
    const nextShadow = apply(this.shadow, server.op);
    if (server.checksum !== undefined && checksum(nextShadow) !== server.checksum) return { kind: "diverged" };
    this.shadow = nextShadow;
    this.revision = server.rev;
    if (ours) return this.confirm();
    return { kind: "remote", op: this.applyRemote(server) };
  }

  /** The in-flight submission again, for a new connection or process. */
  resend(): Submission | undefined {
    return this.state.kind === "synchronized" ? undefined : this.submission(this.state.inflight);
  }

  /**
   * Takes the server's text at `rev` as the truth and keeps local edits on top of it.
   * `inflightApplied` says whether the server's text already contains the in-flight op
   * (the caller learns it by resending that op, which is idempotent, before reloading).
   * Returns the op that turns the current local text into the repaired one.
   */
  resync(text: string, rev: number, inflightApplied: boolean): TextOp {
    const s = this.state;
    // What the server's text would be if our copy had been right.
    let base = this.shadow;
    let pending: TextOp | undefined;
    if (s.kind !== "synchronized") {
      if (inflightApplied) base = apply(base, s.inflight.op);
      else pending = s.inflight.op;
      if (s.kind === "buffering") pending = pending ? compose(pending, s.buffer) : s.buffer;
    }
    const correction = replacementOp(base, text);
    let toLocal = correction;
    let rebased: TextOp | undefined;
    if (pending) [rebased, toLocal] = transform(pending, correction, true);
    this.shadow = text;
    this.revision = rev;
    this.local = apply(this.local, toLocal);
    this.state = rebased ? { kind: "awaiting", inflight: this.newPending(rebased) } : { kind: "synchronized" };
    return toLocal;
  }

  snapshot(): SyncSnapshot {
    const s = this.state;
    return {
      clientId: this.clientId,
      rev: this.revision,
      serverText: this.shadow,
      nextSeq: this.nextSeq,
      ...(s.kind === "synchronized" ? {} : { inflight: s.inflight }),
      ...(s.kind === "buffering" ? { buffer: s.buffer } : {}),
    };
  }

  private confirm(): Received {
    const s = this.state;
    switch (s.kind) {
      case "synchronized":
        throw new OpError("a confirmation arrived with nothing in flight");
      case "awaiting":
        this.state = { kind: "synchronized" };
        return { kind: "confirmed" };
      case "buffering": {
        const inflight = this.newPending(s.buffer);
        this.state = { kind: "awaiting", inflight };
        return { kind: "confirmed", next: this.submission(inflight) };
      }
      default:
        return unreachable(s);
    }
  }

  /** Transforms a teammate's op past ours (and ours past it), applies it, returns it. */
  private applyRemote(server: ServerOp): TextOp {
    const oursFirst = insertsFirst(this.clientId, server.clientId);
    let remote = server.op;
    const s = this.state;
    switch (s.kind) {
      case "synchronized":
        break;
      case "awaiting": {
        const [inflight, r] = transform(s.inflight.op, remote, oursFirst);
        remote = r;
        this.state = { kind: "awaiting", inflight: { ...s.inflight, op: inflight } };
        break;
      }
      case "buffering": {
        const [inflight, r1] = transform(s.inflight.op, remote, oursFirst);
        const [buffer, r2] = transform(s.buffer, r1, oursFirst);
        remote = r2;
        this.state = { kind: "buffering", inflight: { ...s.inflight, op: inflight }, buffer };
        break;
      }
      default:
        return unreachable(s);
    }
    if (baseLength(remote) !== this.local.length) {
      throw new OpError(`revision ${server.rev} does not fit the local text`);
    }
    this.local = apply(this.local, remote);
    return remote;
  }

  private newPending(op: TextOp): Pending {
    return { seq: this.nextSeq++, op };
  }

  private submission(p: Pending): Submission {
    return { clientId: this.clientId, seq: p.seq, baseRev: this.revision, op: p.op };
  }
}

function unreachable(value: never): never {
  throw new Error(`unhandled client state ${JSON.stringify(value)}`);
}
