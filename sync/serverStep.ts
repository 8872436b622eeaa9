/**
 * The server's one step, as a pure decision: what happens to a submission made against
 * revision `baseRev`. `ops:submit` (convex/ops.ts) and the in-memory sequencer
 * (sync/sequencer.ts) are adapters: they read what the step asks for from their op log
 * and store what it decides. Nothing else decides.
 *
 * The step is a generator so the same code serves a synchronous log (memory) and an
 * asynchronous one (Convex's `ctx.db`): it yields "next" whenever it needs the next op after
 * `baseRev`, and the adapter answers with that op or null at the end of the log.
 *
 * Answers:
 *   - applied: the op in head form, to be stored as head + 1;
 *   - duplicate: this (clientId, seq) is already in the log as this edit (a retry): same answer, no write;
 *   - reused: this (clientId, seq), or that of an earlier op sent along, is in the log as a
 *     different edit (two writers share an id);
 *   - stale: the base is too far behind to transform from, or an earlier edit it was made on
 *     top of never reached the log: the client catches up and resends;
 *   - invalid: the op can never apply (malformed, or not fitting its base).
 */
import { checksumOfParts } from "./checksum";
import { Rebase, ReusedId, type LoggedOp, type PriorOp } from "./rebase";
import { baseLength, checkOp, OpError, type TextOp } from "./textOp";

export interface StepSubmission {
  readonly clientId: string;
  readonly seq: number;
  readonly baseRev: number;
  readonly op: TextOp;
  readonly prior: readonly PriorOp[];
}

/** What the log keeps of an applied (clientId, seq), found by the adapter before the step runs. */
export interface Recorded {
  readonly rev: number;
  /** opMark() of the edit as it was submitted; absent on rows written before marks existed. */
  readonly mark?: string;
}

export interface StepHead {
  /** The newest revision (0 before any op). */
  readonly rev: number;
  /** The text's length at `rev`, in UTF-16 code units. */
  readonly length: number;
}

export interface StepLimits {
  /** Most revisions an op may be behind the head and still be transformed. */
  readonly window: number;
  /** Most weight (see opWeight) of past ops read while transforming. */
  readonly weight: number;
  /** Most earlier ops that may travel with a submission. */
  readonly prior: number;
}

export type StepResult =
  | { readonly kind: "applied"; readonly rev: number; readonly op: TextOp; readonly mark: string }
  | { readonly kind: "duplicate"; readonly rev: number }
  | { readonly kind: "reused"; readonly rev: number }
  | { readonly kind: "stale"; readonly head: number }
  | { readonly kind: "invalid"; readonly reason: string };

/**
 * The step asks for the next op after baseRev; the adapter answers with it, null at the end
 * of the log, or OVER_BUDGET when its reader stopped at a budget of its own first (the step
 * then answers stale, as past its own weight limit).
 */
export type StepRequest = "next";
export const OVER_BUDGET = "over budget";
export type StepAnswer = LoggedOp | null | typeof OVER_BUDGET;
export type ServerStep = Generator<StepRequest, StepResult, StepAnswer>;

/**
 * A fingerprint of an edit that transformation does not change: the text it inserts. A
 * retry of an edit may arrive in another form (moved past revisions its author received
 * meanwhile) but always inserts the same text, while a different edit under the same
 * (clientId, seq) almost always inserts something else.
 */
export function opMark(op: TextOp): string {
  return checksumOfParts(op.filter((c): c is string => typeof c === "string"));
}

/** A cheap upper bound on an op's size, used only to bound how much a step reads. */
export function opWeight(op: TextOp): number {
  let n = 0;
  for (const c of op) n += typeof c === "string" ? 3 * c.length + 8 : 16;
  return n;
}

export function* serverStep(
  head: StepHead,
  sub: StepSubmission,
  earlier: Recorded | null,
  limits: StepLimits,
): ServerStep {
  const shape = checkOp(sub.op);
  if (shape !== undefined) return invalid(`the op is malformed: ${shape}`);
  if (sub.prior.length > limits.prior) {
    return invalid(`at most ${limits.prior} earlier ops may travel with an op; these are ${sub.prior.length}`);
  }
  for (const [i, p] of sub.prior.entries()) {
    const problem = checkOp(p.op);
    if (problem !== undefined) return invalid(`earlier op ${i} is malformed: ${problem}`);
  }
  const mark = opMark(sub.op);
  if (earlier !== null) {
    const same = earlier.mark === undefined || earlier.mark === mark;
    return same ? { kind: "duplicate", rev: earlier.rev } : { kind: "reused", rev: earlier.rev };
  }
  if (!Number.isSafeInteger(sub.baseRev) || sub.baseRev < 0 || sub.baseRev > head.rev) {
    return invalid(`baseRev ${sub.baseRev} is not a revision of this note (the latest is ${head.rev})`);
  }
  if (head.rev - sub.baseRev > limits.window) return { kind: "stale", head: head.rev };

  const rebase = new Rebase(sub.clientId, sub.prior, sub.op);
  let weight = 0;
  for (let rev = sub.baseRev + 1; rev <= head.rev; rev++) {
    const past = yield "next";
    if (past === OVER_BUDGET) return { kind: "stale", head: head.rev };
    if (past === null) throw new Error(`the op log ends before revision ${rev} of ${head.rev}`);
    weight += opWeight(past.op);
    if (weight > limits.weight) return { kind: "stale", head: head.rev };
    try {
      rebase.past(past);
    } catch (e) {
      if (e instanceof ReusedId) return { kind: "reused", rev };
      if (e instanceof OpError) return invalid(`the op does not fit revision ${sub.baseRev}: ${e.message}`);
      throw e;
    }
  }
  const op = rebase.result();
  if (op === undefined) return { kind: "stale", head: head.rev };
  if (baseLength(op) !== head.length) {
    const where = head.rev === sub.baseRev ? `revision ${sub.baseRev}` : "the note";
    return invalid(`the op does not fit ${where}: it spans ${baseLength(op)} code units but the text has ${head.length}`);
  }
  return { kind: "applied", rev: head.rev + 1, op, mark };
}

/** Runs a step against a synchronous log: `next()` hands out the ops after baseRev in order. */
export function runStep(step: ServerStep, next: () => StepAnswer): StepResult {
  let request = step.next();
  while (!request.done) request = step.next(next());
  return request.value;
}

/** Runs a step against an asynchronous log (a database cursor). */
export async function runStepAsync(step: ServerStep, next: () => Promise<StepAnswer>): Promise<StepResult> {
  let request = step.next();
  while (!request.done) request = step.next(await next());
  return request.value;
}

function invalid(reason: string): StepResult {
  return { kind: "invalid", reason };
}
