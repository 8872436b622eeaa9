import { DEFAULT_SERVER_URL } from "../client/connect";
import type { SpaceCredentials } from "../client/types";

/** A mistake in how the command was called or configured: printed without a stack. */
export class UsageError extends Error {
  override name = "UsageError";
}

export interface CliOptions {
  readonly url: string;
  readonly spaceId: string | undefined;
  readonly key: string | undefined;
  /** How long a command waits for the server to confirm its edits before giving up on this run. */
  readonly waitMs: number;
  readonly positional: string[];
}

/** Default for --wait: long enough for a backend restart, short enough for a script to notice. */
export const DEFAULT_WAIT_SECONDS = 30;

/** Reads --url/--space/--key/--wait (or SHARED_NOTES_URL/_SPACE/_KEY/_WAIT) and leaves the rest positional. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const match = /^--(url|space|key|wait)(?:=(.*))?$/.exec(arg);
    if (!match) {
      positional.push(arg);
      continue;
    }
    const value = match[2] ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${match[1]} needs a value`);
    flags.set(match[1] as string, value);
  }
  const wait = flags.get("wait") ?? env.SHARED_NOTES_WAIT ?? String(DEFAULT_WAIT_SECONDS);
  const seconds = Number(wait);
  if (wait.trim() === "" || !Number.isFinite(seconds) || seconds < 0) {
    throw new UsageError(`--wait takes a number of seconds ≥ 0, not "${wait}"`);
  }
  return {
    waitMs: seconds * 1000,
    url: flags.get("url") ?? env.SHARED_NOTES_URL ?? DEFAULT_SERVER_URL,
    spaceId: flags.get("space") ?? env.SHARED_NOTES_SPACE,
    key: flags.get("key") ?? env.SHARED_NOTES_KEY,
    positional,
  };
}

export function requireCredentials(options: CliOptions): SpaceCredentials {
  if (!options.spaceId || !options.key) {
    throw new UsageError(
      "No space given: pass --space ID --key KEY or set SHARED_NOTES_SPACE and SHARED_NOTES_KEY " +
        "(`shared-notes space create` makes a new space).",
    );
  }
  return { spaceId: options.spaceId, key: options.key };
}
