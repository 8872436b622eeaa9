import { describe, expect, it } from "vitest";
import { replayTrace } from "../../harness/replay";
import { Random } from "../../harness/random";
import { seedsToRun } from "../../harness/textGen";
import { loadTrace, tracesMissing, type ConcurrentTrace, type ConcurrentTxn, type Patch } from "../../harness/traces";

describe("concurrent trace replay (harness/replay.ts)", () => {
  const missing = tracesMissing();
  it.skipIf(missing)(`friendsforever: the server and both clients end with endContent${missing ? ` (${missing})` : ""}`, () => {
    const result = replayTrace(loadTrace("friendsforever"), { seed: 1, extra: 0.3 });
    expect(result.serverText === result.endContent).toBe(true);
    for (const c of result.clientTexts) expect(c.text === result.endContent, c.clientId).toBe(true);
    expect(result.ok).toBe(true);
    expect(result.stats.mappedTxns).toBeGreaterThan(0);
  }, 120_000);

  it("random traces: 2–4 agents, one of them editing on concurrent branches", () => {
    let mapped = 0;
    let split = 0;
    for (const seed of seedsToRun(Number(process.env.REPLAY_SCHEDULES ?? 150))) {
      const trace = randomConcurrentTrace(new Random(seed));
      for (const extra of [0, 0.5]) {
        const result = replayTrace(trace, { seed, extra });
        // The agent with two branches runs as two (or, once its branches meet, more) clients.
        if (result.stats.lanes > trace.numAgents) split += 1;
        mapped += result.stats.mappedTxns;
        if (!result.ok) {
          throw new Error(
            `seed ${seed} (extra ${extra}): expected ${JSON.stringify(trace.endContent)}, server has ${JSON.stringify(result.serverText)}, ` +
              `clients ${JSON.stringify(result.clientTexts.map((c) => c.text))}`,
          );
        }
      }
    }
    expect(mapped, "some txns were typed over ops their parents had not seen").toBeGreaterThan(0);
    expect(split, "some agents were split into several clients").toBeGreaterThan(0);
  }, 120_000);
});

/**
 * A concurrent trace whose right answer is known without any merging: every chain of txns
 * ("region") edits only its own bracketed span, so concurrent edits never touch one
 * place. Positions count code points (emoji included), like the real traces. The last
 * region belongs to the same agent as the one before it, on a branch that does not see
 * the other directly, so the replay must split that agent into several chains (clients).
 */
function randomConcurrentTrace(rng: Random): ConcurrentTrace {
  const regions = 3 + rng.int(3);
  const agentOfRegion = (r: number): number => (r === regions - 1 ? r - 1 : r);
  const txns: ConcurrentTxn[] = [];
  const closures: number[][] = [];
  const txnsOfRegion: number[][] = Array.from({ length: regions }, () => []);
  // Each region's text after each of its txns, as arrays of code points.
  const versions: string[][][] = Array.from({ length: regions }, () => [[]]);
  const markers = Array.from({ length: regions }, () => "[]").join("");
  txns.push({ parents: [], agent: 0, patches: [[0, 0, markers]] });
  closures.push([1]);
  txnsOfRegion[0]?.push(0);
  versions[0]?.push([]);
  const pieces = ["a", "b", "😀", "é", "\n", "👍🏽", " "];
  const count = 20 + rng.int(60);
  for (let n = 0; n < count; n++) {
    const r = rng.int(regions);
    const own = txnsOfRegion[r] as number[];
    const parents: number[] = [];
    if (own.length > 0) parents.push(own[own.length - 1] as number);
    for (let other = 0; other < regions; other++) {
      if (other === r || (r === regions - 1 && other === regions - 2) || (r === regions - 2 && other === regions - 1)) continue;
      const theirs = txnsOfRegion[other] as number[];
      if (theirs.length > 0 && (other === 0 || rng.chance(0.5))) parents.push(theirs[rng.int(theirs.length)] as number);
    }
    const need: number[] = [];
    for (const p of parents) (closures[p] as number[]).forEach((v, i) => (need[i] = Math.max(need[i] ?? 0, v ?? 0)));
    if ((need[0] ?? 0) === 0) {
      parents.push(0);
      need[0] = Math.max(need[0] ?? 0, 1);
    }
    // Where region r starts in this txn's text: the regions before it, as its parents see them.
    let start = 0;
    for (let q = 0; q < r; q++) start += 2 + ((versions[q] as string[][])[need[q] ?? 0]?.length ?? 0);
    start += 1;
    const mine = [...((versions[r] as string[][])[own.length] ?? [])];
    const patches: Patch[] = [];
    for (let k = 1 + rng.int(2); k > 0; k--) {
      const at = rng.int(mine.length + 1);
      const del = mine.length > at && rng.chance(0.3) ? 1 + rng.int(Math.min(3, mine.length - at)) : 0;
      const ins = del > 0 && rng.chance(0.5) ? "" : Array.from({ length: 1 + rng.int(3) }, () => rng.pick(pieces)).join("");
      mine.splice(at, del, ...Array.from(ins));
      patches.push([start + at, del, ins]);
    }
    const t = txns.length;
    txns.push({ parents, agent: agentOfRegion(r), patches });
    const closure = need.slice();
    closure[r] = (need[r] ?? 0) + 1;
    closures.push(closure);
    own.push(t);
    (versions[r] as string[][]).push(mine);
  }
  const endContent = versions.map((v) => `[${(v[v.length - 1] as string[]).join("")}]`).join("");
  return { kind: "concurrent", endContent, numAgents: regions - 1, txns };
}
