/**
 * A note's revisions grouped into editing sessions, the unit its history shows.
 *
 * A session is a run of consecutive revisions with no pause of SESSION_PAUSE_MS or more
 * between two of them; everyone who typed in it is listed with what they added and removed.
 * (Two people typing together make one session with two authors, so that "the version after
 * this session" is always one well-defined text: the text at its last revision.)
 *
 * Revisions arrive newest first, as the history pages through them.
 */

/** A pause this long between two revisions ends a session (a couple of minutes, as Etherpad and Google Docs group). */
export const SESSION_PAUSE_MS = 2 * 60 * 1000;

/** What history needs of one revision (an `ops` row without its op). */
export interface RevisionInfo {
  readonly rev: number;
  readonly clientId: string;
  /** The author's display name, when the client gave one. */
  readonly author?: string;
  /** Server time of the commit; absent on revisions written before times were kept. */
  readonly at?: number;
  readonly inserted?: number;
  readonly deleted?: number;
}

export interface SessionAuthor {
  readonly name: string;
  readonly inserted: number;
  readonly deleted: number;
  readonly revisions: number;
}

export interface EditSession {
  /** First and last revision of the session (the version it made is the text at `lastRev`). */
  readonly firstRev: number;
  readonly lastRev: number;
  /** Server times of its first and last revision with a time (0 when none had one). */
  readonly start: number;
  readonly end: number;
  readonly inserted: number;
  readonly deleted: number;
  /** Who typed in it, most characters changed first. */
  readonly authors: readonly SessionAuthor[];
}

/** The name history shows for a revision whose client gave none. */
export function authorName(row: Pick<RevisionInfo, "author" | "clientId">): string {
  const name = row.author?.trim();
  return name !== undefined && name !== "" ? name : `someone (${row.clientId.slice(0, 8)})`;
}

interface Building {
  firstRev: number;
  lastRev: number;
  start: number;
  end: number;
  inserted: number;
  deleted: number;
  authors: Map<string, { inserted: number; deleted: number; revisions: number }>;
}

/**
 * Groups revisions fed newest first. `closed` counts the sessions known to be complete
 * (an older revision after a pause has been seen), which is what a page needs to know.
 */
export class SessionGrouper {
  private readonly done: EditSession[] = [];
  private current: Building | undefined;
  /** Time of the oldest revision with a time seen so far in the current session. */
  private lastAt: number | undefined;

  constructor(private readonly pauseMs = SESSION_PAUSE_MS) {}

  get closed(): number {
    return this.done.length;
  }

  add(row: RevisionInfo): void {
    const cur = this.current;
    if (cur !== undefined && row.rev >= cur.firstRev) {
      throw new Error(`revisions must come newest first: ${row.rev} after ${cur.firstRev}`);
    }
    const at = row.at;
    // Revisions without a time (written before times were kept) join the session they touch.
    const paused = cur !== undefined && at !== undefined && this.lastAt !== undefined && this.lastAt - at >= this.pauseMs;
    if (cur === undefined || paused) {
      if (cur !== undefined) this.done.push(finish(cur));
      this.current = { firstRev: row.rev, lastRev: row.rev, start: at ?? 0, end: at ?? 0, inserted: 0, deleted: 0, authors: new Map() };
      this.lastAt = at;
    }
    const s = this.current as Building;
    s.firstRev = row.rev;
    if (at !== undefined) {
      s.start = at;
      if (s.end === 0) s.end = at;
      this.lastAt = at;
    }
    const inserted = row.inserted ?? 0;
    const deleted = row.deleted ?? 0;
    s.inserted += inserted;
    s.deleted += deleted;
    const name = authorName(row);
    const a = s.authors.get(name) ?? { inserted: 0, deleted: 0, revisions: 0 };
    a.inserted += inserted;
    a.deleted += deleted;
    a.revisions += 1;
    s.authors.set(name, a);
  }

  /** Closed sessions, newest first, then the one still open (possibly incomplete) if any. */
  sessions(includeOpen: boolean): EditSession[] {
    const out = [...this.done];
    if (includeOpen && this.current !== undefined) out.push(finish(this.current));
    return out;
  }
}

function finish(s: Building): EditSession {
  const authors = [...s.authors.entries()]
    .map(([name, a]) => ({ name, ...a }))
    .sort((x, y) => y.inserted + y.deleted - (x.inserted + x.deleted) || x.name.localeCompare(y.name));
  return { firstRev: s.firstRev, lastRev: s.lastRev, start: s.start, end: s.end, inserted: s.inserted, deleted: s.deleted, authors };
}

export interface SessionPage {
  readonly sessions: readonly EditSession[];
  /** Pass as `beforeRev` for the next (older) page; null when this page reaches the first revision. */
  readonly nextBeforeRev: number | null;
}

/**
 * Makes a page from a grouper fed newest first. `exhausted`: the feed reached the oldest
 * revision, so the open session is complete. Otherwise the open session may continue on
 * the next page and is left to it, unless it is all the page has (one very long session is
 * then shown in parts, each part a real range of revisions).
 */
export function sessionPage(grouper: SessionGrouper, exhausted: boolean, limit: number): SessionPage {
  const all = grouper.sessions(true);
  if (exhausted && all.length <= limit) return { sessions: all, nextBeforeRev: null };
  const complete = exhausted ? all : grouper.sessions(false);
  const sessions = complete.length > 0 ? complete.slice(0, limit) : all.slice(0, 1);
  const oldest = sessions[sessions.length - 1];
  return { sessions, nextBeforeRev: oldest === undefined ? null : oldest.firstRev };
}

/** "+12 −3": what a session or revision added and removed, in characters (UTF-16 code units). */
export function sizeLabel(inserted: number, deleted: number): string {
  return `+${inserted} −${deleted}`;
}
