import { describe, expect, it } from "vitest";
import { Random } from "../support/random";
import { SimNetwork } from "../support/simNetwork";
import { randomKeystroke, randomOp, randomText, seedsToRun } from "../support/textGen";

/** Schedules per run: 2,000 by default, FUZZ_SCHEDULES=100000 (npm run test:fuzz) for the long run. */
const SCHEDULES = Number(process.env.FUZZ_SCHEDULES ?? 2000);

/** One random session: 2–5 clients editing while the network delays, drops, repeats and restarts. */
function runSchedule(seed: number): void {
  const rng = new Random(seed);
  const ids = ["alice", "bob", "carol", "dave", "erin"].slice(0, 2 + rng.int(4));
  const net = new SimNetwork(rng, randomText(rng, 8), ids);
  const steps = 20 + rng.int(60);
  try {
    for (let s = 0; s < steps; s++) {
      if (rng.chance(0.4)) {
        const i = rng.int(ids.length);
        const text = net.clients[i]?.sync.text ?? "";
        net.edit(i, rng.chance(0.8) ? randomKeystroke(rng, text) : randomOp(rng, text, 2));
      } else {
        net.step();
      }
    }
    net.flush();
    const expected = net.server.text;
    for (const c of net.clients) {
      expect(c.sync.text, `${c.id}'s text`).toBe(expected);
      expect(c.sync.serverText, `${c.id}'s copy of the server's text`).toBe(expected);
      expect(c.sync.pendingCount, `${c.id}'s pending edits`).toBe(0);
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(
      `schedule failed with seed ${seed} (rerun: SEED=${seed} npx vitest run test/sync/convergence.test.ts): ${message}\n` +
        `last events:\n  ${net.log.slice(-25).join("\n  ")}`,
      { cause: err },
    );
  }
}

describe("convergence: clients and the in-memory server end with the same text", () => {
  it(`holds over ${SCHEDULES} random schedules with delays, drops, resends, duplicates, restarts and reloads`, () => {
    for (const seed of seedsToRun(SCHEDULES)) runSchedule(seed);
  }, 600_000);
});
