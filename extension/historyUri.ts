/**
 * Addresses of earlier versions of a note, opened read-only:
 * `sharednotes-history:/<spaceId>/<title> (r<rev>, <time>).md?note=<noteId>&rev=<rev>`.
 * The file name is what the tab shows, so it carries the title, revision and time; the
 * query says exactly what to load. Pure, so it is tested without VS Code.
 */
export const HISTORY_SCHEME = "sharednotes-history";

export interface VersionAddress {
  readonly spaceId: string;
  readonly noteId: string;
  readonly title: string;
  readonly rev: number;
  /** When the revision was made (ms since the epoch), if known: shown in the tab. */
  readonly at?: number;
}

/** "2026-11-30 14:05" in local time: short enough for a tab. */
export function shortTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
}

export function versionPath(a: VersionAddress): string {
  const when = a.at === undefined || a.at === 0 ? "" : `, ${shortTime(a.at)}`;
  return `/${a.spaceId}/${a.title} (r${a.rev}${when}).md`;
}

export function versionQuery(a: VersionAddress): string {
  return `note=${encodeURIComponent(a.noteId)}&rev=${a.rev}`;
}

/** What a version URI's path and query name, or undefined when they name nothing. */
export function parseVersion(path: string, query: string): Pick<VersionAddress, "spaceId" | "noteId" | "rev"> | undefined {
  const params = new URLSearchParams(query);
  const noteId = params.get("note");
  const rev = params.get("rev");
  const spaceId = path.split("/").filter((p) => p.length > 0)[0];
  if (!noteId || rev === null || !/^\d+$/.test(rev) || spaceId === undefined) return undefined;
  return { spaceId, noteId, rev: Number(rev) };
}
