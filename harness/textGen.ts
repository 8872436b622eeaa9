/**
 * Random texts and ops for property tests. Texts mix ASCII, CRLF line ends, accented
 * letters and astral-plane emoji (surrogate pairs), and are often empty, because those
 * are where offsets in UTF-16 code units go wrong.
 */
import { describeError } from "../sync/describeError";
import { OpBuilder, type TextOp } from "../sync/textOp";
import { Random } from "./random";

const PIECES = ["a", "b", "c", "x", " ", "\n", "\r\n", "é", "😀", "👍🏽", "中", "\t"];

export function randomText(rng: Random, maxPieces = 12): string {
  if (rng.chance(0.1)) return "";
  let s = "";
  const n = rng.int(maxPieces + 1);
  for (let i = 0; i < n; i++) s += rng.pick(PIECES);
  return s;
}

/** Offsets in `text` that do not fall inside a surrogate pair (0 and length included). */
export function boundaries(text: string): number[] {
  const out = [0];
  let i = 0;
  for (const ch of text) {
    i += ch.length;
    out.push(i);
  }
  return out;
}

/** A random well-formed op on `text`: a few retains, deletes and inserts at character boundaries. */
export function randomOp(rng: Random, text: string, maxInsert = 4): TextOp {
  const cuts = boundaries(text);
  const b = new OpBuilder();
  let at = 0;
  let ci = 0;
  while (ci < cuts.length - 1) {
    const roll = rng.next();
    const step = 1 + rng.int(Math.min(4, cuts.length - 1 - ci));
    const to = cuts[ci + step] as number;
    if (roll < 0.2) b.insert(randomText(rng, maxInsert));
    if (roll < 0.55) b.retain(to - at);
    else if (roll < 0.8) b.delete(to - at);
    else b.retain(to - at).insert(randomText(rng, maxInsert));
    at = to;
    ci += step;
  }
  if (rng.chance(0.3)) b.insert(randomText(rng, maxInsert));
  return b.build();
}

/** A small, typing-like op: insert or delete one short piece at a random character boundary. */
export function randomKeystroke(rng: Random, text: string): TextOp {
  const cuts = boundaries(text);
  const i = rng.int(cuts.length);
  const at = cuts[i] as number;
  const b = new OpBuilder().retain(at);
  if (cuts.length > 1 && i < cuts.length - 1 && rng.chance(0.3)) {
    const to = cuts[Math.min(cuts.length - 1, i + 1 + rng.int(3))] as number;
    b.delete(to - at);
    return b.retain(text.length - to).build();
  }
  b.insert(randomText(rng, 3) || "k");
  return b.retain(text.length - at).build();
}

/** Runs `body` with a seeded generator; a failure names the seed so it can be replayed with SEED=… */
export function withSeed(seed: number, body: (rng: Random) => void): void {
  try {
    body(new Random(seed));
  } catch (err) {
    throw new Error(`failed with seed ${seed} (rerun with SEED=${seed}): ${describeError(err)}`, { cause: err });
  }
}

/** The seeds to run: SEED=n runs only n; otherwise `count` seeds from a base that is printed. */
export function seedsToRun(count: number, base = Number(process.env.SEED_BASE ?? 1)): number[] {
  const only = process.env.SEED;
  if (only !== undefined) return [Number(only)];
  return Array.from({ length: count }, (_, i) => base + i);
}
