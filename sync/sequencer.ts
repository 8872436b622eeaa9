/**
 * An in-memory op log driven by the server step (sync/serverStep.ts), for tools and tests
 * that need a server without storage: the trace replay, benchmarks, and engine unit tests.
 * It stores what the step decides and nothing more; ops:submit is the real adapter.
 */
import { TextDoc } from "./textDoc";
import { OpError } from "./textOp";
import { runStep, serverStep, type StepLimits } from "./serverStep";
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

/** Memory has no read budget: any base in the log can be transformed from. */
const UNBOUNDED: StepLimits = { window: Number.MAX_SAFE_INTEGER, weight: Number.POSITIVE_INFINITY, prior: Number.MAX_SAFE_INTEGER };

export class Sequencer {
  private readonly doc: TextDoc;
  private readonly ops: ServerOp[] = [];
  /** Rev and mark of every (clientId, seq) applied, per client. */
  private readonly seen = new Map<string, Map<number, { rev: number; mark: string }>>();
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

  /** Throws OpError when the step finds the submission invalid, stale or reusing a (clientId, seq). */
  submit(s: Submission): Sequenced {
    const earlier = this.seen.get(s.clientId)?.get(s.seq) ?? null;
    let at = s.baseRev;
    const result = runStep(serverStep({ rev: this.head, length: this.doc.length }, s, earlier, UNBOUNDED), () => this.ops[at++] ?? null);
    switch (result.kind) {
      case "duplicate":
        return { rev: result.rev, applied: false };
      case "applied": {
        this.doc.apply(result.op);
        const { clientId, seq } = s;
        const rev = result.rev;
        this.ops.push(this.checksums ? { rev, clientId, seq, op: result.op, checksum: this.doc.checksum() } : { rev, clientId, seq, op: result.op });
        let bySeq = this.seen.get(clientId);
        if (bySeq === undefined) this.seen.set(clientId, (bySeq = new Map()));
        bySeq.set(seq, { rev, mark: result.mark });
        return { rev, applied: true };
      }
      case "reused":
        throw new OpError(`edit ${s.clientId}#${s.seq} differs from the edit stored under that id as revision ${result.rev}`);
      case "stale":
        throw new OpError(`an earlier edit sent along with edit ${s.seq} never reached the server`);
      case "invalid":
        throw new OpError(result.reason);
      default: {
        const never: never = result;
        throw new Error(`unknown step result ${JSON.stringify(never)}`);
      }
    }
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
