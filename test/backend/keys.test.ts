// The index key encoding must order exactly like Convex's compareValues.
import { compareValues, type Value } from "convex/values";
import { describe, expect, it } from "vitest";
import { idTableNumber, makeId } from "../../backend/ids.js";
import { encodeKey } from "../../backend/keys.js";
import { Random } from "../../harness/random";

function randomValue(rng: Random, depth = 0): Value {
  const pick = rng.int(depth > 1 ? 6 : 8);
  const str = () => ["", "a", "ab", "b", "a\u0000", "é", "\u{1F600}", "Z"][rng.int(8)]!;
  switch (pick) {
    case 0: return null;
    case 1: return BigInt(Math.floor((rng.next() - 0.5) * 2 ** 40)) * (rng.chance(0.1) ? 2n ** 22n : 1n);
    case 2: return [0, -0, 1.5, -1.5, 1e300, -1e300, Infinity, -Infinity, 2, -2][rng.int(10)]!;
    case 3: return rng.chance(0.5);
    case 4: return str();
    case 5: return new Uint8Array([0, 1, 255].slice(0, rng.int(4))).buffer;
    case 6: return Array.from({ length: rng.int(3) }, () => randomValue(rng, depth + 1));
    default: return Object.fromEntries(Array.from({ length: rng.int(3) }, () => [str() || "k", randomValue(rng, depth + 1)]));
  }
}

describe("encodeKey", () => {
  it("orders scalars, arrays and tuples like compareValues", () => {
    const rng = new Random(7);
    for (let i = 0; i < 5000; i++) {
      const a = [randomValue(rng), randomValue(rng)];
      const b = rng.chance(0.3) ? [a[0]!, randomValue(rng)] : [randomValue(rng), randomValue(rng)];
      const expected = Math.sign(compareValues(a, b));
      const actual = Math.sign(Buffer.compare(encodeKey(a), encodeKey(b)));
      // Objects: Convex compares sorted key/value pairs; only check the non-object cases strictly.
      if (a.some((v) => typeof v === "object" && v !== null && !Array.isArray(v) && !(v instanceof ArrayBuffer))) continue;
      if (expected !== actual) throw new Error(`order differs for ${String(a)} vs ${String(b)}`);
    }
  });
});

describe("ids", () => {
  it("round-trips the table number and rejects damaged ids", () => {
    const id = makeId(10001);
    expect(idTableNumber(id)).toBe(10001);
    expect(idTableNumber(id.slice(0, -1) + (id.endsWith("0") ? "1" : "0"))).toBeNull();
    expect(idTableNumber("hello")).toBeNull();
  });
});
