import { describe, expect, it } from "vitest";
import { checksum } from "../../sync/checksum";
import { TextDoc } from "../../sync/textDoc";
import {
  apply,
  baseLength,
  checkOp,
  compose,
  editsFromOp,
  invert,
  normalize,
  opFromEdits,
  OpBuilder,
  targetLength,
  transform,
  transformPosition,
  transformSelection,
  type TextOp,
} from "../../sync/textOp";
import type { Random } from "../../harness/random";
import { boundaries, randomKeystroke, randomOp, randomText, seedsToRun, withSeed } from "../../harness/textGen";

const LAW_SEEDS = seedsToRun(Number(process.env.LAW_SEEDS ?? 2000));

describe("text operation laws on random texts and ops", () => {
  it("apply(compose(a, b)) = apply(apply(a), b)", () => {
    for (const seed of LAW_SEEDS) {
      withSeed(seed, (rng) => {
        const t = randomText(rng);
        const a = randomOp(rng, t);
        const t1 = apply(t, a);
        const b = randomOp(rng, t1);
        expect(apply(t, compose(a, b))).toBe(apply(t1, b));
        expect(checkOp(compose(a, b), t)).toBeUndefined();
      });
    }
  });

  it("transform converges (TP1) with either side first, and keeps both ops' inserts", () => {
    for (const seed of LAW_SEEDS) {
      withSeed(seed, (rng) => {
        const t = randomText(rng);
        const a = randomOp(rng, t);
        const b = randomOp(rng, t);
        for (const aFirst of [true, false]) {
          const [a2, b2] = transform(a, b, aFirst);
          const viaA = apply(apply(t, a), b2);
          const viaB = apply(apply(t, b), a2);
          expect(viaA).toBe(viaB);
          expect(checkOp(a2, apply(t, b))).toBeUndefined();
          expect(checkOp(b2, apply(t, a))).toBeUndefined();
          // Both sides' inserted text survives, in one piece each when it was one piece.
          for (const c of [...a, ...b]) if (typeof c === "string") expect(viaA).toContain(c);
        }
      });
    }
  });

  it("invert undoes, and compose(op, invert(op)) is a no-op", () => {
    for (const seed of LAW_SEEDS) {
      withSeed(seed, (rng) => {
        const t = randomText(rng);
        const a = randomOp(rng, t);
        const inv = invert(a, t);
        expect(apply(apply(t, a), inv)).toBe(t);
        expect(apply(t, compose(a, inv))).toBe(t);
        expect(invert(inv, apply(t, a))).toEqual(a);
      });
    }
  });

  it("transformPosition follows text around the position", () => {
    for (const seed of LAW_SEEDS) {
      withSeed(seed, (rng) => {
        const t = randomText(rng);
        const a = randomOp(rng, t);
        const after = apply(t, a);
        const cuts = boundaries(t);
        let previous = 0;
        for (const pos of cuts) {
          const p = transformPosition(pos, a);
          // Monotone, in range, and never inside a surrogate pair.
          expect(p).toBeGreaterThanOrEqual(previous);
          expect(p).toBeLessThanOrEqual(after.length);
          expect(boundaries(after)).toContain(p);
          previous = p;
        }
        // A kept character's position moves exactly to where apply puts that character.
        for (const [from, to] of keptCharacters(a)) {
          expect(transformPosition(from, a, "after")).toBe(to);
          expect(after[to]).toBe(t[from]);
        }
        const sel = transformSelection({ anchor: cuts[0] as number, head: cuts[cuts.length - 1] as number }, a);
        expect(sel.anchor).toBeLessThanOrEqual(sel.head);
      });
    }
  });

  it("builder output, compose and transform results are always in normal form", () => {
    for (const seed of LAW_SEEDS) {
      withSeed(seed, (rng) => {
        const t = randomText(rng);
        const a = randomOp(rng, t);
        expect(checkOp(a, t)).toBeUndefined();
        expect(normalize(a)).toEqual(a);
        expect(baseLength(a)).toBe(t.length);
        expect(targetLength(a)).toBe(apply(t, a).length);
        expect(opFromEdits(t.length, editsFromOp(a))).toEqual(a);
      });
    }
  });

  it("TextDoc applies and inverts exactly like strings, across chunk boundaries", () => {
    for (const seed of LAW_SEEDS.slice(0, 300)) {
      withSeed(seed, (rng) => {
        let t = rng.chance(0.5) ? randomText(rng, 40) : randomText(rng, 40).repeat(1 + rng.int(300));
        const doc = new TextDoc(t);
        for (let i = 0; i < 40; i++) {
          const roll = rng.next();
          const op =
            roll < 0.6
              ? randomKeystroke(rng, t)
              : roll < 0.75
                ? randomOp(rng, t, 1)
                : roll < 0.9
                  ? bigInsert(rng, t)
                  : bigDelete(rng, t);
          if (t.length < 4000) expect(doc.invert(op)).toEqual(invert(op, t));
          doc.apply(op);
          t = apply(t, op);
          expect(doc.length).toBe(t.length);
          if (rng.chance(0.2)) expect(doc.toString()).toBe(t);
        }
        expect(doc.toString()).toBe(t);
        expect(doc.checksum()).toBe(checksum(t));
        expect(doc.slice(1, t.length - 1)).toBe(t.slice(1, t.length - 1));
      });
    }
  });
});

/** [index before, index after] of every code unit the op keeps. */
function keptCharacters(op: TextOp): [number, number][] {
  const out: [number, number][] = [];
  let before = 0;
  let after = 0;
  for (const c of op) {
    if (typeof c === "string") after += c.length;
    else if (c < 0) before -= c;
    else for (let i = 0; i < c; i++) out.push([before++, after++]);
  }
  return out;
}

describe("checkOp rejects malformed ops with a sentence", () => {
  const cases: [string, unknown, string | undefined, RegExp][] = [
    ["not an array", "abc", undefined, /must be an array/],
    ["negative zero-ish count", [0], undefined, /is zero/],
    ["float count", [1.5], undefined, /not a whole number/],
    ["NaN", [Number.NaN], undefined, /not a whole number/],
    ["an object component", [{}], undefined, /object, not a number or a string/],
    ["null component", [null], undefined, /null/],
    ["empty insert", [""], undefined, /empty string/],
    ["two retains in a row", [1, 1], undefined, /both retains/],
    ["two deletes in a row", [-1, -1], undefined, /both deletes/],
    ["two inserts in a row", ["a", "b"], undefined, /both inserts/],
    ["insert after delete", [-1, "a"], undefined, /insert goes first/],
    ["lone high surrogate inserted", ["\ud83d"], undefined, /unpaired surrogate/],
    ["lone low surrogate inserted", ["a\ude00"], undefined, /unpaired surrogate/],
    ["too short for the text", [2], "abc", /spans 2 code units but the text has 3/],
    ["too long for the text", [4], "abc", /spans 4/],
    ["retain splitting an emoji", [1, -1], "😀", /surrogate pair/],
    ["delete splitting an emoji", [-1, 1], "😀", /surrogate pair/],
    ["insert into the middle of an emoji", [1, "x", 1], "😀", /surrogate pair/],
  ];
  for (const [name, op, text, message] of cases) {
    it(`rejects ${name}`, () => {
      const problem = checkOp(op, text);
      expect(problem).toMatch(message);
      expect(problem).toMatch(/^[a-z].*[^.]$/);
    });
  }

  it("accepts well-formed ops, including whole-emoji edits and the empty op on empty text", () => {
    expect(checkOp([], "")).toBeUndefined();
    expect(checkOp(["😀"], "")).toBeUndefined();
    expect(checkOp([-2, 1], "😀a")).toBeUndefined();
    expect(checkOp([2, "x", -2], "😀😀")).toBeUndefined();
  });
});

describe("text operations: hand-written edge cases", () => {
  it("emoji and CRLF are counted in UTF-16 code units", () => {
    const t = "a😀\r\nb";
    expect(t.length).toBe(6);
    expect(apply(t, [1, -2, 3])).toBe("a\r\nb");
    expect(apply(t, [3, "👍🏽", -2, 1])).toBe("a😀👍🏽b");
    expect(opFromEdits(t.length, [{ offset: 3, deleteCount: 2, insert: "\n" }])).toEqual([3, "\n", -2, 1]);
  });

  it("whole-text replace, and edits on empty text", () => {
    expect(apply("old", ["new", -3])).toBe("new");
    expect(apply("", ["x"])).toBe("x");
    expect(apply("", [])).toBe("");
    expect(compose(["ab"], [-2])).toEqual([]);
    const [a2, b2] = transform(["new", -3], [-3], true);
    expect(apply(apply("old", ["new", -3]), b2)).toBe(apply(apply("old", [-3]), a2));
    expect(apply("old", compose(["new", -3], b2))).toBe("new");
  });

  it("the builder merges neighbours and puts an insert before a touching delete", () => {
    expect(new OpBuilder().retain(1).retain(2).delete(1).insert("a").delete(2).insert("b").build()).toEqual([3, "ab", -3]);
    expect(new OpBuilder().retain(0).insert("").delete(0).build()).toEqual([]);
  });

  it("concurrent inserts at one place are ordered by the tie-break, not by arrival", () => {
    const [a2, b2] = transform([1, "A", 1], [1, "B", 1], true);
    expect(apply(apply("xy", [1, "A", 1]), b2)).toBe("xABy");
    expect(apply(apply("xy", [1, "B", 1]), a2)).toBe("xABy");
  });

  it("positions: an insert at a cursor moves it only with bias after", () => {
    expect(transformPosition(1, [1, "ab", 1])).toBe(3);
    expect(transformPosition(1, [1, "ab", 1], "before")).toBe(1);
    expect(transformPosition(2, [1, -2, 1])).toBe(1);
    expect(transformSelection({ anchor: 1, head: 2 }, [1, "x", 1, "y", 1])).toEqual({ anchor: 2, head: 3 });
  });
});

function bigInsert(rng: Random, t: string): TextOp {
  const cuts = boundaries(t);
  const at = rng.pick(cuts);
  return new OpBuilder().retain(at).insert("xy😀\r\n".repeat(1 + rng.int(600))).retain(t.length - at).build();
}

function bigDelete(rng: Random, t: string): TextOp {
  const cuts = boundaries(t);
  const i = rng.int(cuts.length);
  const j = Math.min(cuts.length - 1, i + rng.int(2000));
  const from = cuts[i] as number;
  const to = cuts[j] as number;
  return new OpBuilder().retain(from).delete(to - from).retain(t.length - to).build();
}
