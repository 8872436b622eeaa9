/**
 * Seeds of the real-session fuzz (realFuzz.test.ts) that once found a bug: each runs in
 * every `npm test`, with what it found, so a fix that regresses shows up by name.
 */
export interface FuzzCase {
  readonly seed: number;
  readonly found: string;
}

export const FUZZ_CASES: readonly FuzzCase[] = [];
