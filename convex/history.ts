/**
 * A note's history, read from the op log and the snapshots (convex/noteStore.ts): its
 * editing sessions page by page, its text at any kept revision, the revision at a time, and
 * who last wrote each range of its current text. All queries; nothing here writes.
 */
import { v, type Infer } from "convex/values";
import { SessionGrouper, sessionPage } from "../sync/historySessions";
import type { Id } from "./_generated/dataModel";
import type { QueryCtx } from "./_generated/server";
import { noteQuery } from "./access";
import { authorshipAt } from "./authorship";
import { fail } from "./errors";
import { opBytes } from "./limits";
import { readHead, textAt } from "./noteStore";

/** Sessions one page holds at most (and by default). */
const MAX_SESSIONS_PER_PAGE = 50;
const DEFAULT_SESSIONS_PER_PAGE = 20;
/**
 * Op rows one page reads at most, and their bytes: a page of a long typing session stops
 * there and shows that session in parts. Reading a row reads its op, so pastes count by size.
 */
const PAGE_ROWS = 1000;
const PAGE_BYTES = 4 * 1024 * 1024;

const sessionAuthorValidator = v.object({ name: v.string(), inserted: v.number(), deleted: v.number(), revisions: v.number() });
export const editSessionValidator = v.object({
  firstRev: v.number(),
  lastRev: v.number(),
  start: v.number(),
  end: v.number(),
  inserted: v.number(),
  deleted: v.number(),
  authors: v.array(sessionAuthorValidator),
});
export const sessionPageValidator = v.object({
  sessions: v.array(editSessionValidator),
  /** `beforeRev` of the next (older) page; null at the note's first revision. */
  nextBeforeRev: v.union(v.number(), v.null()),
  /** The note's latest revision when the page was read. */
  head: v.number(),
});
export type SessionPageResult = Infer<typeof sessionPageValidator>;

export const versionValidator = v.object({
  rev: v.number(),
  text: v.string(),
  /** When the revision was committed, and by whom (absent for revision 0 and old revisions). */
  at: v.optional(v.number()),
  author: v.optional(v.string()),
});
export type Version = Infer<typeof versionValidator>;

export const authorshipResultValidator = v.object({
  rev: v.number(),
  /** sync/historyAuthorship.ts's encoding: decode with Authorship.decode. */
  names: v.array(v.string()),
  runs: v.string(),
});

function checkRev(name: string, rev: number, head: number): void {
  if (!Number.isSafeInteger(rev) || rev < 0) fail("INVALID_ARGUMENT", `${name} must be a whole number ≥ 0, not ${rev}.`);
  if (rev > head) fail("INVALID_ARGUMENT", `Revision ${rev} is ahead of the note, whose latest revision is ${head}.`);
}

async function opRow(ctx: QueryCtx, noteId: Id<"notes">, rev: number) {
  return await ctx.db
    .query("ops")
    .withIndex("by_note_rev", (q) => q.eq("noteId", noteId).eq("rev", rev))
    .first();
}

/**
 * The note's editing sessions, newest first, a page at a time: pass the previous page's
 * `nextBeforeRev` as `beforeRev` for older ones. Reads at most PAGE_ROWS op rows.
 */
export const sessions = noteQuery({
  args: { beforeRev: v.optional(v.number()), limit: v.optional(v.number()) },
  returns: sessionPageValidator,
  handler: async (ctx, { beforeRev, limit }, { note }) => {
    const head = (await readHead(ctx, note._id)).rev;
    if (beforeRev !== undefined && (!Number.isSafeInteger(beforeRev) || beforeRev < 1 || beforeRev > head + 1)) {
      fail("INVALID_ARGUMENT", `beforeRev must be a whole number from 1 to ${head + 1}, not ${beforeRev}.`);
    }
    if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_SESSIONS_PER_PAGE)) {
      fail("INVALID_ARGUMENT", `limit must be a whole number from 1 to ${MAX_SESSIONS_PER_PAGE}, not ${limit}.`);
    }
    const want = limit ?? DEFAULT_SESSIONS_PER_PAGE;
    const grouper = new SessionGrouper();
    let rows = 0;
    let bytes = 0;
    let exhausted = true;
    for await (const row of ctx.db
      .query("ops")
      .withIndex("by_note_rev", (q) => q.eq("noteId", note._id).gt("rev", 0).lt("rev", beforeRev ?? head + 1))
      .order("desc")) {
      grouper.add(row);
      rows += 1;
      bytes += row.op === undefined ? 64 : opBytes(row.op);
      if (grouper.closed >= want || rows >= PAGE_ROWS || bytes >= PAGE_BYTES) {
        exhausted = false;
        break;
      }
    }
    const page = sessionPage(grouper, exhausted, want);
    return { sessions: page.sessions.map((s) => ({ ...s, authors: [...s.authors] })), nextBeforeRev: page.nextBeforeRev, head };
  },
});

/**
 * The note's text at revision `rev`, with when and by whom that revision was made: one
 * snapshot read plus at most SNAPSHOT_REVS ops. Null when the revision is no longer kept.
 */
export const version = noteQuery({
  args: { rev: v.number() },
  returns: v.union(versionValidator, v.null()),
  handler: async (ctx, { rev }, { note }) => {
    checkRev("rev", rev, (await readHead(ctx, note._id)).rev);
    const text = await textAt(ctx, note._id, rev);
    if (text === null) return null;
    const row = rev === 0 ? null : await opRow(ctx, note._id, rev);
    return {
      rev,
      text,
      ...(row?.at === undefined ? {} : { at: row.at }),
      ...(row?.author === undefined ? {} : { author: row.author }),
    };
  },
});

/**
 * The latest revision committed at or before `at` (ms since the epoch): revision 0 before
 * the first edit, null before the note existed. A binary search over the op log: about
 * log2(revisions) single-row index reads, no scan.
 */
export const revisionAt = noteQuery({
  args: { at: v.number() },
  returns: v.union(v.object({ rev: v.number(), at: v.number() }), v.null()),
  handler: async (ctx, { at }, { note }) => {
    if (!Number.isFinite(at)) fail("INVALID_ARGUMENT", `at must be a time in ms since the epoch, not ${at}.`);
    const head = (await readHead(ctx, note._id)).rev;
    // Invariant: revisions ≤ lo - 1 are at or before `at` (or untimed), revisions > hi are after it.
    let lo = 1;
    let hi = head;
    let found: { rev: number; at: number } | null = null;
    while (lo <= hi) {
      const mid = Math.floor((lo + hi) / 2);
      const row = await opRow(ctx, note._id, mid);
      const t = row?.at;
      if (t === undefined || t <= at) {
        if (t !== undefined) found = { rev: mid, at: t };
        lo = mid + 1;
      } else hi = mid - 1;
    }
    // Before the first timed revision: the note as created, if it existed then.
    return found ?? (at >= note._creationTime ? { rev: 0, at: note._creationTime } : null);
  },
});

/** Who last wrote each range of the note's current text, and when (see convex/authorship.ts). */
export const authorship = noteQuery({
  args: {},
  returns: authorshipResultValidator,
  handler: async (ctx, _args, { note }) => {
    const head = (await readHead(ctx, note._id)).rev;
    const a = await authorshipAt(ctx, note._id, head);
    if (a === null) throw new Error(`note ${note._id} has no authorship at its head revision ${head}`);
    return { rev: head, ...a.encode() };
  },
});

/** The note's latest revision: a small subscription that tells a history view when to refresh. */
export const head = noteQuery({
  args: {},
  returns: v.number(),
  handler: async (ctx, _args, { note }) => (await readHead(ctx, note._id)).rev,
});
