/**
 * Who last wrote each range of a note's text, kept by the server: after ops:submit writes
 * a snapshot it schedules `record`, which carries the note's latest authorship forward by
 * the ops since (each applied with its revision's author and time) and stores it for the
 * snapshot's revision. "Who wrote this" at the head then costs one small row plus at most
 * a snapshot's worth of ops, and no client has to guess from what it happened to see.
 *
 * Done in a scheduled mutation, not in the submit, so the keystroke that takes a snapshot
 * does not also pay for this. Only each note's latest row is kept.
 */
import { v } from "convex/values";
import { Authorship } from "../sync/historyAuthorship";
import { authorName } from "../sync/historySessions";
import type { Doc, Id } from "./_generated/dataModel";
import { internalMutation, type QueryCtx } from "./_generated/server";
import { SNAPSHOT_REVS, utf8Bytes } from "./limits";
import { textAt } from "./noteStore";

/** How far behind a stored authorship may be and still be carried forward (a missed run or two). */
const MAX_CARRY_REVS = 4 * SNAPSHOT_REVS;
/** Convex caps a document at 1 MiB and an array at 8192 items; a row stays well inside both. */
const AUTHORSHIP_MAX_BYTES = 512 * 1024;
const MAX_RUNS = 8000;

async function latestRow(ctx: QueryCtx, noteId: Id<"notes">, atOrBefore: number): Promise<Doc<"authorship"> | null> {
  return await ctx.db
    .query("authorship")
    .withIndex("by_note_rev", (q) => q.eq("noteId", noteId).lte("rev", atOrBefore))
    .order("desc")
    .first();
}

function decoded(row: Doc<"authorship">): Authorship | null {
  try {
    return Authorship.decode(row);
  } catch (err) {
    console.error(`authorship of note ${row.noteId} at revision ${row.rev} is unreadable (${String(err)}); recomputing`);
    return null;
  }
}

/**
 * The stored authorship at or before `rev` carried forward to `rev` by the ops between
 * (at most MAX_CARRY_REVS of them). Null when there is none near enough, or the ops are
 * no longer kept.
 */
async function carried(ctx: QueryCtx, noteId: Id<"notes">, rev: number): Promise<Authorship | null> {
  const row = await latestRow(ctx, noteId, rev);
  if (row === null || rev - row.rev > MAX_CARRY_REVS) return null;
  const authorship = decoded(row);
  if (authorship === null) return null;
  let at = row.rev;
  // Iterated, not taken at once: the rows are read only as far as they are kept.
  for await (const op of ctx.db
    .query("ops")
    .withIndex("by_note_rev", (q) => q.eq("noteId", noteId).gt("rev", row.rev).lte("rev", rev))) {
    if (op.op === undefined || op.rev !== at + 1) return null;
    try {
      authorship.apply(op.op, authorName(op), op.at ?? 0);
    } catch (err) {
      console.error(`authorship of note ${noteId} does not fit revision ${op.rev} (${String(err)}); recomputing`);
      return null;
    }
    at = op.rev;
  }
  return at === rev ? authorship : null;
}

/**
 * The text at `rev` with its authors unknown up to a snapshot and known from there on:
 * the latest snapshot at or before `rev` (back = 0) or the one before it (back = 1, or the
 * only one). Null when the ops between are not all kept.
 */
async function fromSnapshot(ctx: QueryCtx, noteId: Id<"notes">, rev: number, back: 0 | 1): Promise<Authorship | null> {
  const latest = await ctx.db
    .query("snapshots")
    .withIndex("by_note_rev", (q) => q.eq("noteId", noteId).lte("rev", rev))
    .order("desc")
    .take(back + 1);
  const snapshot = latest[back] ?? latest[0];
  if (snapshot === undefined) {
    const text = await textAt(ctx, noteId, rev);
    return text === null ? null : Authorship.unknown(text.length);
  }
  const authorship = Authorship.unknown(snapshot.text.length);
  const rows = await ctx.db
    .query("ops")
    .withIndex("by_note_rev", (q) => q.eq("noteId", noteId).gt("rev", snapshot.rev).lte("rev", rev))
    .take(2 * SNAPSHOT_REVS);
  if (rows.length !== rev - snapshot.rev) return null;
  for (const row of rows) {
    if (row.op === undefined) return null;
    authorship.apply(row.op, authorName(row), row.at ?? 0);
  }
  return authorship;
}

/**
 * Who last wrote each range of the note's text at revision `rev` (its head, usually): the
 * stored authorship carried forward, else (a note from before authorship was kept, or a
 * record not yet run) what the ops since the snapshot before the latest one say. Text older
 * than what is known belongs to UNKNOWN_AUTHOR. Null when the text at `rev` is no longer kept.
 */
export async function authorshipAt(ctx: QueryCtx, noteId: Id<"notes">, rev: number): Promise<Authorship | null> {
  return (await carried(ctx, noteId, rev)) ?? (await fromSnapshot(ctx, noteId, rev, 1)) ?? (await fromSnapshot(ctx, noteId, rev, 0));
}

/** Keeps at most what a row has room for: a note of very many small runs keeps each character with a neighbouring author. */
function fitted(authorship: Authorship): { names: string[]; runs: string } {
  let maxRuns = MAX_RUNS;
  for (;;) {
    authorship.coarsen(maxRuns);
    const encoded = authorship.encode();
    const bytes = utf8Bytes(encoded.runs) + encoded.names.reduce((n, s) => n + utf8Bytes(s) + 8, 0);
    if (maxRuns === 1 || bytes <= AUTHORSHIP_MAX_BYTES) return encoded;
    maxRuns = Math.max(1, Math.floor(maxRuns / 2));
  }
}

/** Scheduled by ops:submit after it writes the snapshot at `rev`: stores the authorship at `rev`, drops older rows. */
export const record = internalMutation({
  args: { noteId: v.id("notes"), rev: v.number() },
  returns: v.null(),
  handler: async (ctx, { noteId, rev }) => {
    const note = await ctx.db.get("notes", noteId);
    if (note === null) return null; // removed meanwhile
    const newer = await ctx.db
      .query("authorship")
      .withIndex("by_note_rev", (q) => q.eq("noteId", noteId).gte("rev", rev))
      .first();
    if (newer !== null) return null; // a later run got there first
    const authorship = await authorshipAt(ctx, noteId, rev);
    if (authorship === null) {
      console.error(`authorship of note ${noteId} at revision ${rev}: the text there is no longer kept; skipped`);
      return null;
    }
    await ctx.db.insert("authorship", { noteId, rev, ...fitted(authorship) });
    const older = await ctx.db
      .query("authorship")
      .withIndex("by_note_rev", (q) => q.eq("noteId", noteId).lt("rev", rev))
      .take(8);
    for (const row of older) await ctx.db.delete("authorship", row._id);
    return null;
  },
});
