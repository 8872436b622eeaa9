/**
 * The server's half of the protocol, in memory: the same steps as the Convex `ops:submit`
 * mutation (convex/ops.ts) without storage or limits. Tests, the trace replay tool and
 * benchmarks use it as the server that clients talk to.
 *
 * A submission made against `baseRev` is brought past every op after it (sync/rebase.ts,
 * the same step the mutation takes), applied, and appended as head + 1.
 * (clientId, seq) makes a retry idempotent: it gets the rev it got the first time.
 */
import { TextDoc } from "./textDoc";
import { Rebase } from "./rebase";
import { OpError } from "./textOp";
import type { ServerOp, Submission } from "./syncClient";

export interface SequencerOptions {
  /** Publish a checksum with every rev (costs a pass over the text per rev). Default true. */
  readonly checksums?: boolean;
}

export interface Sequenced {
  readonly rev: number;
  /** False when this (clientId, seq) had been applied before and was not applied again. */
  readonly applied: boolean;
}

export class Sequencer {
  private readonly doc: TextDoc;
  private readonly ops: ServerOp[] = [];
  /** Rev of every (clientId, seq) applied, per client: number keys stay cheap over long logs. */
  private readonly seen = new Map<string, Map<number, number>>();
  private readonly checksums: boolean;

  constructor(text = "", options: SequencerOptions = {}) {
    this.doc = new TextDoc(text);
    this.checksums = options.checksums ?? true;
  }

  /** The newest revision (0 before any op). */
  get head(): number {
    return this.ops.length;
  }

  get text(): string {
    return this.doc.toString();
  }

  /** Throws OpError if the op does not fit revision baseRev, or baseRev is ahead of the head. */
  submit(s: Submission): Sequenced {
    let bySeq = this.seen.get(s.clientId);
    if (bySeq === undefined) {
      bySeq = new Map();
      this.seen.set(s.clientId, bySeq);
    }
    const earlier = bySeq.get(s.seq);
    if (earlier !== undefined) return { rev: earlier, applied: false };
    if (!Number.isSafeInteger(s.baseRev) || s.baseRev < 0 || s.baseRev > this.head) {
      throw new OpError(`baseRev ${s.baseRev} is not a revision of this note (head ${this.head})`);
    }
    const rebase = new Rebase(s.clientId, s.prior, s.op);
    for (let i = s.baseRev; i < this.ops.length; i++) rebase.past(this.ops[i] as ServerOp);
    const op = rebase.result();
    if (op === undefined) throw new OpError(`an earlier edit sent along with edit ${s.seq} never reached the server`);
    this.doc.apply(op);
    const rev = this.ops.length + 1;
    const { clientId, seq } = s;
    this.ops.push(this.checksums ? { rev, clientId, seq, op, checksum: this.doc.checksum() } : { rev, clientId, seq, op });
    bySeq.set(s.seq, rev);
    return { rev, applied: true };
  }

  /** The op stored as `rev` (1 ≤ rev ≤ head). */
  op(rev: number): ServerOp {
    const op = this.ops[rev - 1];
    if (op === undefined) throw new RangeError(`no revision ${rev} (head ${this.head})`);
    return op;
  }

  /** The ops after `rev`, in order. */
  since(rev: number): ServerOp[] {
    return this.ops.slice(rev);
  }
}
