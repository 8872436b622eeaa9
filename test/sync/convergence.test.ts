import { describe, expect, it } from "vitest";
import { convexTest } from "convex-test";
import schema from "../../convex/schema";
import { newSpace, type Backend, type Space } from "../convex/helpers";
import { Random } from "../../harness/random";
import { SimNetwork } from "../../harness/simNetwork";
import { randomKeystroke, randomOp, randomText, seedsToRun } from "../../harness/textGen";

// The fuzz checks the logic, so it runs without convex-test's per-transaction limit
// accounting (test/convex covers the limits), which halves the cost of every call.
const modules = import.meta.glob("../../convex/**/*.*s");

/** Schedules per run: 2,000 by default, FUZZ_SCHEDULES=100000 (npm run test:fuzz) for the long run. */
const SCHEDULES = Number(process.env.FUZZ_SCHEDULES ?? 2000);
const REUSE = 8;
/**
 * Seeds that found a bug, always run. 10155: a window restored from another's saved state
 * sent an op whose earlier op (carried along) was stored under the same id as the other
 * window's edit; the server called it an invalid op and the edit was dropped. 20863: a
 * window received another's edit under its own id before typing, then sent an edit that
 * inserted the same text under that (clientId, seq): taken for a retry, it was lost.
 */
const SAVED_SEEDS = [10155, 20863];

/**
 * One random session: 2–4 clients (the product's engine and recovery plan) editing through
 * the real convex/ functions while the network delays, fails, loses answers, repeats pages
 * and restarts processes.
 */
async function runSchedule(seed: number, where: { t: Backend; space: Space }): Promise<void> {
  const rng = new Random(seed);
  const ids = ["alice", "bob", "carol", "dave"].slice(0, rng.chance(0.1) ? 4 : 2 + rng.int(2));
  const net = await SimNetwork.create(rng, randomText(rng, 8), ids, where);
  // Short schedules, many of them: every call goes through the real functions.
  const steps = 6 + rng.int(20);
  try {
    for (let s = 0; s < steps; s++) {
      if (rng.chance(0.4)) {
        const i = rng.int(ids.length);
        const text = net.clients[i]?.sync.text ?? "";
        net.edit(i, rng.chance(0.8) ? randomKeystroke(rng, text) : randomOp(rng, text, 2));
      } else {
        await net.step();
      }
    }
    await net.flush();
    const server = await net.server();
    for (const c of net.clients) {
      expect(c.rejected, `${c.id}'s refused edits`).toEqual([]);
      expect(c.sync.text, `${c.id}'s text`).toBe(server.text);
      expect(c.sync.serverText, `${c.id}'s copy of the server's text`).toBe(server.text);
      expect(c.sync.pendingCount, `${c.id}'s pending edits`).toBe(0);
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(
      `schedule failed with seed ${seed} (rerun: SEED=${seed} npx vitest run test/sync/convergence.test.ts): ${message}\n` +
        `last events:\n  ${net.log.slice(-30).join("\n  ")}`,
      { cause: err },
    );
  }
}

describe("convergence: clients and the real server functions end with the same text", () => {
  it(`holds over ${SCHEDULES} random schedules with delays, failures, lost answers, repeated pages, restarts and recoveries`, async () => {
    let where: { t: Backend; space: Space } | undefined;
    let notes = 0;
    for (const seed of new Set([...SAVED_SEEDS, ...seedsToRun(SCHEDULES)])) {
      // convex-test scans a whole table for each indexed read, so a backend serves a few
      // schedules only: enough to spread its start-up cost, few enough to stay small.
      if (where === undefined || ++notes % REUSE === 0) {
        const t: Backend = convexTest(schema, modules);
        where = { t, space: await newSpace(t) };
      }
      await runSchedule(seed, where);
    }
  }, 3_600_000);
});
