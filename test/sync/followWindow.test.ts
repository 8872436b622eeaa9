import { describe, expect, it } from "vitest";
import { Random } from "../../harness/random";
import { seedsToRun } from "../../harness/textGen";
import { CATCH_UP_STEP, FOLLOW_LIMIT, FOLLOW_STEP, lagging, nextWindowStart } from "../../sync/followWindow";
import type { LogPage } from "../../sync/syncDriver";
import type { ServerOp } from "../../sync/syncClient";

const op = (rev: number): ServerOp => ({ rev, clientId: "c", seq: rev, op: [1] });
/** What a window starting after `start` pushes once the note's head is `head`. */
const push = (start: number, head: number): LogPage => ({
  kind: "ops",
  ops: Array.from({ length: head - start }, (_, i) => op(start + 1 + i)),
  head,
});

/** One client following a note through its window, as `NoteSession.subscribe` does. */
class Follower {
  start = -1;
  rev: number;
  constructor(rev: number) {
    this.rev = rev;
    this.start = nextWindowStart(this.start, rev) ?? this.start;
  }
  /** The window pushes the note at `head`. */
  hear(head: number): void {
    this.rev = Math.max(this.rev, head);
    const next = nextWindowStart(this.start, this.rev, push(this.start, head));
    if (next !== undefined) this.start = next;
  }
}

describe("the follow window", () => {
  it("starts at the client's revision, and stays until it holds FOLLOW_STEP ops", () => {
    expect(nextWindowStart(-1, 7)).toBe(7);
    expect(nextWindowStart(7, 7, push(7, 7))).toBeUndefined();
    expect(nextWindowStart(7, 7 + FOLLOW_STEP - 1, push(7, 7 + FOLLOW_STEP - 1))).toBeUndefined();
  });

  it("moves to a multiple of FOLLOW_STEP when this window delivered the revisions in between", () => {
    const rev = 7 + FOLLOW_STEP + 1;
    const start = nextWindowStart(7, rev, push(7, rev));
    expect(start).toBe(rev - (rev % FOLLOW_STEP));
  });

  it("moves a lagging client (its window came full) on the CATCH_UP_STEP grid, where laggers meet", () => {
    const full = (start: number): LogPage => ({ ...push(start, start + FOLLOW_LIMIT), head: start + FOLLOW_LIMIT + 1 });
    const a = nextWindowStart(3, 3 + FOLLOW_LIMIT, full(3));
    const b = nextWindowStart(7, 7 + FOLLOW_LIMIT, full(7));
    expect(a! % CATCH_UP_STEP).toBe(0);
    expect(a).toBeGreaterThan(3 + FOLLOW_LIMIT - CATCH_UP_STEP);
    expect(b).toBe(a);
  });

  it("calls a client lagging only when its window pushed a page cut short", () => {
    expect(lagging()).toBe(false);
    expect(lagging(push(3, 9))).toBe(false);
    expect(lagging(push(3, 3))).toBe(false);
    expect(lagging({ ...push(3, 3 + FOLLOW_LIMIT), head: 3 + FOLLOW_LIMIT + 1 })).toBe(true);
    expect(lagging({ kind: "reload", head: 90 })).toBe(false);
  });

  it("starts exactly at the client's revision after a reload, or when the window did not deliver what lies below", () => {
    expect(nextWindowStart(4, 4, { kind: "reload", head: 90 })).toBeUndefined();
    expect(nextWindowStart(4, 90, { kind: "reload", head: 90 })).toBe(90);
    // The client caught up elsewhere (a recovery's pages): the window only reached 6.
    expect(nextWindowStart(4, 91, push(4, 6))).toBe(91);
  });

  it("keeps every push small and brings caught-up clients onto one window (seeded)", () => {
    for (const seed of seedsToRun(50)) {
      const rng = new Random(seed);
      let head = rng.int(100);
      // Clients join at different revisions, so their first windows differ.
      const clients = Array.from({ length: 2 + rng.int(5) }, () => new Follower(Math.max(0, head - rng.int(3))));
      for (const c of clients) c.hear(head);
      for (let step = 0; step < 200; step++) {
        head += 1 + (rng.chance(0.2) ? rng.int(3) : 0);
        for (const c of clients) {
          const before = c.start;
          c.hear(head);
          const message = `seed ${seed} (rerun: SEED=${seed}) step ${step}: start ${before} → ${c.start}, rev ${c.rev}`;
          expect(c.start, message).toBeLessThanOrEqual(c.rev);
          expect(c.start, message).toBeGreaterThanOrEqual(before);
          expect(c.rev - c.start, message).toBeLessThan(FOLLOW_STEP);
        }
      }
      const starts = new Set(clients.map((c) => c.start));
      expect(starts.size, `seed ${seed} (rerun: SEED=${seed})`).toBe(1);
    }
  });
});
