/**
 * One client's side of a note: its text, the server's text at the newest revision it has
 * seen, and what it still owes the server. Pure: the caller moves submissions and server
 * ops over the wire, and applies the ops this hands back to the editor.
 *
 * The server's op stream is the acknowledgement: an op carrying our (clientId, seq) is our
 * oldest op in flight, as the server stored it. The mutation's own answer only matters for errors.
 */
import {
  AwaitingConfirm,
  AwaitingWithBuffer,
  allOutgoing,
  inflightOf,
  pendingOps,
  stateWithPending,
  withAck,
  withLocalEdit,
  withRemoteOp,
  type ClientState,
  type Outgoing,
} from "./clientState";
import { replacementOp } from "./diff";
import { sameOp } from "./rebase";
import { TextDoc } from "./textDoc";
import {
  baseLength,
  checkOp,
  compose,
  insertedText,
  insertsFirst,
  transform,
  transformSelection,
  type Component,
  type Selection,
  type TextOp,
} from "./textOp";

/** What to send to the server's submit. */
export interface Submission {
  readonly clientId: string;
  readonly seq: number;
  readonly baseRev: number;
  readonly op: Component[];
  /** Our ops still in flight before this one, as we hold them at baseRev (see sync/rebase.ts). */
  readonly prior: { readonly seq: number; readonly op: Component[] }[];
}

/**
 * How many submissions may be in flight at once by default. Enough that a keystroke on a
 * link of a few hundred milliseconds goes out at once; bounded so a stalled link turns
 * further typing into one buffered op rather than a pile of submissions.
 */
export const MAX_IN_FLIGHT = 8;

/** One revision as the server publishes it. */
export interface ServerOp {
  readonly rev: number;
  readonly clientId: string;
  readonly seq: number;
  readonly op: TextOp;
  /** checksum() of the server's text right after this op; verified when present. */
  readonly checksum?: string;
}

export type Received =
  /** A revision we already have (a re-delivered batch): nothing to do. */
  | { readonly kind: "duplicate" }
  /** A revision is missing before this one: reload (resync) and follow from there. */
  | { readonly kind: "gap"; readonly expected: number }
  /** Someone else's op, transformed to fit our text: apply it to the document. */
  | { readonly kind: "remote"; readonly op: TextOp }
  /** Our oldest op in flight is in. `next`, if present (the buffer), is to be sent now. */
  | { readonly kind: "confirmed"; readonly next?: Submission }
  /**
   * The op stored under our (clientId, seq) is not the edit we sent with it: another writer
   * used our id. It was taken in as someone else's edit (`op` is for the editor); our edit
   * was not applied, and the id must not be used again (see renew).
   */
  | { readonly kind: "foreign"; readonly op: TextOp }
  /** Our copy of the server's text no longer matches: nothing was applied; resync. */
  | { readonly kind: "diverged"; readonly reason: string };

/**
 * Unconfirmed local edits in a form that survives a restart. `ops` apply one after the
 * other to the server's text at `baseRev`; the first went out (or may have) as `seq`, and
 * the next ones get seq + 1, … when they are sent. The server dedupes by (clientId, seq),
 * so sending the first again is always safe — hence the clientId must be kept too.
 */
export interface PendingEdits {
  readonly clientId: string;
  readonly baseRev: number;
  readonly seq: number;
  readonly ops: readonly TextOp[];
}

/** Everything needed to rebuild a client after a restart: pending edits plus their base text. */
export interface SyncSnapshot extends PendingEdits {
  readonly version: 1;
  readonly baseText: string;
}

export interface SyncClientOptions {
  readonly clientId: string;
  /** The revision `text` is at. */
  readonly rev: number;
  /** The server's text at `rev`. */
  readonly text: string;
  /** Edits not yet confirmed, made on top of `text` (pending.baseRev must equal rev). */
  readonly pending?: PendingEdits;
  /** Sequence number for the first submission of a new client. Default 1. */
  readonly firstSeq?: number;
  /** How many recent revisions to keep for mapping others' selections. Default 256. */
  readonly historyLimit?: number;
  /** Submissions in flight at once (1 = the classic one-op-in-flight client). Default MAX_IN_FLIGHT. */
  readonly maxInFlight?: number;
}

/** A selection as published for others: in the server's text at `rev`. */
export interface RevSelection {
  readonly rev: number;
  readonly anchor: number;
  readonly head: number;
}

export class SyncClient {
  /** Changes only through renew(), when the server says another writer used it. */
  private id: string;
  private confirmedRev: number;
  private nextSeq: number;
  private state: ClientState;
  /** Our text: the server's plus our unconfirmed edits. */
  private readonly local: TextDoc;
  /** The server's text at `rev`, kept to verify checksums and to repair divergence. */
  private server: TextDoc;
  private history: { rev: number; op: TextOp }[] = [];
  private readonly historyLimit: number;
  /** The most submissions in flight at once; `inFlightLimit` moves below it (sync/inFlightLimit.ts). */
  readonly maxInFlight: number;
  private inFlightLimit: number;

  constructor(options: SyncClientOptions) {
    this.id = options.clientId;
    this.confirmedRev = options.rev;
    this.historyLimit = options.historyLimit ?? 256;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? MAX_IN_FLIGHT);
    this.inFlightLimit = this.maxInFlight;
    this.server = new TextDoc(options.text);
    this.local = new TextDoc(options.text);
    const pending = options.pending;
    if (pending) {
      if (pending.clientId !== options.clientId) {
        throw new Error(`pending edits belong to client ${pending.clientId}, not ${options.clientId}`);
      }
      if (pending.baseRev !== options.rev) {
        throw new Error(`pending edits are based on revision ${pending.baseRev}, but the text given is at ${options.rev}`);
      }
      for (const op of pending.ops) this.local.apply(op);
      this.state = stateWithPending(pending.ops, pending.seq, this.maxInFlight);
      this.nextSeq = pending.seq + inflightOf(this.state).length;
    } else {
      this.state = stateWithPending([], 0, this.maxInFlight);
      this.nextSeq = options.firstSeq ?? 1;
    }
  }

  /** Rebuilds a client from `snapshot()`'s output (e.g. parsed from disk); throws on anything malformed. */
  static restore(value: unknown): SyncClient {
    const s = parseSnapshot(value);
    return new SyncClient({ clientId: s.clientId, rev: s.baseRev, text: s.baseText, pending: s });
  }

  get clientId(): string {
    return this.id;
  }

  /** The newest revision we have received. */
  get rev(): number {
    return this.confirmedRev;
  }

  /** Our text, with our unconfirmed edits. */
  get text(): string {
    return this.local.toString();
  }

  get length(): number {
    return this.local.length;
  }

  /** The server's text at `rev`. */
  get serverText(): string {
    return this.server.toString();
  }

  /** The state machine's current state (see clientState.ts). */
  get current(): ClientState {
    return this.state;
  }

  /** Our unconfirmed ops in order (in flight, then buffer), from serverText to text. */
  get pendingOps(): TextOp[] {
    return pendingOps(this.state);
  }

  /** How many unconfirmed ops we hold (in flight, plus the buffer). */
  get pendingCount(): number {
    return this.pendingOps.length;
  }

  /** How many submissions new edits may have in flight, from 1 up to maxInFlight. */
  setInFlightLimit(limit: number): void {
    this.inFlightLimit = Math.min(this.maxInFlight, Math.max(1, limit));
  }

  /**
   * Applies a local edit to our text. Returns what to send now, if nothing else is in flight.
   * An edit that changes nothing still goes out (rare, and it keeps every edit accounted for).
   */
  applyLocal(op: TextOp): Submission | undefined {
    this.local.apply(op); // throws, changing nothing, if the op does not fit
    const { state, send } = withLocalEdit(this.state, op, this.nextSeq, this.inFlightLimit);
    this.state = state;
    if (!send) return undefined;
    this.nextSeq += 1;
    return this.submission(send);
  }

  /** Takes in the next revision from the server's stream. */
  receive(incoming: ServerOp): Received {
    if (incoming.rev <= this.confirmedRev) return { kind: "duplicate" };
    if (incoming.rev !== this.confirmedRev + 1) return { kind: "gap", expected: this.confirmedRev + 1 };
    const malformed = checkOp(incoming.op);
    if (malformed !== undefined) return diverged(`revision ${incoming.rev} carries a malformed op: ${malformed}`);
    if (baseLength(incoming.op) !== this.server.length) {
      return diverged(
        `revision ${incoming.rev} spans ${baseLength(incoming.op)} code units, but our copy of the server's text has ${this.server.length}`,
      );
    }
    const inflight = inflightOf(this.state)[0];
    // Our edits reach the log in order, each as we transformed it (both sides do the same),
    // so an op under our id that is not our oldest in flight, exactly, is another writer's
    // that took our id: taken in like anyone else's, and our id must not be used again.
    const ours = incoming.clientId === this.clientId;
    const isAck = ours && inflight !== undefined && incoming.seq === inflight.seq && sameOp(inflight.op, incoming.op);
    const problem = this.advanceServer(incoming);
    if (problem !== undefined) return diverged(problem);

    if (isAck) {
      const { state, send } = withAck(this.state, this.nextSeq);
      this.state = state;
      if (!send) return { kind: "confirmed" };
      this.nextSeq += 1;
      return { kind: "confirmed", next: this.submission(send) };
    }
    const taken = withRemoteOp(this.state, incoming.op, insertsFirst(this.clientId, incoming.clientId));
    this.local.apply(taken.op);
    this.state = taken.state;
    return ours ? { kind: "foreign", op: taken.op } : { kind: "remote", op: taken.op };
  }

  /**
   * Takes our edit `seq` (in flight) out after a definitive refusal: later edits are moved
   * to apply without it, and the returned `correction` turns our text into text without it.
   * `lost` is the text that edit inserted (what the user typed and the server will never
   * have). Undefined when `seq` is not in flight (already confirmed or taken out).
   */
  reject(seq: number): { correction: TextOp; lost: string } | undefined {
    const inflight = inflightOf(this.state);
    const k = inflight.findIndex((f) => f.seq === seq);
    if (k < 0) return undefined;
    const ops = this.pendingOps;
    const before = new TextDoc(this.server.toString());
    for (const op of ops.slice(0, k)) before.apply(op);
    const removed = ops[k] as TextOp;
    // `undo` takes the edit out of the text after it; it moves past every later edit, and
    // each later edit moves to the text without the refused one.
    let undo = before.invert(removed);
    const later: TextOp[] = [];
    for (const op of ops.slice(k + 1)) {
      const [moved, undo2] = transform(op, undo, true);
      later.push(moved);
      undo = undo2;
    }
    const seqs = inflight.map((f) => f.seq).filter((s) => s !== seq);
    const kept = [...ops.slice(0, k), ...later];
    this.local.apply(undo);
    this.state = stateWithSeqs(kept, seqs, this.maxInFlight, this.nextSeq);
    this.nextSeq = Math.max(this.nextSeq, ...seqs.map((s) => s + 1));
    const lost = insertedText(removed);
    return { correction: undo, lost };
  }

  /**
   * Moves our unconfirmed edits to a new client id, numbered from 1, after the server said
   * another writer used ours. Call it only once every edit of ours the server applied has
   * been received (caught up to the head), so all that is left under the old id is ours to resend.
   */
  renew(clientId: string): void {
    const ops = this.pendingOps;
    this.id = clientId;
    this.state = stateWithPending(ops, 1, this.maxInFlight);
    this.nextSeq = 1 + Math.min(ops.length, this.maxInFlight);
  }

  /**
   * The submissions in flight again, oldest first, for a new connection or process: the
   * server dedupes by (clientId, seq), so sending one it already applied is harmless.
   */
  resend(): Submission[] {
    return allOutgoing(this.state).map((o) => this.submission(o));
  }

  /**
   * Replaces our copy of the server's text with `serverText` at `serverRev`, keeps our
   * unconfirmed edits on top of it, and returns the op that turns our current text into the
   * repaired one. Only for when the ops cannot be followed: our copy failed a checksum, or
   * the revisions we miss were compacted away. (A gap of ops that exist is caught up op by
   * op instead, which keeps every edit where its author put it.)
   *
   * `applied`: how many of our ops in flight, oldest first, `serverText` already contains.
   * The caller learns it by resending them in order and awaiting each answer before reading
   * the text (the server dedupes, so afterwards an op is surely in the text if it was ever
   * applied). The rest are sent again under new sequence numbers, so the server cannot
   * mistake them for submissions it never applied.
   */
  replaceText(serverText: string, serverRev: number, applied = 0): TextOp {
    const ops = this.pendingOps;
    const base = new TextDoc(this.server.toString());
    for (const f of inflightOf(this.state).slice(0, applied)) {
      base.apply(f.op);
      ops.shift();
    }
    const correction = replacementOp(base.toString(), serverText);
    let forLocal = correction;
    let rebased: TextOp[] = [];
    if (ops.length > 0) {
      const mine = ops.reduce((a, b) => compose(a, b));
      const [mine2, correction2] = transform(mine, correction, false);
      rebased = [mine2];
      forLocal = correction2;
    }
    this.local.apply(forLocal);
    this.server = new TextDoc(serverText);
    this.confirmedRev = serverRev;
    this.history = [];
    this.state = stateWithPending(rebased, this.nextSeq, this.maxInFlight);
    this.nextSeq += rebased.length;
    return forLocal;
  }

  /** Unconfirmed edits, for keeping across a restart (see PendingEdits). */
  pending(): PendingEdits {
    const inflight = inflightOf(this.state)[0];
    return {
      clientId: this.clientId,
      baseRev: this.confirmedRev,
      seq: inflight?.seq ?? this.nextSeq,
      ops: this.pendingOps.map((op) => [...op]),
    };
  }

  /** A JSON-safe copy of everything `restore` needs. */
  snapshot(): SyncSnapshot {
    return { version: 1, ...this.pending(), baseText: this.server.toString() };
  }

  /** Our selection in our text → the server's text at `rev`, as others can map it. */
  selectionForOthers(selection: Selection): RevSelection {
    const ops = this.pendingOps.reverse();
    const back = (pos: number): number => ops.reduce((p, op) => positionBefore(p, op), pos);
    return { rev: this.confirmedRev, anchor: back(selection.anchor), head: back(selection.head) };
  }

  /**
   * Someone's selection, published in the server's text at `selection.rev`, mapped into
   * our text. Undefined when we cannot map it yet (it is ahead of us: try again after the
   * next revision) or any more (older than the revisions we keep: wait for a fresh one).
   */
  selectionFromOthers(selection: RevSelection): Selection | undefined {
    if (selection.rev > this.confirmedRev) return undefined;
    let sel: Selection = { anchor: selection.anchor, head: selection.head };
    if (selection.rev < this.confirmedRev) {
      const first = this.history[0];
      if (first === undefined || first.rev > selection.rev + 1) return undefined;
      for (const { rev, op } of this.history) if (rev > selection.rev) sel = transformSelection(sel, op);
    }
    for (const op of this.pendingOps) sel = transformSelection(sel, op);
    return sel;
  }

  private submission({ sent, prior }: Outgoing): Submission {
    return {
      clientId: this.clientId,
      seq: sent.seq,
      baseRev: this.confirmedRev,
      op: [...sent.op],
      prior: prior.map((p) => ({ seq: p.seq, op: [...p.op] })),
    };
  }

  /** Applies a server op to our copy of the server's text; undoes it and says why if the checksum disagrees. */
  private advanceServer(incoming: ServerOp): string | undefined {
    const expected = incoming.checksum;
    const undo = expected !== undefined ? this.server.invert(incoming.op) : undefined;
    this.server.apply(incoming.op);
    if (undo !== undefined && this.server.checksum() !== expected) {
      this.server.apply(undo);
      return `our text at revision ${incoming.rev} does not match the server's checksum`;
    }
    this.confirmedRev = incoming.rev;
    this.history.push({ rev: incoming.rev, op: incoming.op });
    if (this.history.length > this.historyLimit) this.history.shift();
    return undefined;
  }
}

/** The state holding `ops` whose first `seqs.length` (at most `limit`) are in flight under those seqs. */
function stateWithSeqs(ops: readonly TextOp[], seqs: readonly number[], limit: number, nextSeq: number): ClientState {
  if (ops.length === 0) return stateWithPending([], nextSeq, limit);
  const inflight = ops.slice(0, Math.min(seqs.length, limit)).map((op, i) => ({ seq: seqs[i] as number, op }));
  const rest = ops.slice(inflight.length);
  if (inflight.length === 0) return stateWithPending(rest, nextSeq, limit);
  if (rest.length === 0) return new AwaitingConfirm(inflight);
  return new AwaitingWithBuffer(inflight, rest.reduce((a, b) => compose(a, b)));
}

function diverged(reason: string): Received {
  return { kind: "diverged", reason };
}


/** Maps a position in the text after `op` back to the text before it; text `op` inserted collapses to where it went in. */
export function positionBefore(pos: number, op: TextOp): number {
  let before = 0;
  let after = 0;
  for (const c of op) {
    if (typeof c === "string") {
      if (pos <= after + c.length) return before;
      after += c.length;
    } else if (c > 0) {
      if (pos <= after + c) return before + (pos - after);
      before += c;
      after += c;
    } else {
      before -= c;
    }
  }
  return before;
}

function parseSnapshot(value: unknown): SyncSnapshot {
  const bad = (what: string): never => {
    throw new Error(`cannot restore the sync state: ${what}`);
  };
  if (typeof value !== "object" || value === null) return bad("it is not an object");
  const v = value as Record<string, unknown>;
  if (v.version !== 1) bad(`version ${String(v.version)} is not one this client knows`);
  if (typeof v.clientId !== "string" || v.clientId === "") bad("clientId is missing");
  for (const key of ["baseRev", "seq"] as const) {
    const n = v[key];
    if (typeof n !== "number" || !Number.isSafeInteger(n) || n < 0) bad(`${key} is not a whole number ≥ 0`);
  }
  if (typeof v.baseText !== "string") bad("baseText is missing");
  if (!Array.isArray(v.ops)) bad("ops is not a list");
  let length = (v.baseText as string).length;
  (v.ops as unknown[]).forEach((op, i) => {
    const problem = checkOp(op);
    if (problem !== undefined) bad(`op ${i} is malformed: ${problem}`);
    const span = baseLength(op as TextOp);
    if (span !== length) bad(`op ${i} spans ${span} code units where the text has ${length}`);
    length = baseLength(op as TextOp) + (targetLengthDelta(op as TextOp));
  });
  return value as SyncSnapshot;
}

function targetLengthDelta(op: TextOp): number {
  let delta = 0;
  for (const c of op) {
    if (typeof c === "string") delta += c.length;
    else if (c < 0) delta += c;
  }
  return delta;
}
