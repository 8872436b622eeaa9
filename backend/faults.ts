// Fault injection: the failures Convex can hand a client, on demand, so the product's
// recovery paths meet them in tests. Off unless asked for (option, `--faults`, or the
// SHARED_NOTES_BACKEND_FAULTS environment variable).
export type Faults = {
  /** Fraction of mutations failed with Convex's conflict error (as after its last retry). Nothing is written. */
  conflictRate?: number;
  /** Fraction of mutations refused as overloaded: nothing runs; the socket closes (HTTP: 503), the client resends. */
  overloadRate?: number;
  /**
   * Fraction of committed mutations whose socket is dropped before the response is sent
   * (never in a socket's first DROP_GRACE_MS: see there).
   */
  dropAfterCommitRate?: number;
  /** Every message to a client is held this long (order kept). */
  delayMs?: number;
  /** Restart the backend (close every socket, reopen the data dir) this often. */
  restartEveryMs?: number;
  /** Seed of the choices above, so a failing run can be repeated. */
  seed?: number;
};

export const FAULTS_ENV = "SHARED_NOTES_BACKEND_FAULTS";

const RATES = ["conflictRate", "overloadRate", "dropAfterCommitRate"] as const;
const DURATIONS = ["delayMs", "restartEveryMs", "seed"] as const;

/** Checks a faults object; throws a clear error for anything unknown or out of range. */
export function checkFaults(input: unknown): Faults {
  if (typeof input !== "object" || input === null || Array.isArray(input)) throw new Error("faults must be an object");
  const out: Faults = {};
  for (const [key, value] of Object.entries(input)) {
    if (typeof value !== "number" || !Number.isFinite(value)) throw new Error(`faults.${key} must be a number`);
    if ((RATES as readonly string[]).includes(key)) {
      if (value < 0 || value > 1) throw new Error(`faults.${key} must be between 0 and 1`);
    } else if ((DURATIONS as readonly string[]).includes(key)) {
      if (value < 0) throw new Error(`faults.${key} must not be negative`);
    } else {
      throw new Error(`unknown fault "${key}" (known: ${[...RATES, ...DURATIONS].join(", ")})`);
    }
    out[key as keyof Faults] = value;
  }
  return out;
}

/** `conflictRate=0.1,delayMs=20` or a JSON object. */
export function parseFaults(text: string): Faults {
  const trimmed = text.trim();
  if (trimmed.startsWith("{")) return checkFaults(JSON.parse(trimmed));
  const obj: Record<string, number> = {};
  for (const part of trimmed.split(",").filter(Boolean)) {
    const [key, value] = part.split("=");
    if (!key || value === undefined) throw new Error(`faults: expected name=value, got "${part}"`);
    obj[key.trim()] = Number(value);
  }
  return checkFaults(obj);
}

export function faultsFromEnv(env: NodeJS.ProcessEnv = process.env): Faults | undefined {
  const text = env[FAULTS_ENV];
  if (!text) return undefined;
  try {
    return parseFaults(text);
  } catch (e) {
    throw new Error(`${FAULTS_ENV}: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * A link fails now and then, not once per message: a socket is never dropped in its first
 * second. Otherwise a client resending a long queue after a drop would lose each new
 * socket before its queue got through, and its reconnect backoff would grow without end.
 */
export const DROP_GRACE_MS = 1000;

/** Draws the injected faults. */
export class FaultDice {
  private state: number;
  constructor(readonly faults: Faults) {
    this.state = (faults.seed ?? Date.now()) >>> 0 || 1;
  }

  private next(): number {
    // mulberry32
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  roll(rate: number | undefined): boolean {
    return rate !== undefined && rate > 0 && this.next() < rate;
  }

  /** Whether to drop the socket (opened at `openedAt`) of a mutation that just committed. */
  dropAfterCommit(openedAt: number, now = Date.now()): boolean {
    return now - openedAt >= DROP_GRACE_MS && this.roll(this.faults.dropAfterCommitRate);
  }
}
