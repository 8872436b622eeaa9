// Which commits are on disk (backend/diskSync.ts), under seeded random schedules of
// commits, callers waiting for the disk, syncs that land and syncs the disk refuses. The
// disk is a promise the schedule settles: nothing of the rule is modelled here. (The
// engine over a real disk: durability.test.ts.)
import { afterEach, describe, expect, it, vi } from "vitest";
import { DiskSync, SYNC_RETRY_CAP_MS } from "../../backend/diskSync.js";
import { Random } from "../../harness/random";
import { seedsToRun } from "../../harness/textGen";

type Sync = { coversUpTo: number; settle: (ok: boolean) => void };

/** A DiskSync over a disk whose syncs the test settles one by one. */
function rig() {
  const syncs: Sync[] = [];
  const warnings: string[] = [];
  const landed: number[] = [];
  const disk: DiskSync = new DiskSync(
    () =>
      new Promise<void>((resolve, reject) => {
        const sync: Sync = {
          coversUpTo: disk.commits,
          settle: (ok) => {
            syncs.splice(syncs.indexOf(sync), 1);
            if (!ok) return reject(new Error("disk refused"));
            landed.push(sync.coversUpTo);
            resolve();
          },
        };
        syncs.push(sync);
      }),
    (message) => warnings.push(message),
  );
  return { disk, syncs, warnings, landed };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("which commits are on disk", () => {
  for (const seed of seedsToRun(40)) {
    it(`releases each caller once its commits are synced, in the order asked, one sync at a time (seed ${seed}, rerun: SEED=${seed})`, async () => {
      vi.useFakeTimers();
      const rng = new Random(seed);
      const { disk, syncs, warnings, landed } = rig();
      const asked: Array<{ id: number; commits: number }> = [];
      const released: number[] = [];
      let refused = 0;

      const ask = (): void => {
        const id = asked.length;
        const commits = disk.commits;
        const idle = disk.allOnDisk && released.length === asked.length;
        asked.push({ id, commits });
        disk.afterDurable(() => {
          // Released only after a sync that began with every commit made before it asked.
          expect(Math.max(0, ...landed), `caller ${id} released before its commits were synced`).toBeGreaterThanOrEqual(commits);
          released.push(id);
        });
        if (idle) expect(released.at(-1), "with nothing to sync and no one waiting, at once").toBe(id);
      };

      for (let step = 0; step < 400; step++) {
        const roll = rng.next();
        if (roll < 0.35) disk.committed();
        else if (roll < 0.7) ask();
        else if (roll < 0.9 && syncs.length > 0) syncs[0]!.settle(true);
        else if (syncs.length > 0) {
          syncs[0]!.settle(false);
          refused++;
        } else await vi.advanceTimersByTimeAsync(rng.int(SYNC_RETRY_CAP_MS));
        await vi.advanceTimersByTimeAsync(0);
        expect(syncs.length, "one sync at a time").toBeLessThanOrEqual(1);
      }

      // The disk complies from now on: every caller is released, in order, and all is on disk.
      for (let round = 0; round < 100 && (syncs.length > 0 || !disk.allOnDisk); round++) {
        syncs[0]?.settle(true);
        await vi.advanceTimersByTimeAsync(SYNC_RETRY_CAP_MS);
      }
      expect(disk.allOnDisk).toBe(true);
      expect(released).toEqual(asked.map((a) => a.id));
      expect(warnings.length, "each refused sync was told").toBe(refused);
    });
  }

  it("releases the others when one waiting caller throws, and says so", async () => {
    const { disk, syncs, warnings } = rig();
    const released: string[] = [];
    disk.committed();
    disk.afterDurable(() => released.push("first"));
    disk.afterDurable(() => {
      throw new Error("boom");
    });
    disk.afterDurable(() => released.push("third"));
    expect(released).toEqual([]);
    syncs[0]!.settle(true);
    await vi.waitFor(() => expect(released).toEqual(["first", "third"]));
    expect(warnings).toEqual(["Work waiting for the disk failed: boom"]);
  });

  it("covers the commits made while a sync ran with the next one, started as it lands", async () => {
    const { disk, syncs, landed } = rig();
    disk.committed();
    expect(syncs.map((s) => s.coversUpTo)).toEqual([1]);
    disk.committed();
    disk.committed();
    const late = vi.fn();
    disk.afterDurable(late);
    syncs[0]!.settle(true);
    await vi.waitFor(() => expect(syncs.map((s) => s.coversUpTo)).toEqual([3]));
    expect(late).not.toHaveBeenCalled();
    syncs[0]!.settle(true);
    await vi.waitFor(() => expect(late).toHaveBeenCalledOnce());
    expect(landed).toEqual([1, 3]);
    expect(disk.allOnDisk).toBe(true);
  });
});
