/**
 * How a note's text is stored: a small head (what every submit reads and writes), the op
 * log, and snapshots of the text every so often. The text at any kept revision is the
 * latest snapshot at or before it plus the ops after that snapshot.
 *
 * Notes stored before snapshots existed have one `texts` row with the whole text at the
 * head; readers use it as it is, and the first write migrates it (`headForWrite`).
 */
import { checksum } from "../sync/checksum";
import { TextDoc } from "../sync/textDoc";
import type { Doc, Id } from "./_generated/dataModel";
import type { MutationCtx, QueryCtx } from "./_generated/server";
import { SNAPSHOT_MIN_WEIGHT, SNAPSHOT_REVS, utf8Bytes } from "./limits";

export interface Head {
  readonly rev: number;
  readonly length: number;
  readonly bytes: number;
  readonly snapshotRev: number;
  readonly sinceSnapshot: number;
}

async function headRow(ctx: QueryCtx, noteId: Id<"notes">): Promise<Doc<"heads"> | null> {
  return await ctx.db
    .query("heads")
    .withIndex("by_note", (q) => q.eq("noteId", noteId))
    .unique();
}

async function legacyText(ctx: QueryCtx, noteId: Id<"notes">): Promise<Doc<"texts"> | null> {
  return await ctx.db
    .query("texts")
    .withIndex("by_note", (q) => q.eq("noteId", noteId))
    .unique();
}

/** A note without its text is a broken invariant, not a user error; say so plainly. */
function missing(noteId: Id<"notes">): never {
  throw new Error(`note ${noteId} has no head and no text`);
}

/** The note's head, for reading. */
export async function readHead(ctx: QueryCtx, noteId: Id<"notes">): Promise<Head> {
  const row = await headRow(ctx, noteId);
  if (row !== null) return row;
  const legacy = await legacyText(ctx, noteId);
  if (legacy === null) missing(noteId);
  return { rev: legacy.rev, length: legacy.text.length, bytes: utf8Bytes(legacy.text), snapshotRev: legacy.rev, sinceSnapshot: 0 };
}

/** The note's head row, for writing; a note stored the old way is migrated first (once, O(text)). */
export async function headForWrite(ctx: MutationCtx, noteId: Id<"notes">): Promise<Doc<"heads">> {
  const row = await headRow(ctx, noteId);
  if (row !== null) return row;
  const legacy = await legacyText(ctx, noteId);
  if (legacy === null) missing(noteId);
  const id = await migrate(ctx, legacy);
  const head = await ctx.db.get("heads", id);
  if (head === null) missing(noteId);
  return head;
}

/** Turns an old `texts` row into a snapshot at its revision and a head. */
export async function migrate(ctx: MutationCtx, legacy: Doc<"texts">): Promise<Id<"heads">> {
  const { noteId, text, rev } = legacy;
  await ctx.db.insert("snapshots", { noteId, rev, text, checksum: legacy.checksum });
  const id = await ctx.db.insert("heads", { noteId, rev, length: text.length, bytes: utf8Bytes(text), snapshotRev: rev, sinceSnapshot: 0 });
  await ctx.db.delete("texts", legacy._id);
  return id;
}

/** Stores a new note's text as revision 0. */
export async function createText(ctx: MutationCtx, noteId: Id<"notes">, text: string): Promise<void> {
  await ctx.db.insert("snapshots", { noteId, rev: 0, text, checksum: checksum(text) });
  await ctx.db.insert("heads", { noteId, rev: 0, length: text.length, bytes: utf8Bytes(text), snapshotRev: 0, sinceSnapshot: 0 });
}

/**
 * The text at revision `rev`: one snapshot read plus at most SNAPSHOT_REVS ops. Null when
 * that revision is no longer kept (its ops were compacted, or it predates snapshots).
 */
export async function textAt(ctx: QueryCtx, noteId: Id<"notes">, rev: number): Promise<string | null> {
  const snapshot = await ctx.db
    .query("snapshots")
    .withIndex("by_note_rev", (q) => q.eq("noteId", noteId).lte("rev", rev))
    .order("desc")
    .first();
  if (snapshot === null) {
    const legacy = await legacyText(ctx, noteId);
    return legacy !== null && legacy.rev === rev ? legacy.text : null;
  }
  if (snapshot.rev === rev) return snapshot.text;
  const doc = new TextDoc(snapshot.text);
  // Bounded: snapshots are at most SNAPSHOT_REVS revisions apart.
  const rows = await ctx.db
    .query("ops")
    .withIndex("by_note_rev", (q) => q.eq("noteId", noteId).gt("rev", snapshot.rev).lte("rev", rev))
    .take(SNAPSHOT_REVS);
  if (rows.length !== rev - snapshot.rev) return null;
  for (const row of rows) {
    if (row.op === undefined) return null;
    doc.apply(row.op);
  }
  return doc.toString();
}

/** The text at the head revision (it always exists). */
export async function headText(ctx: QueryCtx, noteId: Id<"notes">, head: Head): Promise<string> {
  const text = await textAt(ctx, noteId, head.rev);
  if (text === null) throw new Error(`note ${noteId} cannot be read at its head revision ${head.rev}`);
  return text;
}

/** True when the op just appended makes a snapshot due (see limits.ts for the rule). */
export function snapshotDue(head: Head, rev: number, sinceSnapshot: number): boolean {
  return rev - head.snapshotRev >= SNAPSHOT_REVS || sinceSnapshot >= Math.max(SNAPSHOT_MIN_WEIGHT, head.bytes);
}
