import { describe, expect, it } from "vitest";
import { Authorship, spanAt, UNKNOWN_AUTHOR, type AuthorRun } from "../../sync/historyAuthorship";
import { SESSION_PAUSE_MS } from "../../sync/historySessions";
import { apply, type TextOp } from "../../sync/textOp";
import { randomKeystroke, randomOp, randomText, seedsToRun, withSeed } from "../../harness/textGen";

/** The plainest model of authorship: one (author, time) per code unit. */
type Owner = { author: string; at: number };
function applyToOwners(owners: Owner[], op: TextOp, author: string, at: number): Owner[] {
  const out: Owner[] = [];
  let i = 0;
  for (const c of op) {
    if (typeof c === "string") for (let k = 0; k < c.length; k++) out.push({ author, at });
    else if (c > 0) {
      out.push(...owners.slice(i, i + c));
      i += c;
    } else i -= c;
  }
  return out;
}

function expectMatches(a: Authorship, owners: Owner[], now: number): void {
  const spans = a.spans();
  expect(a.length).toBe(owners.length);
  const wrong: string[] = [];
  for (const s of spans) {
    let latest = 0;
    for (let k = s.start; k < s.end; k++) {
      const o = owners[k]!;
      if (o.author !== s.author) wrong.push(`code unit ${k} is ${o.author}'s, the span says ${s.author}`);
      latest = Math.max(latest, o.at);
    }
    // A merged run carries the latest time of what it held (part of which may since be deleted).
    if (s.at < latest || s.at > now) wrong.push(`span ${s.start}-${s.end} at ${s.at}, its text written up to ${latest}`);
  }
  // Neighbouring spans are never one author within a pause of each other.
  for (let k = 1; k < spans.length; k++) {
    const [p, n] = [spans[k - 1]!, spans[k]!];
    if (p.author === n.author && Math.abs(p.at - n.at) < SESSION_PAUSE_MS) wrong.push(`spans ${k - 1} and ${k} should be one`);
  }
  expect(wrong).toEqual([]);
}

const AUTHORS = ["Ada", "Grace", "Linus"];

describe("authorship runs", () => {
  it("follow every character's last writer through random edits by several authors", () => {
    for (const seed of seedsToRun(Number(process.env.HISTORY_SEEDS ?? 150))) {
      withSeed(seed, (rng) => {
        let text = randomText(rng);
        let owners: Owner[] = Array.from({ length: text.length }, () => ({ author: UNKNOWN_AUTHOR, at: 0 }));
        const a = Authorship.unknown(text.length);
        let now = 1_000_000;
        for (let step = 0; step < 60; step++) {
          now += rng.chance(0.2) ? SESSION_PAUSE_MS + rng.int(100_000) : rng.int(3000);
          const author = rng.pick(AUTHORS);
          const op = rng.chance(0.6) ? randomKeystroke(rng, text) : randomOp(rng, text);
          a.apply(op, author, now);
          owners = applyToOwners(owners, op, author, now);
          text = apply(text, op);
          expectMatches(a, owners, now);
        }
        const round = Authorship.decode(a.encode());
        expect(round.spans()).toEqual(a.spans());
      });
    }
  });

  it("refuses an op that does not span the text and changes nothing", () => {
    const a = Authorship.unknown(3);
    a.apply([3, "x"], "Ada", 5);
    const before = a.spans();
    expect(() => a.apply([2, "y"], "Ada", 6)).toThrow(/spans 2 code units but the text has 4/);
    expect(a.spans()).toEqual(before);
  });

  it("coarsens to a run budget keeping every character with a neighbouring author", () => {
    for (const seed of seedsToRun(100)) {
      withSeed(seed, (rng) => {
        const runs: AuthorRun[] = Array.from({ length: 50 + rng.int(200) }, (_, k) => ({
          length: 1 + rng.int(20),
          author: rng.pick(AUTHORS),
          at: k * SESSION_PAUSE_MS * 2,
        }));
        const a = Authorship.fromRuns(runs);
        const length = a.length;
        const budget = 1 + rng.int(40);
        a.coarsen(budget);
        expect(a.runCount).toBeLessThanOrEqual(budget);
        expect(a.length).toBe(length);
      });
    }
  });

  it("decoding refuses what encode never makes", () => {
    expect(() => Authorship.decode({ names: ["a"], runs: "3.1.0" })).toThrow(/bad authorship run/);
    expect(() => Authorship.decode({ names: ["a"], runs: "0.0.0" })).toThrow(/bad authorship run/);
    expect(Authorship.decode({ names: [], runs: "" }).length).toBe(0);
  });

  it("finds the span at an offset, the end of the text included", () => {
    const a = Authorship.fromRuns([
      { length: 2, author: "Ada", at: 0 },
      { length: 3, author: "Grace", at: 0 },
    ]);
    const spans = a.spans();
    expect(spanAt(spans, 0)?.author).toBe("Ada");
    expect(spanAt(spans, 2)?.author).toBe("Grace");
    expect(spanAt(spans, 5)?.author).toBe("Grace");
    expect(spanAt(spans, 6)).toBeUndefined();
  });
});
