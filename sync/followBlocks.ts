// How a client follows a note's op log. Convex re-sends a query's whole result whenever it
// changes, and runs one query per distinct (function, args). So the log is watched in
// small aligned blocks of revisions (`ops:range`), subscribed ahead of the revision the
// client holds:
// - a push carries its block's ops so far: 1.5 on average when each commit is one op;
// - a block beyond the head reads an empty stretch of the log and not the head, so it is
//   re-run only when its first op lands: watching ahead costs nothing until then;
// - caught-up clients watch the same blocks, so one re-run per commit serves them all;
// - the next ops are watched before they land, so a push follows its commit by one trip
//   over the wire however slow the link. A window that moved with the client cost a round
//   trip per move, and on a slow link held a round trip's worth of ops, re-sent whole on
//   every commit.
//
// The client watches `ahead` blocks from the one its next revision falls in, and tops the
// watch up a quarter at a time (each new block is a subscription change, and the server
// answers changes that arrive together at once). When a block already holds ops at its
// first answer, ops land faster than a round trip brings new blocks: `ahead` doubles, up
// to MOST_AHEAD.
import type { LogPage } from "./syncDriver";
import type { ServerOp } from "./syncClient";

/** Revisions per block. */
export const BLOCK_REVS = 2;

/** Blocks watched ahead at first: 32 revisions, more than a loopback round trip ever sees. */
export const FIRST_AHEAD = 16;

/** Most blocks watched ahead: 128 revisions, a round trip of 500 ms at 250 ops/s (50 people typing). */
export const MOST_AHEAD = 64;

/** What one block's subscription answers (`ops:range`). */
export type BlockPage = { readonly kind: "ops"; readonly ops: readonly ServerOp[] } | { readonly kind: "reload" };

/** The revisions block `block` holds: (afterRev, throughRev]. */
export function blockRange(block: number): { afterRev: number; throughRev: number } {
  return { afterRev: block * BLOCK_REVS, throughRev: (block + 1) * BLOCK_REVS };
}

/** The block a client at `rev` needs next (the one holding rev + 1). */
function firstBlock(rev: number): number {
  return Math.floor(rev / BLOCK_REVS);
}

/**
 * The blocks one client watches and what they answered. The caller subscribes and
 * unsubscribes as `plan` says, reports answers with `answered`, and feeds `page` to the
 * sync driver once a transition's answers are all in.
 */
export class BlockFollow {
  /** Watched blocks, contiguous, with their latest answer (undefined until the first). */
  private readonly blocks = new Map<number, BlockPage | undefined>();
  private ahead = FIRST_AHEAD;

  /** Blocks watched ahead now. */
  get watchedAhead(): number {
    return this.ahead;
  }

  /** The blocks to start and to stop watching, for a client at `rev`. */
  plan(rev: number): { watch: number[]; drop: number[] } {
    const first = firstBlock(rev);
    const drop = [...this.blocks.keys()].filter((block) => block < first);
    for (const block of drop) this.blocks.delete(block);
    let next = first;
    while (this.blocks.has(next)) next++;
    const watch: number[] = [];
    if (next - first <= this.ahead - Math.max(1, this.ahead / 4)) {
      for (; next < first + this.ahead; next++) {
        watch.push(next);
        this.blocks.set(next, undefined);
      }
    }
    return { watch, drop };
  }

  /** A watched block's answer (ignored once the block is no longer watched). */
  answered(block: number, page: BlockPage): void {
    if (!this.blocks.has(block)) return;
    // A block that held ops before its first answer was watched too late: ops land faster
    // than a round trip brings the blocks ahead. (The lowest may hold the op we wait for.)
    const late = this.blocks.get(block) === undefined && page.kind === "ops" && page.ops.length > 0 && this.blocks.has(block - 1);
    if (late) this.ahead = Math.min(this.ahead * 2, MOST_AHEAD);
    this.blocks.set(block, page);
  }

  /**
   * The ops after `rev` that the watched blocks hold, in order, up to the first block that
   * has not answered; undefined when there are none. Answers of one transition are
   * consistent, so a revision missing before a later one is a real gap, and the driver
   * repairs it.
   */
  page(rev: number): LogPage | undefined {
    const ops: ServerOp[] = [];
    for (let block = firstBlock(rev); ; block++) {
      const page = this.blocks.get(block);
      if (page === undefined) break;
      if (page.kind === "reload") return { kind: "reload", head: rev };
      for (const op of page.ops) if (op.rev > rev) ops.push(op);
    }
    const last = ops[ops.length - 1];
    return last === undefined ? undefined : { kind: "ops", ops, head: last.rev };
  }
}
