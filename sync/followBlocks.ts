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
// Over a slow link (and until the link is known) the client watches REACH revisions past
// its own: the nearest `ahead` of them in blocks of the current size, and beyond that in
// blocks that grow with the distance, up to FAR_BLOCK (a block beyond the head costs
// nothing until its first op lands, however large). Over a fast one, only the near window.
// A large block is split into pieces of the current size as the client comes near; it stays
// watched until its pieces have all answered, so no op waits for a subscription. So when a
// note's pace jumps (50 people starting to type at once), its ops land in blocks already
// watched and are pushed one trip after their commit, in larger pushes for a while. (A
// watch of only the near blocks, topped up as the client moved, received its first half
// second a round trip late: the top-ups came too late for the new pace.)
//
// A large block that ops land in before its pieces answer is pushed whole meanwhile: so the
// near window is twice the revisions that land in a round trip (the client's pace times
// the fastest first answer it has seen), up to MOST_AHEAD, in blocks large enough that it
// stays a few subscriptions.
import type { LogPage } from "./syncDriver";
import type { ServerOp } from "./syncClient";
import { insertedText } from "./textOp";

/** Revisions per block while the note is quiet. */
export const MIN_BLOCK = 2;

/** Revisions per near block at most: under the busiest typing a push carries half of one on average. */
export const MAX_BLOCK = 16;

/**
 * Revisions per far block at most. A far block that ops land in before the client comes
 * near is pushed whole on each commit meanwhile: at 32 revisions, 50 clients starting to
 * type at once in a cold server got so much in the first second that the server and
 * their processes fell seconds behind (bench:clients, +100 ms each way, as the first row).
 */
export const FAR_BLOCK = MAX_BLOCK;

/** Revisions a second when 50 people type at once. */
const BUSIEST_PACE = 250;

/** Revisions watched ahead, near and far, when a round trip is slow: 400 ms of the busiest pace. */
export const REACH = 128;

/**
 * Blocks a client aims to move through per second, whatever the note's pace. Halving the
 * blocks (from 8 moves a second and 32 revisions at most) cut what a client receives per
 * key by 15% at 10 typists and 25% at 25, and neither the server's CPU per key nor the
 * latencies got worse (bench:clients, bench/README.md).
 */
export const MOVES_PER_SECOND = 16;

/**
 * Revisions watched in near blocks at least. With the far blocks a watch is at most
 * about 17 subscriptions, so a window with dozens of notes open stays far below a
 * connection's query limit (1,000 on the local backend).
 */
export const FIRST_AHEAD = 16;

/** Revisions watched in near blocks at most: all of REACH. */
export const MOST_AHEAD = REACH;

/** How much the fastest first answer seen drifts up per answer (a link that got slower). */
const ROUND_TRIP_DRIFT = 1.25;

/**
 * Most UTF-16 code units of inserted text a block may hold at or before the client's
 * revision: past it the rest of the block is watched anew, so a paste is not re-sent with
 * every op after it in a large block.
 */
const SPLIT_TEXT = 1024;

/** Near blocks at most (more pieces may align them to the grid). */
const MOST_NEAR_BLOCKS = 8;

/** How often the note's pace is measured. */
const PACE_MS = 250;

/** What one block's subscription answers (`ops:range`). */
export type BlockPage = { readonly kind: "ops"; readonly ops: readonly ServerOp[] } | { readonly kind: "reload" };

/** Revisions (afterRev, throughRev]. */
export interface BlockRange {
  readonly afterRev: number;
  readonly throughRev: number;
}

/** One string per block: a split block and its first piece start at the same revision. */
export const blockKey = ({ afterRev, throughRev }: BlockRange): string => `${afterRev}-${throughRev}`;

interface Block extends BlockRange {
  /** The latest answer; undefined until the first. */
  page?: BlockPage;
  /** When it was watched (ms), until its first answer. */
  since?: number;
  /** Smaller blocks watched to take this one's place once they have all answered. */
  pieces?: Block[];
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
  /** The fastest first answer seen, ms (drifting up). */
  private roundTrip = 0;

  /** Revisions watched in near blocks now. */
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
    const watch: Block[] = [];
    const drop: Block[] = [];
    // A split whose pieces have all answered: they answer for its stretch from now on.
    for (let i = 0; i < this.blocks.length; i++) {
      const split = this.blocks[i]!;
      const { pieces } = split;
      if (pieces === undefined || pieces.some((piece) => piece.page === undefined)) continue;
      this.blocks.splice(i, 1, ...pieces);
      split.pieces = undefined;
      drop.push(split);
      i += pieces.length - 1;
    }
    // Blocks behind us go; all go when the first no longer holds our next revision.
    const lost = this.blocks[0] !== undefined && this.blocks[0].afterRev > rev;
    const behind = this.blocks.findIndex((block) => block.throughRev > rev);
    drop.push(...this.blocks.splice(0, lost || behind < 0 ? this.blocks.length : behind));
    const first = this.blocks[0];
    if (first !== undefined && first.pieces === undefined && textBehind(first, rev) > SPLIT_TEXT) {
      // Every push of this block would carry that text again: watch the rest of it anew.
      drop.push(...this.blocks.splice(0, 1));
      const pieces = this.tile(rev, rev, first.throughRev, true);
      this.blocks.unshift(...pieces);
      watch.push(...pieces);
    }
    // Over a link found fast, far blocks beyond the near window that nothing landed in go:
    // the near window's top-ups take their place.
    const far = this.farNeeded();
    while (!far && this.blocks.length > 1) {
      const last = this.blocks[this.blocks.length - 1]!;
      if (last.afterRev - rev < this.ahead || last.pieces !== undefined || (last.page?.kind === "ops" && last.page.ops.length > 0)) break;
      drop.push(...this.blocks.splice(-1));
    }
    // Large blocks the client is coming near are split, from its revision on.
    const near = this.nearSize();
    for (const block of this.blocks) {
      if (block.afterRev - rev >= this.ahead) break;
      if (block.pieces !== undefined || block.throughRev - block.afterRev <= near || block.page === undefined) continue;
      block.pieces = this.tile(rev, Math.max(rev, block.afterRev), block.throughRev, true);
      watch.push(...block.pieces);
    }
    // A fresh watch starts right after `rev` (blocks of 1 up to the grid): the op at `rev`
    // may be a large paste, and a block holding it would send it again.
    const end = this.blocks[this.blocks.length - 1]?.throughRev ?? rev;
    const reach = far ? REACH : this.ahead;
    if (end - rev <= reach - reach / 4) {
      const more = this.tile(rev, end, rev + reach);
      this.blocks.push(...more);
      watch.push(...more);
    }
    for (const block of watch) block.since = now;
    return { watch: watch.map(range), drop: drop.flatMap((block) => [block, ...(block.pieces ?? [])]).map(range) };
  }

  /** The socket reconnected, maybe over another path: the round trip is measured afresh. */
  reconnected(): void {
    this.roundTrip = 0;
  }

  /**
   * A watched block's answer, at `now` (ms); ignored once the block is no longer watched.
   * Returns how long a first answer took: a round trip that waits in no mutation queue.
   */
  answered(range: BlockRange, page: BlockPage, now: number): number | undefined {
    const block = this.find(range);
    if (block === undefined) return undefined;
    block.page = page;
    if (block.since === undefined) return undefined;
    const took = now - block.since;
    this.roundTrip = this.roundTrip === 0 ? took : Math.min(took, this.roundTrip * ROUND_TRIP_DRIFT);
    block.since = undefined;
    return took;
  }

  private find({ afterRev, throughRev }: BlockRange): Block | undefined {
    for (const block of this.blocks) {
      if (block.afterRev === afterRev && block.throughRev === throughRev) return block;
      const piece = block.pieces?.find((p) => p.afterRev === afterRev && p.throughRev === throughRev);
      if (piece !== undefined) return piece;
    }
    return undefined;
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
   * Blocks from `from` on, through `to` at least (exactly, when `exact`), for a client at
   * `rev`: of the near size within `ahead` of it, and beyond that (over a slow link) up to
   * their distance from it, up to FAR_BLOCK; smaller where a block would not start at a
   * multiple of its size. So every block of size s starts at a multiple of s, and clients
   * share them.
   */
  private tile(rev: number, from: number, to: number, exact = false): Block[] {
    const blocks: Block[] = [];
    const near = this.nearSize();
    // Near blocks of half a far one would cost a split per two blocks: then all are near-sized.
    const far = this.farNeeded() && near * 4 <= FAR_BLOCK;
    for (let start = from; start < to; ) {
      const distance = start - rev;
      let size = near;
      while (far && distance >= this.ahead && size * 2 <= Math.min(FAR_BLOCK, distance)) size *= 2;
      while (start % size !== 0 || (exact && size > 1 && start + size > to)) size /= 2;
      blocks.push({ afterRev: start, throughRev: start + size });
      start += size;
    }
    return blocks;
  }

  /**
   * Far blocks are for a slow link: when the busiest pace would fill the first near window
   * within a round trip (or the round trip is not known yet). Over a fast one, a watch topped up
   * a little late costs a few ms, and far blocks a split each as the client comes near: 50
   * clients on loopback, whose first answers took tens of ms while they all joined, kept far
   * blocks, and their splits made the row's first second queue.
   */
  private farNeeded(): boolean {
    return this.roundTrip === 0 || (BUSIEST_PACE * this.roundTrip) / 1000 > FIRST_AHEAD;
  }

  /** The size of near blocks: the note's pace's, or larger to keep the near window a few blocks. */
  private nearSize(): number {
    let size = this.size;
    while (size < MAX_BLOCK && this.ahead / size > MOST_NEAR_BLOCKS) size *= 2;
    return size;
  }

  /**
   * Sizes new blocks, and the near window, by the revisions the client went through in the
   * last PACE_MS.
   */
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
    let ahead = FIRST_AHEAD;
    while (ahead < MOST_AHEAD && ahead < (2 * perSecond * this.roundTrip) / 1000) ahead *= 2;
    this.ahead = ahead;
    this.pace = { at: now, rev };
  }
}

/** A block's range only: the caller hands it to `ops:range` as it is. */
const range = ({ afterRev, throughRev }: BlockRange): BlockRange => ({ afterRev, throughRev });

/** Code units of text the block's ops up to `rev` insert. */
function textBehind(block: Block, rev: number): number {
  let n = 0;
  if (block.page?.kind !== "ops") return 0;
  for (const { rev: at, op } of block.page.ops) {
    if (at > rev) break;
    n += insertedText(op).length;
  }
  return n;
}
