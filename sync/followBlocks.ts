// How a client follows a note's op log. Convex re-sends a query's whole result whenever it
// changes, and runs one query per distinct (function, args). So the log is watched in
// aligned blocks of revisions (`ops:range`), subscribed ahead of the revision the client
// holds:
// - a push carries its block's ops so far: 1.5 on average in a 2-revision block when each
//   commit is one op;
// - a block beyond the head reads an empty stretch of the log and not the head, so it is
//   re-run only when its first op lands: watching ahead costs nothing until then;
// - clients watch the same aligned blocks, so one re-run per commit serves them all;
// - the next ops are watched before they land, so a push follows its commit by one trip
//   over the wire however slow the link. A window that moved with the client cost a round
//   trip per move, and on a slow link held a round trip's worth of ops, re-sent whole on
//   every commit.
//
// Each block is one subscription and one unsubscription (two frames to the server), so a
// block per two revisions costs a server 50 typists × 5 keys/s × 50 followers = 12,500
// frames a second: blocks grow with how fast the note moves, to make about
// MOVES_PER_SECOND a client. A block of size s starts at a multiple of s, so clients at the
// same size still share blocks.
//
// The client watches `ahead` revisions past its own, and tops the watch up a quarter at a
// time (the server answers subscription changes that arrive together at once). When a
// block that topped up the watch already holds ops at its first answer, ops land faster
// than a round trip brings new blocks: `ahead` goes to MOST_AHEAD at once (doubling took a
// late round trip per step, and a client joining a busy note got its first second of
// pushes a round trip late), in blocks large enough that a top-up stays a few subscriptions.
import type { LogPage } from "./syncDriver";
import type { ServerOp } from "./syncClient";

/** Revisions per block while the note is quiet. */
export const MIN_BLOCK = 2;

/** Revisions per block at most: under the busiest typing a push carries half of one on average. */
export const MAX_BLOCK = 16;

/**
 * Blocks a client aims to move through per second, whatever the note's pace. Halving the
 * blocks (from 8 moves a second and 32 revisions at most) cut what a client receives per
 * key by 15% at 10 typists and 25% at 25, and neither the server's CPU per key nor the
 * latencies got worse (bench:clients, bench/README.md).
 */
export const MOVES_PER_SECOND = 16;

/**
 * Revisions watched ahead at first: more than a loopback round trip sees, in 9
 * subscriptions, so a window with dozens of notes open stays far below a connection's
 * query limit (1,000 on the local backend). Busy notes watch further (MOST_AHEAD).
 */
export const FIRST_AHEAD = 16;

/** Revisions watched ahead at most: a round trip of 500 ms at 250 ops/s (50 people typing). */
export const MOST_AHEAD = 128;

/**
 * Most UTF-16 code units of inserted text a block may hold at or before the client's
 * revision: past it the rest of the block is watched anew, so a paste is not re-sent with
 * every op after it in a large block.
 */
const SPLIT_TEXT = 1024;

/** Whole blocks a top-up watches at most (more pieces may align it to the grid). */
const MOST_BLOCKS_PER_COVER = 8;

/** How often the note's pace is measured. */
const PACE_MS = 250;

/** What one block's subscription answers (`ops:range`). */
export type BlockPage = { readonly kind: "ops"; readonly ops: readonly ServerOp[] } | { readonly kind: "reload" };

/** Revisions (afterRev, throughRev]. */
export interface BlockRange {
  readonly afterRev: number;
  readonly throughRev: number;
}

interface Block extends BlockRange {
  /** The latest answer; undefined until the first. */
  page?: BlockPage;
  /** Watched to top up a watch under way: it should answer before its first op lands. */
  ahead?: boolean;
}

/**
 * The blocks one client watches and what they answered. The caller subscribes and
 * unsubscribes as `plan` says, reports answers with `answered`, and feeds `page` to the
 * sync driver once a transition's answers are all in.
 */
export class BlockFollow {
  /** Watched blocks, contiguous and in order. */
  private blocks: Block[] = [];
  private ahead = FIRST_AHEAD;
  private size = MIN_BLOCK;
  private pace: { at: number; rev: number } | undefined;

  /** Revisions watched ahead now. */
  get watchedAhead(): number {
    return this.ahead;
  }

  /** The size new blocks get now. */
  get blockSize(): number {
    return this.size;
  }

  /** The blocks to start and to stop watching, for a client at `rev`, at `now` (ms). */
  plan(rev: number, now: number): { watch: BlockRange[]; drop: BlockRange[] } {
    this.measurePace(rev, now);
    // Blocks behind us go; all go when the first no longer holds our next revision.
    const lost = this.blocks[0] !== undefined && this.blocks[0].afterRev > rev;
    const fresh = lost || this.blocks.length === 0;
    const behind = this.blocks.findIndex((block) => block.throughRev > rev);
    const drop: BlockRange[] = this.blocks.splice(0, lost || behind < 0 ? this.blocks.length : behind);
    const watch: BlockRange[] = [];
    const first = this.blocks[0];
    if (first !== undefined && textBehind(first, rev) > SPLIT_TEXT) {
      // Every push of this block would carry that text again: watch the rest of it anew.
      drop.push(...this.blocks.splice(0, 1));
      const pieces = this.cover(rev, first.throughRev, true);
      this.blocks.unshift(...pieces);
      watch.push(...pieces);
    }
    // A fresh watch starts right after `rev` (blocks of 1 up to the grid): the op at `rev`
    // may be a large paste, and a block holding it would send it again.
    const end = this.blocks[this.blocks.length - 1]?.throughRev ?? rev;
    if (end - rev <= this.ahead - this.ahead / 4) {
      const more = this.cover(end, rev + this.ahead);
      if (!fresh) for (const block of more) block.ahead = true;
      this.blocks.push(...more);
      watch.push(...more);
    }
    // Ranges only: the caller hands them to `ops:range` as they are.
    const range = ({ afterRev, throughRev }: BlockRange): BlockRange => ({ afterRev, throughRev });
    return { watch: watch.map(range), drop: drop.map(range) };
  }

  /** A watched block's answer (ignored once the block is no longer watched). */
  answered(range: BlockRange, page: BlockPage): void {
    const block = this.blocks.find((b) => b.afterRev === range.afterRev);
    if (block === undefined || block.throughRev !== range.throughRev) return;
    // A block watched to top up that held ops before its first answer was watched too
    // late: ops land faster than a round trip brings the blocks ahead.
    const late = block.ahead === true && block.page === undefined && page.kind === "ops" && page.ops.length > 0;
    if (late) this.ahead = MOST_AHEAD;
    block.page = page;
  }

  /**
   * The ops after `rev` that the watched blocks hold, in order, up to the first block that
   * has not answered; undefined when there are none. Answers of one transition are
   * consistent, so a revision missing before a later one is a real gap, and the driver
   * repairs it.
   */
  page(rev: number): LogPage | undefined {
    const ops: ServerOp[] = [];
    for (const { page } of this.blocks) {
      if (page === undefined) break;
      if (page.kind === "reload") return { kind: "reload", head: rev };
      for (const op of page.ops) if (op.rev > rev) ops.push(op);
    }
    const last = ops[ops.length - 1];
    return last === undefined ? undefined : { kind: "ops", ops, head: last.rev };
  }

  /**
   * Blocks from `from` on, through `to` at least: of the current size, or smaller where a
   * block of that size would not start at a multiple of it (or, when `exact`, would pass `to`).
   * So every block of size s starts at a multiple of s, and clients share them.
   */
  private cover(from: number, to: number, exact = false): Block[] {
    const blocks: Block[] = [];
    let full = this.size;
    while (full < MAX_BLOCK && (to - from) / full > MOST_BLOCKS_PER_COVER) full *= 2;
    for (let start = from; start < to; ) {
      let size = full;
      while (start % size !== 0 || (exact && size > MIN_BLOCK && start + size > to)) size /= 2;
      blocks.push({ afterRev: start, throughRev: start + size });
      start += size;
    }
    return blocks;
  }

  /** Sizes new blocks by the revisions the client went through in the last PACE_MS. */
  private measurePace(rev: number, now: number): void {
    if (this.pace === undefined || rev < this.pace.rev) {
      this.pace = { at: now, rev };
      return;
    }
    const elapsed = now - this.pace.at;
    if (elapsed < PACE_MS) return;
    const perSecond = ((rev - this.pace.rev) * 1000) / elapsed;
    let size = MIN_BLOCK;
    while (size < MAX_BLOCK && perSecond / size > MOVES_PER_SECOND) size *= 2;
    this.size = size;
    this.pace = { at: now, rev };
  }
}

/** Code units of text the block's ops up to `rev` insert. */
function textBehind(block: Block, rev: number): number {
  let n = 0;
  if (block.page?.kind !== "ops") return 0;
  for (const { rev: at, op } of block.page.ops) {
    if (at > rev) break;
    for (const c of op) if (typeof c === "string") n += c.length;
  }
  return n;
}
