import { describe, expect, it } from "vitest";
import { Random } from "../../harness/random";
import { seedsToRun } from "../../harness/textGen";
import { BlockFollow, FAR_BLOCK, FIRST_AHEAD, MAX_BLOCK, MIN_BLOCK, MOST_AHEAD, MOVES_PER_SECOND, REACH, type BlockPage, type BlockRange } from "../../sync/followBlocks";
import type { ServerOp } from "../../sync/syncClient";

const op = (rev: number): ServerOp => ({ rev, clientId: "c", seq: rev, op: [1] });

/** What a block answers once the log's head is `head`. */
const answer = ({ afterRev, throughRev }: BlockRange, head: number): BlockPage => {
  const ops: ServerOp[] = [];
  for (let rev = afterRev + 1; rev <= Math.min(head, throughRev); rev++) ops.push(op(rev));
  return { kind: "ops", ops };
};

const revs = (page: ReturnType<BlockFollow["page"]>) => (page?.kind === "ops" ? page.ops.map((o) => o.rev) : page);

describe("following the log in blocks", () => {
  it("watches REACH revisions from right after the client's: small blocks near, larger beyond, all aligned", () => {
    const follow = new BlockFollow();
    const first = follow.plan(7, 0);
    // Nothing at or before 7 (it may be a paste), then onto the grid.
    expect(first.watch.slice(0, 2)).toEqual([{ afterRev: 7, throughRev: 8 }, { afterRev: 8, throughRev: 8 + MIN_BLOCK }]);
    expect(first.watch[first.watch.length - 1]!.throughRev).toBeGreaterThanOrEqual(7 + REACH);
    for (const [i, b] of first.watch.entries()) {
      const size = b.throughRev - b.afterRev;
      expect(b.afterRev % size).toBe(0);
      expect(b.afterRev).toBe(i === 0 ? 7 : first.watch[i - 1]!.throughRev);
      expect(size).toBeLessThanOrEqual(b.afterRev < 7 + FIRST_AHEAD ? MIN_BLOCK : FAR_BLOCK);
    }
    expect(first.watch.length).toBeLessThanOrEqual(18);
    expect(first.drop).toEqual([]);
    // A little further: enough still watched ahead, only the block behind goes.
    expect(follow.plan(8, 0)).toEqual({ watch: [], drop: [first.watch[0]] });
    // Far on, the watch is topped up in one batch, from where it ended, in far blocks.
    const later = follow.plan(7 + REACH / 2, 0);
    expect(later.watch.length).toBeGreaterThan(0);
    expect(later.watch[0]!.afterRev).toBe(first.watch[first.watch.length - 1]!.throughRev);
    expect(later.watch.every((b) => b.throughRev - b.afterRev === FAR_BLOCK)).toBe(true);
  });

  it("splits a large block into small ones as the client comes near, and drops it once they have all answered", () => {
    const follow = new BlockFollow();
    const { watch } = follow.plan(0, 0);
    for (const block of watch) follow.answered(block, answer(block, 0), 0);
    const big = watch.find((b) => b.afterRev === FIRST_AHEAD)!;
    expect(big.throughRev - big.afterRev).toBeGreaterThan(MIN_BLOCK);
    const rev = MIN_BLOCK;
    const split = follow.plan(rev, 0);
    const pieces = split.watch.filter((b) => b.afterRev >= big.afterRev && b.throughRev <= big.throughRev);
    // Small within the near window, growing with the distance beyond it; exactly the large block's stretch.
    for (const [i, b] of pieces.entries()) {
      const size = b.throughRev - b.afterRev;
      expect(b.afterRev % size).toBe(0);
      expect(b.afterRev).toBe(i === 0 ? big.afterRev : pieces[i - 1]!.throughRev);
      expect(size).toBeLessThanOrEqual(b.afterRev < rev + FIRST_AHEAD ? MIN_BLOCK : (big.throughRev - big.afterRev) / 2);
    }
    expect(pieces[pieces.length - 1]!.throughRev).toBe(big.throughRev);
    expect(split.drop).toEqual([{ afterRev: 0, throughRev: MIN_BLOCK }]);
    // Until every piece has answered, the large block answers for its stretch.
    const head = big.afterRev + 3;
    for (const block of watch) follow.answered(block, answer(block, head), 0);
    expect(revs(follow.page(rev))).toEqual(Array.from({ length: head - rev }, (_, i) => rev + 1 + i));
    for (const piece of pieces.slice(1)) follow.answered(piece, answer(piece, head), 0);
    expect(follow.plan(rev, 0).drop).toEqual([]);
    follow.answered(pieces[0]!, answer(pieces[0]!, head), 0);
    expect(follow.plan(rev, 0).drop).toEqual([big]);
    expect(revs(follow.page(rev))).toEqual(Array.from({ length: head - rev }, (_, i) => rev + 1 + i));
  });

  it("watches near blocks over twice the revisions that land in a round trip, in a few of them", () => {
    const near = (roundTripMs: number) => {
      const follow = new BlockFollow();
      let rev = 0;
      for (let at = 0; at <= 2000; at += 10, rev += 2.5) {
        for (const block of follow.plan(Math.floor(rev), at).watch) follow.answered(block, answer(block, 0), at + roundTripMs);
      }
      return { ahead: follow.watchedAhead, size: follow.blockSize };
    };
    // 250 revisions a second: 50 in a 200 ms round trip, 0.5 on loopback.
    expect(near(200)).toEqual({ ahead: MOST_AHEAD, size: MAX_BLOCK });
    expect(near(2).ahead).toBe(FIRST_AHEAD);
    const follow = new BlockFollow();
    let rev = 0;
    let most = 0;
    for (let at = 0; at <= 2000; at += 10, rev += 2.5) {
      const { watch } = follow.plan(Math.floor(rev), at);
      for (const block of watch) follow.answered(block, answer(block, 0), at + 200);
      most = Math.max(most, watch.length);
    }
    // Blocks of MIN_BLOCK would be dozens of subscriptions at once.
    expect(most).toBeLessThanOrEqual(20);
  });

  it("over a fast link, once its round trip is known, watches only the near window", () => {
    const follow = new BlockFollow();
    let rev = 0;
    const later: BlockRange[] = [];
    for (let at = 0; at <= 3000; at += 10, rev += 0.1) {
      const { watch } = follow.plan(Math.floor(rev), at);
      for (const block of watch) follow.answered(block, answer(block, 0), at + 2);
      if (at > 1000) later.push(...watch);
    }
    expect(later.length).toBeGreaterThan(0);
    for (const b of later) {
      expect(b.throughRev - b.afterRev).toBeLessThanOrEqual(MIN_BLOCK);
      expect(b.throughRev).toBeLessThanOrEqual(Math.floor(rev) + FIRST_AHEAD + MIN_BLOCK);
    }
  });

  it("after a reconnect, watches far ahead again until its round trip over the new path is known", () => {
    const follow = new BlockFollow();
    let rev = 0;
    for (let at = 0; at <= 2000; at += 10, rev += 0.1) {
      for (const block of follow.plan(Math.floor(rev), at).watch) follow.answered(block, answer(block, 0), at + 2);
    }
    const end = (watch: BlockRange[]) => Math.max(0, ...watch.map((b) => b.throughRev));
    const now = Math.floor(rev) + FIRST_AHEAD;
    expect(end(follow.plan(now, 2010).watch)).toBeLessThanOrEqual(now + FIRST_AHEAD + MIN_BLOCK);
    follow.reconnected();
    expect(end(follow.plan(now, 2020).watch)).toBeGreaterThanOrEqual(now + REACH - FAR_BLOCK);
  });

  it("hands on the ops after the client's revision, up to the first block that has not answered", () => {
    const follow = new BlockFollow();
    const { watch } = follow.plan(0, 0);
    const head = 3 * MIN_BLOCK;
    follow.answered(watch[1]!, answer(watch[1]!, head), 0);
    expect(follow.page(0)).toBeUndefined();
    follow.answered(watch[0]!, answer(watch[0]!, head), 0);
    expect(revs(follow.page(1))).toEqual([2, 3, 4].slice(0, 2 * MIN_BLOCK - 1));
    // A block no longer watched is ignored.
    follow.plan(head, 0);
    follow.answered(watch[0]!, { kind: "reload" }, 0);
    expect(follow.page(head)).toBeUndefined();
  });

  it("asks for a reload when a block's ops were compacted away", () => {
    const follow = new BlockFollow();
    const { watch } = follow.plan(0, 0);
    follow.answered(watch[0]!, { kind: "reload" }, 0);
    expect(follow.page(0)).toEqual({ kind: "reload", head: 0 });
  });

  it("makes blocks larger, and still aligned, when the note moves fast, and small again when it slows", () => {
    const follow = new BlockFollow();
    let rev = 0;
    let at = 0;
    const sizes: number[] = [];
    for (; at < 3000; at += 10, rev += 3) {
      for (const block of follow.plan(rev, at).watch) {
        expect(block.afterRev % (block.throughRev - block.afterRev)).toBe(0);
        sizes.push(block.throughRev - block.afterRev);
      }
    }
    expect(follow.blockSize).toBe(MAX_BLOCK); // 300 revisions a second
    expect(sizes).toContain(MAX_BLOCK);
    for (const end = at + 2000; at < end; at += 100, rev += 1) follow.plan(rev, at);
    expect(follow.blockSize).toBe(MIN_BLOCK); // 10 a second
  });

  it("watches the rest of a large block anew once it holds a paste behind the client, so the paste is not re-sent", () => {
    const follow = new BlockFollow();
    let block: BlockRange | undefined;
    for (let at = 0, rev = 0; at <= 1000; at += 250, rev += 1000) block = follow.plan(rev, at).watch[0]; // a fast note
    expect(follow.blockSize).toBe(MAX_BLOCK);
    const rev = 4000;
    expect(block).toEqual({ afterRev: rev, throughRev: rev + MAX_BLOCK });
    const paste: ServerOp = { rev: rev + 1, clientId: "p", seq: 1, op: ["x".repeat(5000)] };
    follow.answered(block!, { kind: "ops", ops: [paste, op(rev + 2)] }, 1000);
    expect(revs(follow.page(rev))).toEqual([rev + 1, rev + 2]);
    const { watch, drop } = follow.plan(rev + 2, 1000);
    expect(drop).toContainEqual(block);
    // The rest of it, in aligned blocks that hold nothing at or before the client's revision.
    expect(watch[0]).toEqual({ afterRev: rev + 2, throughRev: rev + 2 + MIN_BLOCK });
    const pieces = watch.filter((b) => b.throughRev <= rev + MAX_BLOCK);
    expect(pieces[pieces.length - 1]!.throughRev).toBe(rev + MAX_BLOCK);
    for (const b of pieces) expect(b.afterRev % (b.throughRev - b.afterRev)).toBe(0);
    // A block holding only small ops behind the client is kept.
    follow.answered(watch[0]!, { kind: "ops", ops: [op(rev + 3)] }, 1000);
    follow.answered(watch[1]!, { kind: "ops", ops: [] }, 1000);
    expect(follow.plan(rev + 3, 1000).drop).toEqual([]);
  });

  it("over a slow link, delivers every revision in order one trip after its commit, moving a few blocks a second (seeded)", () => {
    for (const seed of seedsToRun(30)) {
      const rng = new Random(seed);
      for (let i = 0; i < 8; i++) rng.next(); // small seeds start with small draws
      const tickMs = 10;
      const delay = 1 + rng.int(10); // ticks each way
      const rate = 1 + rng.int(4); // most ops committed per tick: up to 80 in a round trip
      const follow = new BlockFollow();
      const committedAt: number[] = [0];
      let head = 0;
      let rev = 0;
      const key = (b: BlockRange) => `${b.afterRev}-${b.throughRev}`;
      const serverWatch = new Map<string, BlockRange>();
      const sent = new Map<string, string>(); // what the server last sent, per block
      const toServer: { at: number; watch: BlockRange[]; drop: BlockRange[] }[] = [];
      const toClient: { at: number; answers: [BlockRange, BlockPage][] }[] = [];
      const late: number[] = [];
      let moves = 0;
      let pushed = 0;
      const plan = (tick: number): void => {
        const { watch, drop } = follow.plan(rev, tick * tickMs);
        if (tick >= 500 && tick < 700) moves += watch.length;
        if (watch.length + drop.length > 0) toServer.push({ at: tick + delay, watch, drop });
      };
      plan(0);
      for (let tick = 1; tick < 800; tick++) {
        // The server: subscription changes that arrived, then this tick's commits, then one transition.
        while (toServer[0] && toServer[0].at <= tick) {
          const change = toServer.shift()!;
          for (const block of change.drop) {
            serverWatch.delete(key(block));
            sent.delete(key(block));
          }
          for (const block of change.watch) serverWatch.set(key(block), block);
        }
        if (tick < 700) for (let n = rng.int(rate + 1); n > 0; n--) committedAt[++head] = tick;
        const answers: [BlockRange, BlockPage][] = [];
        for (const block of serverWatch.values()) {
          const page = answer(block, head);
          if (JSON.stringify(page) === sent.get(key(block))) continue;
          answers.push([block, page]);
          sent.set(key(block), JSON.stringify(page));
          if (page.kind === "ops") pushed += page.ops.length;
        }
        if (answers.length > 0) toClient.push({ at: tick + delay, answers });
        // The client: a transition's answers, then the page they make, then its next plan.
        while (toClient[0] && toClient[0].at <= tick) {
          for (const [block, page] of toClient.shift()!.answers) follow.answered(block, page, tick * tickMs);
          const page = follow.page(rev);
          if (page?.kind === "ops") {
            const message = `seed ${seed} (rerun: SEED=${seed}) tick ${tick}, rev ${rev}`;
            expect(page.ops.map((o) => o.rev), message).toEqual(page.ops.map((_, i) => rev + 1 + i));
            // From the moment the first watch reached the server, whatever the pace.
            for (const o of page.ops) if (committedAt[o.rev]! > delay && tick - committedAt[o.rev]! > delay) late.push(o.rev);
            rev = page.head;
          }
          plan(tick);
        }
      }
      const message = `seed ${seed} (rerun: SEED=${seed}), delay ${delay}, rate ${rate}`;
      expect(rev, message).toBe(head);
      expect(late, `${message}: revisions that arrived after more than one trip`).toEqual([]);
      expect(serverWatch.size, message).toBeLessThanOrEqual(20);
      // What a push carries: the ops of its block so far, at most a few for each op committed.
      expect(pushed / head, `${message}: ops pushed per op committed`).toBeLessThanOrEqual(6);
      // Two seconds of steady typing (up to 200 revisions a second).
      expect(moves / 2, `${message}: blocks watched per second`).toBeLessThanOrEqual(2 * MOVES_PER_SECOND);
    }
  });
});
