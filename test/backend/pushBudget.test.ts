// The push budget: the token bucket's laws under seeded random schedules, and through the
// real backend, a stream of commits to many watchers taken in fewer, larger updates.
import { ConvexClient } from "convex/browser";
import { afterAll, describe, expect, it } from "vitest";
import { PushBudget } from "../../backend/pushBudget.js";
import { api } from "../../harness/backendFixture/convex/_generated/api";
import { Random } from "../../harness/random";
import { seedsToRun } from "../../harness/textGen";
import { removeTempDirs, startFixture, waitFor } from "./helpers.js";

afterAll(() => removeTempDirs());

type Commit = { at: number; pushes: number };

/** Commits as the engine does: at once when the budget allows, else after its wait. */
function schedule(rng: Random, perSecond: number, burst: number): Commit[] {
  const budget = new PushBudget(0, perSecond, burst);
  const commits: Commit[] = [];
  let now = 0;
  for (let i = 0; i < 300; i++) {
    now += rng.chance(0.1) ? rng.next() * 2_000 : rng.next() * 10;
    const wait = budget.waitMs(now);
    if (wait > 0) {
      now += wait;
      expect(budget.waitMs(now), "waited as long as it said").toBe(0);
    }
    const pushes = rng.int(60);
    budget.spend(pushes, now);
    commits.push({ at: now, pushes });
  }
  return commits;
}

describe("the push budget", () => {
  for (const seed of seedsToRun(30)) {
    it(`never lets more out than the burst plus the rate over any stretch (seed ${seed}, rerun: SEED=${seed})`, () => {
      const rng = new Random(seed);
      const perSecond = 100 + rng.int(5_000);
      const burst = 1 + rng.int(300);
      const commits = schedule(rng, perSecond, burst);
      let worst = { over: -Infinity, from: 0, to: 0 };
      for (let i = 0; i < commits.length; i++) {
        // The last commit of a stretch may overdraw: it goes out whole and the next ones wait for it.
        let before = 0;
        for (let j = i; j < commits.length; j++) {
          const over = before - (burst + (perSecond * (commits[j]!.at - commits[i]!.at)) / 1000);
          if (over > worst.over) worst = { over, from: i, to: j };
          before += commits[j]!.pushes;
        }
      }
      expect(worst.over, `commits ${worst.from}..${worst.to}`).toBeLessThanOrEqual(1e-6);
    });
  }

  it("lets a burst out at once after a quiet spell, and then waits what the rate says", () => {
    const budget = new PushBudget(0, 2_000, 200);
    expect(budget.waitMs(0)).toBe(0);
    budget.spend(200, 0);
    expect(budget.waitMs(0)).toBe(0);
    budget.spend(50, 0);
    expect(budget.waitMs(0)).toBeCloseTo(25);
    expect(budget.waitMs(10)).toBeCloseTo(15);
    expect(budget.waitMs(25)).toBe(0);
    // A quiet spell refills it, up to the burst and no further.
    expect(budget.waitMs(60_000)).toBe(0);
    budget.spend(250, 60_000);
    expect(budget.waitMs(60_000)).toBeCloseTo(25);
  });
});

describe("commits to many watchers, over the budget", () => {
  it("go out in fewer, larger updates, and every watcher sees every value in order", async () => {
    // 11 updates a commit (10 readers and the writer's own) against 100 a second: each group
    // stays open as long as its own budget allows and takes the increments that arrive.
    const backend = await startFixture(undefined, { hooks: { pushBudget: { perSecond: 100, burst: 20 } } });
    const writer = new ConvexClient(backend.url, { logger: false });
    const readers = Array.from({ length: 10 }, () => new ConvexClient(backend.url, { logger: false }));
    try {
      const name = "budgeted";
      const seen = readers.map(() => [] as number[]);
      readers.forEach((r, i) => r.onUpdate(api.counters.get, { name }, (value: number) => seen[i]!.push(value)));
      writer.onUpdate(api.counters.get, { name }, () => {});
      await waitFor(() => seen.every((s) => s.length === 1), "every reader's first result");
      const commits = backend.contention().commits;
      const answers: Array<Promise<number>> = [];
      for (let i = 0; i < 40; i++) {
        answers.push(writer.mutation(api.counters.increment, { name }));
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
      expect([...(await Promise.all(answers))].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      await waitFor(() => seen.every((s) => s.at(-1) === 40), "every reader at the last value");
      // One commit each when nothing holds them (the disk here syncs in about a millisecond).
      expect(backend.contention().commits - commits).toBeLessThanOrEqual(12);
      for (const values of seen) {
        expect(values.length).toBeLessThanOrEqual(13);
        for (let i = 1; i < values.length; i++) expect(values[i]).toBeGreaterThan(values[i - 1]!);
      }
    } finally {
      await Promise.all([writer, ...readers].map((c) => c.close()));
      await backend.close();
    }
  });
});
