/**
 * Who last wrote each range of a note's text, kept by the server with the snapshots: each
 * snapshot carries the authorship of its text, and the authorship at any later revision is
 * that plus the ops after it, each applied with its revision's author and time. So "who
 * wrote this" costs what reading the text costs (one snapshot and at most SNAPSHOT_REVS ops),
 * and no client has to guess from what it happened to see.
 */
import { Authorship } from "../sync/historyAuthorship";
import { authorName } from "../sync/historySessions";
import type { Doc, Id } from "./_generated/dataModel";
import type { QueryCtx } from "./_generated/server";
import { SNAPSHOT_REVS, utf8Bytes } from "./limits";

/** Convex caps a document at 1 MiB; a snapshot's authorship gets what its text leaves, less room for the other fields. */
const DOCUMENT_BYTES = 1024 * 1024;
const OTHER_FIELDS_BYTES = 4096;
/** Most bytes a snapshot's authorship takes, even beside a small text: it is read with the snapshot. */
const AUTHORSHIP_MAX_BYTES = 256 * 1024;
/** Convex caps arrays at 8192 items; every run may name a different author. */
const MAX_RUNS = 8000;
/** An encoded run ("length.author.time;" in base 36) rarely exceeds this. */
const RUN_BYTES = 20;

type Stored = NonNullable<Doc<"snapshots">["authorship"]>;

/** A snapshot's authorship, or all-unknown when it has none (older snapshots) or it does not fit the text. */
function ofSnapshot(snapshot: Doc<"snapshots">): Authorship {
  if (snapshot.authorship === undefined) return Authorship.unknown(snapshot.text.length);
  try {
    const a = Authorship.decode(snapshot.authorship);
    if (a.length === snapshot.text.length) return a;
    console.error(`authorship of note ${snapshot.noteId} at revision ${snapshot.rev} covers ${a.length} code units of ${snapshot.text.length}; taken as unknown`);
  } catch (err) {
    console.error(`authorship of note ${snapshot.noteId} at revision ${snapshot.rev} is unreadable (${String(err)}); taken as unknown`);
  }
  return Authorship.unknown(snapshot.text.length);
}

/**
 * The authorship of the note's text at revision `rev`: the latest snapshot at or before it
 * plus at most SNAPSHOT_REVS ops. Null when that revision is no longer kept.
 */
export async function authorshipAt(ctx: QueryCtx, noteId: Id<"notes">, rev: number): Promise<Authorship | null> {
  const snapshot = await ctx.db
    .query("snapshots")
    .withIndex("by_note_rev", (q) => q.eq("noteId", noteId).lte("rev", rev))
    .order("desc")
    .first();
  if (snapshot === null) {
    // A note stored before snapshots: its one text is at its head, authors unknown.
    const legacy = await ctx.db
      .query("texts")
      .withIndex("by_note", (q) => q.eq("noteId", noteId))
      .unique();
    return legacy !== null && legacy.rev === rev ? Authorship.unknown(legacy.text.length) : null;
  }
  const authorship = ofSnapshot(snapshot);
  if (snapshot.rev === rev) return authorship;
  const rows = await ctx.db
    .query("ops")
    .withIndex("by_note_rev", (q) => q.eq("noteId", noteId).gt("rev", snapshot.rev).lte("rev", rev))
    .take(SNAPSHOT_REVS);
  if (rows.length !== rev - snapshot.rev) return null;
  for (const row of rows) {
    if (row.op === undefined) return null;
    authorship.apply(row.op, authorName(row), row.at ?? 0);
  }
  return authorship;
}

/**
 * The `authorship` field of the snapshot ops:submit is about to write at `rev` with `text`
 * (the op of `rev` is already stored). Kept within what the document has room for: a note
 * with very many small runs keeps each character with a neighbouring author rather than
 * failing the edit.
 */
export async function snapshotAuthorship(ctx: QueryCtx, noteId: Id<"notes">, rev: number, text: string): Promise<{ authorship: Stored }> {
  let authorship = await authorshipAt(ctx, noteId, rev);
  if (authorship === null || authorship.length !== text.length) {
    console.error(
      `authorship of note ${noteId} at revision ${rev} could not be carried forward (${authorship === null ? "ops missing" : `${authorship.length} code units for ${text.length}`}); its text is taken as unknown`,
    );
    authorship = Authorship.unknown(text.length);
  }
  const budget = Math.min(AUTHORSHIP_MAX_BYTES, DOCUMENT_BYTES - OTHER_FIELDS_BYTES - utf8Bytes(text));
  let maxRuns = Math.max(1, Math.min(MAX_RUNS, Math.floor(budget / RUN_BYTES)));
  for (;;) {
    authorship.coarsen(maxRuns);
    const encoded = authorship.encode();
    if (maxRuns === 1 || utf8Bytes(encoded.runs) + encoded.names.reduce((n, s) => n + utf8Bytes(s) + 8, 0) <= budget) {
      return { authorship: encoded };
    }
    maxRuns = Math.max(1, Math.floor(maxRuns / 2));
  }
}
