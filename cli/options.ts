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

/**
 * Takes the flags named in `names` (`--name value` or `--name=value`, each with a value) out
 * of `argv`; the other arguments stay, in order, in `rest`.
 */
export function takeFlags(argv: readonly string[], names: readonly string[]): { flags: Map<string, string>; rest: string[] } {
  const flags = new Map<string, string>();
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const match = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    const name = match?.[1];
    if (name === undefined || !names.includes(name)) {
      rest.push(arg);
      continue;
    }
    const value = match?.[2] ?? argv[++i];
    if (value === undefined) throw new UsageError(`--${name} needs a value`);
    flags.set(name, value);
  }
  return { flags, rest };
}

/** Reads --url/--space/--key/--wait (or SHARED_NOTES_URL/_SPACE/_KEY/_WAIT) and leaves the rest positional. */
export function parseOptions(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions {
  const { flags, rest: positional } = takeFlags(argv, ["url", "space", "key", "wait"]);
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
