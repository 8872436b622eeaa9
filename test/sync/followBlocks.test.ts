import { describe, expect, it } from "vitest";
import { Random } from "../../harness/random";
import { seedsToRun } from "../../harness/textGen";
import { BlockFollow, FIRST_AHEAD, MAX_BLOCK, MIN_BLOCK, MOST_AHEAD, MOVES_PER_SECOND, type BlockPage, type BlockRange } from "../../sync/followBlocks";
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
  it("watches FIRST_AHEAD revisions from right after the client's, drops blocks behind, and tops up in batches", () => {
    const follow = new BlockFollow();
    const first = follow.plan(7, 0);
    // Nothing at or before 7 (it may be a paste), then onto the grid.
    expect(first.watch.slice(0, 2)).toEqual([{ afterRev: 7, throughRev: 8 }, { afterRev: 8, throughRev: 8 + MIN_BLOCK }]);
    expect(first.watch).toHaveLength(FIRST_AHEAD / MIN_BLOCK + 1);
    expect(first.drop).toEqual([]);
    // A little further: enough still watched ahead, only the block behind goes.
    const soon = follow.plan(8, 0);
    expect(soon).toEqual({ watch: [], drop: [first.watch[0]] });
    // Further on, the watch is topped up in one batch, from where it ended.
    const later = follow.plan(7 + FIRST_AHEAD / 2, 0);
    expect(later.watch.length).toBeGreaterThan(1);
    expect(later.watch[0]!.afterRev).toBe(first.watch[first.watch.length - 1]!.throughRev);
  });

  it("hands on the ops after the client's revision, up to the first block that has not answered", () => {
    const follow = new BlockFollow();
    const { watch } = follow.plan(0, 0);
    const head = 3 * MIN_BLOCK;
    follow.answered(watch[1]!, answer(watch[1]!, head));
    expect(follow.page(0)).toBeUndefined();
    follow.answered(watch[0]!, answer(watch[0]!, head));
    expect(revs(follow.page(1))).toEqual([2, 3, 4].slice(0, 2 * MIN_BLOCK - 1));
    // A block no longer watched is ignored.
    follow.plan(head, 0);
    follow.answered(watch[0]!, { kind: "reload" });
    expect(follow.page(head)).toBeUndefined();
  });

  it("asks for a reload when a block's ops were compacted away", () => {
    const follow = new BlockFollow();
    const { watch } = follow.plan(0, 0);
    follow.answered(watch[0]!, { kind: "reload" });
    expect(follow.page(0)).toEqual({ kind: "reload", head: 0 });
  });

  it("watches MOST_AHEAD once a block it topped up held ops before its first answer, in a few large blocks", () => {
    const follow = new BlockFollow();
    const first = follow.plan(0, 0).watch;
    // The blocks of a fresh watch may hold ops already: the note moved since it was opened.
    for (const block of first) follow.answered(block, answer(block, 4));
    expect(follow.watchedAhead).toBe(FIRST_AHEAD);
    const more = follow.plan(FIRST_AHEAD, 0).watch;
    follow.answered(more[0]!, answer(more[0]!, FIRST_AHEAD + 1));
    expect(follow.watchedAhead).toBe(MOST_AHEAD);
    const rev = FIRST_AHEAD + 1;
    const further = follow.plan(rev, 0).watch;
    expect(further[further.length - 1]!.throughRev).toBeGreaterThanOrEqual(rev + MOST_AHEAD);
    // Blocks of MIN_BLOCK would be dozens of subscriptions at once.
    expect(further.length).toBeLessThanOrEqual(12);
    for (const b of further) expect(b.afterRev % (b.throughRev - b.afterRev)).toBe(0);
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
    for (let at = 0, rev = 0; at <= 1000; at += 250, rev += 1000) follow.plan(rev, at); // a fast note
    expect(follow.blockSize).toBe(MAX_BLOCK);
    const rev = 4000 + MAX_BLOCK;
    const block = follow.plan(rev, 1000).watch[0]!;
    expect(block).toEqual({ afterRev: rev, throughRev: rev + MAX_BLOCK });
    const paste: ServerOp = { rev: rev + 1, clientId: "p", seq: 1, op: ["x".repeat(5000)] };
    follow.answered(block, { kind: "ops", ops: [paste, op(rev + 2)] });
    expect(revs(follow.page(rev))).toEqual([rev + 1, rev + 2]);
    const { watch, drop } = follow.plan(rev + 2, 1000);
    expect(drop).toContainEqual({ afterRev: rev, throughRev: rev + MAX_BLOCK });
    // The rest of it, in aligned blocks that hold nothing at or before the client's revision.
    expect(watch[0]).toEqual({ afterRev: rev + 2, throughRev: rev + 2 + MIN_BLOCK });
    const pieces = watch.filter((b) => b.throughRev <= rev + MAX_BLOCK);
    expect(pieces[pieces.length - 1]!.throughRev).toBe(rev + MAX_BLOCK);
    for (const b of pieces) expect(b.afterRev % (b.throughRev - b.afterRev)).toBe(0);
    // A block holding only small ops behind the client is kept.
    follow.answered(watch[0]!, { kind: "ops", ops: [op(rev + 3)] });
    follow.answered(watch[1]!, { kind: "ops", ops: [] });
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
        }
        if (answers.length > 0) toClient.push({ at: tick + delay, answers });
        // The client: a transition's answers, then the page they make, then its next plan.
        while (toClient[0] && toClient[0].at <= tick) {
          for (const [block, page] of toClient.shift()!.answers) follow.answered(block, page);
          const page = follow.page(rev);
          if (page?.kind === "ops") {
            const message = `seed ${seed} (rerun: SEED=${seed}) tick ${tick}, rev ${rev}`;
            expect(page.ops.map((o) => o.rev), message).toEqual(page.ops.map((_, i) => rev + 1 + i));
            for (const o of page.ops) if (committedAt[o.rev]! > 200 && tick - committedAt[o.rev]! > delay) late.push(o.rev);
            rev = page.head;
          }
          plan(tick);
        }
      }
      const message = `seed ${seed} (rerun: SEED=${seed}), delay ${delay}, rate ${rate}`;
      expect(rev, message).toBe(head);
      expect(late, `${message}: revisions that arrived after more than one trip`).toEqual([]);
      expect(serverWatch.size, message).toBeLessThanOrEqual(MOST_AHEAD / MIN_BLOCK);
      // Two seconds of steady typing (up to 200 revisions a second).
      expect(moves / 2, `${message}: blocks watched per second`).toBeLessThanOrEqual(2 * MOVES_PER_SECOND);
    }
  });
});
