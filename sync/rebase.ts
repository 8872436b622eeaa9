/**
 * The server's step of the protocol, shared by the Convex `ops:submit` mutation and the
 * in-memory sequencer: bring a submitted op from the text its author saw to the head.
 *
 * A client may have several submissions in flight (see clientState.ts). Each carries
 * `prior`: the author's earlier unconfirmed ops, in the form the author held them at
 * `baseRev`; the op itself was made on top of them. Walking the log after `baseRev`, the
 * server does what the author's client does:
 *   - the author's op that is the next of `prior` is that edit arriving: it must be
 *     exactly the form we carry (both sides moved it past the same ops in the same order),
 *     and from then on it is part of the text rather than pending;
 *   - any other op passes through the pending ops, which move past it with the author
 *     tie-break (insertsFirst).
 * When the log is done, every prior op must have been met, and the op is in head form.
 */
import { baseLength, insertsFirst, OpError, transform, type TextOp } from "./textOp";

export interface LoggedOp {
  readonly clientId: string;
  readonly seq: number;
  readonly op: TextOp;
}

export interface PriorOp {
  readonly seq: number;
  readonly op: TextOp;
}

export class Rebase {
  /** The prior ops not yet met in the log, then the submitted op; each made on top of the last. */
  private readonly pending: TextOp[];
  private readonly expected: number[];
  private first = true;

  constructor(
    private readonly clientId: string,
    prior: readonly PriorOp[],
    op: TextOp,
  ) {
    this.pending = [...prior.map((p) => p.op), op];
    this.expected = prior.map((p) => p.seq);
  }

  /** Takes the next op of the log after the base revision. Throws OpError if it cannot. */
  past(logged: LoggedOp): void {
    const oldest = this.pending[0] as TextOp;
    if (this.first && baseLength(oldest) !== baseLength(logged.op)) {
      throw new OpError(
        `the op spans ${baseLength(oldest)} code units but the text had ${baseLength(logged.op)}`,
      );
    }
    this.first = false;
    if (logged.clientId === this.clientId && logged.seq === this.expected[0]) {
      if (!sameOp(logged.op, oldest)) throw new ReusedId(logged.seq);
      this.pending.shift();
      this.expected.shift();
      return;
    }
    let other = logged.op;
    const oursFirst = insertsFirst(this.clientId, logged.clientId);
    for (let i = 0; i < this.pending.length; i++) {
      const [mine, theirs] = transform(this.pending[i] as TextOp, other, oursFirst);
      this.pending[i] = mine;
      other = theirs;
    }
  }

  /**
   * The op in head form, or undefined when an earlier edit it was made on top of never
   * reached the server (it was refused): the author must reload and rebase.
   */
  result(): TextOp | undefined {
    return this.expected.length === 0 ? this.pending[0] : undefined;
  }
}

/**
 * The log holds another edit under the author's (clientId, seq) of an earlier op sent along:
 * both sides move an edit the same way, so a different op there is another writer's that
 * used the same client id.
 */
export class ReusedId extends OpError {
  constructor(readonly seq: number) {
    super(`the earlier edit ${seq} sent along with this one differs from the one the server stored under that id`);
  }
}

export function sameOp(a: TextOp, b: TextOp): boolean {
  return a.length === b.length && a.every((c, i) => c === b[i]);
}
