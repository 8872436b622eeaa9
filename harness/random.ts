/**
 * Seeded randomness for tests: every random test takes its seed from SEED (to replay a
 * failure) or picks one, and prints it when it fails.
 */
export class Random {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0 || 1;
  }

  /** A float in [0, 1), from a small xorshift generator: fast, and the same on every run. */
  next(): number {
    let x = this.state;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.state = x >>> 0;
    return this.state / 0x100000000;
  }

  /** A whole number in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[this.int(items.length)] as T;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }
}

export function seededRandom(seed = Number(process.env.SEED ?? Math.floor(Math.random() * 0xffffffff))): { rng: Random; seed: number } {
  return { rng: new Random(seed), seed };
}
