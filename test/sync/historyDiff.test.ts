import { describe, expect, it } from "vitest";
import { replacementOp } from "../../sync/diff";
import { versionOp } from "../../sync/historyDiff";
import { apply, checkOp, editsFromOp, type TextOp } from "../../sync/textOp";
import type { Random } from "../../harness/random";
import { randomText, seedsToRun, withSeed } from "../../harness/textGen";

function randomLines(rng: Random): string[] {
  return Array.from({ length: rng.int(12) }, () => `${randomText(rng, 3)}${rng.chance(0.9) ? "\n" : ""}`);
}

/** Another version: some lines dropped, changed or added. */
function edited(rng: Random, lines: readonly string[]): string[] {
  const out: string[] = [];
  for (const l of lines) {
    const roll = rng.next();
    if (roll < 0.15) continue;
    if (roll < 0.3) out.push(`${randomText(rng, 3)}\n`);
    else out.push(l);
    if (rng.chance(0.1)) out.push(`${randomText(rng, 3)}\n`);
  }
  return out;
}

const deleted = (op: TextOp): number => editsFromOp(op).reduce((n, e) => n + e.deleteCount, 0);

describe("the edit between two versions", () => {
  it("turns one into the other, well formed, never deleting more than one replacement would", () => {
    for (const seed of seedsToRun(500)) {
      withSeed(seed, (rng) => {
        const a = randomLines(rng);
        const from = a.join("");
        const to = edited(rng, a).join("");
        const op = versionOp(from, to);
        expect(checkOp(op, from)).toBeUndefined();
        expect(apply(from, op)).toBe(to);
        expect(deleted(op)).toBeLessThanOrEqual(deleted(replacementOp(from, to)));
        // With no room for a diff it still gives a correct (coarser) edit.
        expect(apply(from, versionOp(from, to, 0))).toBe(to);
      });
    }
  });

  it("keeps the lines in between two changes, so work there is left alone", () => {
    const from = "title\nkeep one\nkeep two\nend\n";
    const to = "Title\nkeep one\nkeep two\nthe end\n";
    expect(editsFromOp(versionOp(from, to))).toEqual([
      { offset: 0, deleteCount: 6, insert: "Title\n" },
      { offset: 24, deleteCount: 4, insert: "the end\n" },
    ]);
    expect(versionOp("same\n", "same\n")).toEqual([5]);
    expect(apply("", versionOp("", "a\nb"))).toBe("a\nb");
  });
});
