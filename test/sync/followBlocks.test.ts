import { describe, expect, it } from "vitest";
import { Random } from "../../harness/random";
import { seedsToRun } from "../../harness/textGen";
import { BLOCK_REVS, BlockFollow, blockRange, FIRST_AHEAD, MOST_AHEAD, type BlockPage } from "../../sync/followBlocks";
import type { ServerOp } from "../../sync/syncClient";

const op = (rev: number): ServerOp => ({ rev, clientId: "c", seq: rev, op: [1] });

/** What block `block` answers once the log's head is `head`. */
const answer = (block: number, head: number): BlockPage => {
  const { afterRev, throughRev } = blockRange(block);
  const ops: ServerOp[] = [];
  for (let rev = afterRev + 1; rev <= Math.min(head, throughRev); rev++) ops.push(op(rev));
  return { kind: "ops", ops };
};

describe("following the log in blocks", () => {
  it("watches FIRST_AHEAD blocks from the one holding the next revision, and drops those behind", () => {
    const follow = new BlockFollow();
    const first = follow.plan(7);
    expect(first.watch[0]).toBe(Math.floor(7 / BLOCK_REVS));
    expect(first.watch).toHaveLength(FIRST_AHEAD);
    expect(first.drop).toEqual([]);
    // A quarter used up: still enough ahead, nothing to change yet.
    const soon = follow.plan(7 + BLOCK_REVS);
    expect(soon).toEqual({ watch: [], drop: [first.watch[0]] });
    // Further on, the watch is topped up in one batch.
    const later = follow.plan(7 + BLOCK_REVS * (FIRST_AHEAD / 4 + 1));
    expect(later.watch.length).toBeGreaterThan(1);
    expect(later.watch[0]).toBe(first.watch[first.watch.length - 1]! + 1);
  });

  it("hands on the ops after the client's revision, up to the first block that has not answered", () => {
    const follow = new BlockFollow();
    const { watch } = follow.plan(0);
    follow.answered(watch[1]!, answer(watch[1]!, 3 * BLOCK_REVS));
    expect(follow.page(0)).toBeUndefined();
    follow.answered(watch[0]!, answer(watch[0]!, 3 * BLOCK_REVS));
    const page = follow.page(1);
    expect(page?.kind === "ops" && page.ops.map((o) => o.rev)).toEqual([2, 3, 4].slice(0, 2 * BLOCK_REVS - 1));
  });

  it("asks for a reload when a block's ops were compacted away", () => {
    const follow = new BlockFollow();
    const { watch } = follow.plan(0);
    follow.answered(watch[0]!, { kind: "reload" });
    expect(follow.page(0)).toEqual({ kind: "reload", head: 0 });
  });

  it("watches further ahead when a block held ops before its first answer, up to MOST_AHEAD", () => {
    const follow = new BlockFollow();
    follow.plan(0);
    follow.answered(0, answer(0, 1)); // the lowest block may hold the op the client waits for
    expect(follow.watchedAhead).toBe(FIRST_AHEAD);
    follow.answered(1, answer(1, BLOCK_REVS + 1));
    expect(follow.watchedAhead).toBe(2 * FIRST_AHEAD);
    for (let round = 0; round < 10; round++) {
      const { watch } = follow.plan(BLOCK_REVS * 4 * round);
      for (const block of watch) follow.answered(block, answer(block, (block + 1) * BLOCK_REVS));
    }
    expect(follow.watchedAhead).toBe(MOST_AHEAD);
  });

  it("over a slow link, delivers every revision in order one trip after its commit (seeded)", () => {
    for (const seed of seedsToRun(30)) {
      const rng = new Random(seed);
      for (let i = 0; i < 8; i++) rng.next(); // small seeds start with small draws
      const delay = 1 + rng.int(10); // ticks each way
      const rate = 1 + rng.int(4); // most ops committed per tick: up to 80 in a round trip
      const follow = new BlockFollow();
      const committedAt: number[] = [0];
      let head = 0;
      let rev = 0;
      const serverWatch = new Set<number>();
      const sent = new Map<number, BlockPage>(); // what the server last sent, per block
      const toServer: { at: number; watch: number[]; drop: number[] }[] = [];
      const toClient: { at: number; answers: [number, BlockPage][] }[] = [];
      const late: number[] = [];
      const plan = (tick: number): void => {
        const { watch, drop } = follow.plan(rev);
        if (watch.length + drop.length > 0) toServer.push({ at: tick + delay, watch, drop });
      };
      plan(0);
      for (let tick = 1; tick < 400; tick++) {
        // The server: subscription changes that arrived, then this tick's commits, then one transition.
        while (toServer[0] && toServer[0].at <= tick) {
          const change = toServer.shift()!;
          for (const block of change.drop) serverWatch.delete(block), sent.delete(block);
          for (const block of change.watch) serverWatch.add(block);
        }
        if (tick < 300) for (let n = rng.int(rate + 1); n > 0; n--) committedAt[++head] = tick;
        const answers: [number, BlockPage][] = [];
        for (const block of serverWatch) {
          const page = answer(block, head);
          if (JSON.stringify(page) !== JSON.stringify(sent.get(block))) answers.push([block, page]), sent.set(block, page);
        }
        if (answers.length > 0) toClient.push({ at: tick + delay, answers });
        // The client: a transition's answers, then the page they make, then its next plan.
        while (toClient[0] && toClient[0].at <= tick) {
          for (const [block, page] of toClient.shift()!.answers) follow.answered(block, page);
          const page = follow.page(rev);
          if (page?.kind === "ops") {
            const message = `seed ${seed} (rerun: SEED=${seed}) tick ${tick}, rev ${rev}`;
            expect(page.ops.map((o) => o.rev), message).toEqual(page.ops.map((_, i) => rev + 1 + i));
            for (const o of page.ops) if (committedAt[o.rev]! > 100 && tick - committedAt[o.rev]! > delay) late.push(o.rev);
            rev = page.head;
          }
          plan(tick);
        }
      }
      const message = `seed ${seed} (rerun: SEED=${seed}), delay ${delay}, rate ${rate}`;
      expect(rev, message).toBe(head);
      expect(late, `${message}: revisions that arrived after more than one trip`).toEqual([]);
      expect(serverWatch.size, message).toBeLessThanOrEqual(MOST_AHEAD);
    }
  });
});
