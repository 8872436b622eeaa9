/**
 * `shared-notes log <title>` and `shared-notes cat <title> --rev N | --at TIME`: a note's
 * editing sessions and its text at an earlier revision, from the server's history
 * (convex/history.ts).
 */
import type { ConvexClient } from "convex/browser";
import { NoteHistory } from "../client/noteHistory";
import { Space } from "../client/space";
import { sizeLabel } from "../sync/historySessions";
import { requireCredentials, takeFlags, UsageError, type CliOptions } from "./options";

export const HISTORY_USAGE = `  log <title> [--limit N]      the note's editing sessions, newest first: revisions, times, authors, +/-
  cat <title> --rev N          print the note as it was at revision N
  cat <title> --at TIME        ... as it was at TIME (ISO 8601, e.g. 2026-11-30T14:05, or ms since the epoch)`;

interface HistoryFlags {
  readonly title: string;
  readonly rev?: number;
  readonly at?: number;
  readonly limit?: number;
}

/** Takes --rev/--at/--limit out of the positional arguments. */
function parseFlags(command: string, positional: readonly string[]): HistoryFlags {
  const { flags, rest } = takeFlags(positional, ["rev", "at", "limit"]);
  const title = rest[0];
  if (title === undefined || rest.length > 1) throw new UsageError(`usage: shared-notes ${command} <title>${command === "log" ? " [--limit N]" : " [--rev N | --at TIME]"}`);
  const out: { title: string; rev?: number; at?: number; limit?: number } = { title };
  const rev = flags.get("rev");
  if (rev !== undefined) {
    if (!/^\d+$/.test(rev)) throw new UsageError(`--rev takes a revision number (0 or more), not "${rev}"`);
    out.rev = Number(rev);
  }
  const at = flags.get("at");
  if (at !== undefined) {
    const time = /^\d+$/.test(at) ? Number(at) : Date.parse(at);
    if (!Number.isFinite(time)) throw new UsageError(`--at takes a time such as 2026-11-30T14:05 or ms since the epoch, not "${at}"`);
    out.at = time;
  }
  if (out.rev !== undefined && out.at !== undefined) throw new UsageError("give --rev or --at, not both");
  const limit = flags.get("limit");
  if (limit !== undefined) {
    if (!/^\d+$/.test(limit) || Number(limit) < 1) throw new UsageError(`--limit takes a number of sessions (1 or more), not "${limit}"`);
    out.limit = Number(limit);
  }
  return out;
}

/** True when `cat` was asked for an earlier version (so the history path serves it). */
export function wantsVersion(options: CliOptions): boolean {
  return options.positional.some((a) => /^--(rev|at)(=|$)/.test(a));
}

async function historyOf(options: CliOptions, convex: ConvexClient, title: string): Promise<NoteHistory> {
  const creds = requireCredentials(options);
  const noteId = await new Space(convex, creds).find(title);
  if (noteId === null) throw new UsageError(`there is no note titled "${title}" in this space`);
  return new NoteHistory(convex, creds, noteId);
}

/** A local time to the second, as people read it in a terminal: 2026-11-30 14:05:09. */
export function localTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** `shared-notes log <title>`: one line per editing session, newest first. */
export async function logCommand(options: CliOptions, convex: ConvexClient): Promise<void> {
  const flags = parseFlags("log", options.positional);
  const history = await historyOf(options, convex, flags.title);
  let left = flags.limit ?? Number.POSITIVE_INFINITY;
  let before: number | undefined;
  do {
    const page = await history.sessions(before, Math.min(50, left));
    for (const s of page.sessions) {
      const revs = s.firstRev === s.lastRev ? `r${s.lastRev}` : `r${s.firstRev}-${s.lastRev}`;
      const when = s.end === 0 ? "(time not kept)" : s.start === s.end ? localTime(s.end) : `${localTime(s.start)} – ${localTime(s.end).slice(11)}`;
      const who = s.authors.map((a) => `${a.name} (${sizeLabel(a.inserted, a.deleted)})`).join(", ");
      process.stdout.write(`${revs}\t${when}\t${sizeLabel(s.inserted, s.deleted)}\t${who}\n`);
    }
    left -= page.sessions.length;
    before = page.nextBeforeRev ?? undefined;
  } while (before !== undefined && left > 0);
}

/** `shared-notes cat <title> --rev N | --at TIME`: the note's text then. */
export async function catVersionCommand(options: CliOptions, convex: ConvexClient): Promise<void> {
  const flags = parseFlags("cat", options.positional);
  const history = await historyOf(options, convex, flags.title);
  let rev = flags.rev;
  if (flags.at !== undefined) {
    const found = await history.revisionAt(flags.at);
    if (found === null) throw new UsageError(`"${flags.title}" did not exist yet at ${localTime(flags.at)}`);
    rev = found.rev;
  }
  if (rev === undefined) throw new UsageError("usage: shared-notes cat <title> [--rev N | --at TIME]");
  const version = await history.version(rev);
  if (version === null) throw new UsageError(`revision ${rev} of "${flags.title}" is no longer kept (its edits were compacted into a later snapshot)`);
  process.stdout.write(version.text);
}
