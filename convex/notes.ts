import { v } from "convex/values";
import { internal } from "./_generated/api";
import { checksum } from "../sync/checksum";
import type { Id } from "./_generated/dataModel";
import { internalMutation, type MutationCtx, type QueryCtx } from "./_generated/server";
import { noteMutation, noteQuery, spaceMutation, spaceQuery } from "./access";
import { fail } from "./errors";
import {
  MAX_NOTE_BYTES,
  MAX_NOTES_PER_SPACE,
  REMOVE_BATCH,
  hasLoneSurrogate,
  utf8Bytes,
} from "./limits";
import { titleProblem } from "../sync/rules";
import { createText, headText, migrate as migrateText, readHead } from "./noteStore";
import { noteSummaryValidator, openResultValidator } from "./schema";

// Ids arrive as plain strings (`spaceId: v.string()`, `noteId: v.string()`): they come from
// join links and the CLI, typed or pasted by people, and a malformed one must get the same
// clear ConvexError as an unknown one rather than a validator message.

/**
 * Checks a title and returns it trimmed. No control characters or slashes: titles name
 * editor tabs and `sharednotes:` paths and are typed in the CLI, where those would make
 * one title look like another or like a folder.
 */
function cleanTitle(title: string): string {
  const problem = titleProblem(title);
  if (problem !== undefined) fail("INVALID_ARGUMENT", problem);
  return title.trim();
}

/** Checks a text that becomes a note's whole content. */
function checkText(text: string): void {
  const bytes = utf8Bytes(text);
  if (bytes > MAX_NOTE_BYTES) {
    fail("TOO_LARGE", `A note may hold at most ${MAX_NOTE_BYTES} bytes of UTF-8 text; this text has ${bytes}.`);
  }
  if (hasLoneSurrogate(text)) fail("INVALID_ARGUMENT", "The text contains an unpaired surrogate.");
}

async function noteWithTitle(ctx: QueryCtx, spaceId: Id<"spaces">, title: string) {
  return await ctx.db
    .query("notes")
    .withIndex("by_space_title", (q) => q.eq("spaceId", spaceId).eq("title", title))
    .first();
}

/** The space's notes sorted by title (all of them: a space holds at most MAX_NOTES_PER_SPACE). */
export const list = spaceQuery({
  args: {},
  returns: v.array(noteSummaryValidator),
  handler: async (ctx, _args, { space }) => {
    const notes = await ctx.db
      .query("notes")
      .withIndex("by_space_title", (q) => q.eq("spaceId", space._id))
      .take(MAX_NOTES_PER_SPACE);
    return notes.map((n) => ({ noteId: n._id, title: n.title }));
  },
});

/** Creates a note at revision 0 with `text` (default empty). Titles are unique per space. */
export const create = spaceMutation({
  args: { title: v.string(), text: v.optional(v.string()) },
  returns: v.id("notes"),
  handler: async (ctx, args, { space }) => {
    const title = cleanTitle(args.title);
    const text = args.text ?? "";
    checkText(text);
    if ((await noteWithTitle(ctx, space._id, title)) !== null) {
      fail("TITLE_TAKEN", `There is already a note called "${title}" in this space.`);
    }
    // Counting with a bounded take keeps the cap exact without an unbounded read.
    const existing = await ctx.db
      .query("notes")
      .withIndex("by_space_title", (q) => q.eq("spaceId", space._id))
      .take(MAX_NOTES_PER_SPACE);
    if (existing.length >= MAX_NOTES_PER_SPACE) {
      fail("TOO_LARGE", `A space may hold at most ${MAX_NOTES_PER_SPACE} notes; remove some first.`);
    }
    const noteId = await ctx.db.insert("notes", { spaceId: space._id, title });
    await createText(ctx, noteId, text);
    return noteId;
  },
});

/** Renames a note. Renaming to its own title is a no-op; another note's title is TITLE_TAKEN. */
export const rename = noteMutation({
  args: { title: v.string() },
  returns: v.null(),
  handler: async (ctx, args, { space, note }) => {
    const title = cleanTitle(args.title);
    if (title === note.title) return null;
    const clash = await noteWithTitle(ctx, space._id, title);
    if (clash !== null) fail("TITLE_TAKEN", `There is already a note called "${title}" in this space.`);
    await ctx.db.patch("notes", note._id, { title });
    return null;
  },
});

/** Finds a note by its exact (trimmed) title; null when there is none. */
export const find = spaceQuery({
  args: { title: v.string() },
  returns: v.union(v.id("notes"), v.null()),
  handler: async (ctx, args, { space }) => {
    const note = await noteWithTitle(ctx, space._id, args.title.trim());
    return note === null ? null : note._id;
  },
});

/**
 * The note's text at its head revision, with the revision and its checksum: the latest
 * snapshot plus the ops after it (convex/noteStore.ts).
 */
export const open = noteQuery({
  args: {},
  returns: openResultValidator,
  handler: async (ctx, _args, { note }) => {
    const head = await readHead(ctx, note._id);
    const text = await headText(ctx, note._id, head);
    return { noteId: note._id, title: note.title, text, rev: head.rev, checksum: checksum(text) };
  },
});

/**
 * Deletes up to `budget` rows of the note's ops, snapshots and presence; returns how many it deleted.
 * Bounded so that one mutation stays far inside Convex's per-transaction limits.
 */
async function deleteSome(ctx: MutationCtx, noteId: Id<"notes">, budget: number): Promise<number> {
  const ops = await ctx.db
    .query("ops")
    .withIndex("by_note_rev", (q) => q.eq("noteId", noteId))
    .take(budget);
  for (const row of ops) await ctx.db.delete("ops", row._id);
  let left = budget - ops.length;
  if (left <= 0) return ops.length;
  // Few and large (up to 1 MB each): a handful per call keeps the mutation small.
  const snapshots = await ctx.db
    .query("snapshots")
    .withIndex("by_note_rev", (q) => q.eq("noteId", noteId))
    .take(Math.min(left, 8));
  for (const row of snapshots) await ctx.db.delete("snapshots", row._id);
  left -= snapshots.length;
  if (snapshots.length === 8 || left <= 0) return budget;
  const presence = await ctx.db
    .query("presence")
    .withIndex("by_note_client", (q) => q.eq("noteId", noteId))
    .take(left);
  for (const row of presence) await ctx.db.delete("presence", row._id);
  return ops.length + snapshots.length + presence.length;
}

/**
 * Removes a note. The note and its text disappear at once (the title is free again, every
 * reader gets NOT_FOUND); its op log and presence rows go in batches. Returns
 * `{done: false}` when rows remain: call again with the same arguments until `done`.
 */
export const remove = spaceMutation({
  args: { noteId: v.string() },
  returns: v.object({ done: v.boolean() }),
  handler: async (ctx, args, { space }) => {
    const noteId = ctx.db.normalizeId("notes", args.noteId);
    if (noteId === null) fail("NOT_FOUND", "There is no such note in this space.");
    const note = await ctx.db.get("notes", noteId);
    let removal = null;
    if (note === null) {
      // Already gone: finish a removal started earlier, if it was this space's note.
      removal = await ctx.db
        .query("removals")
        .withIndex("by_note", (q) => q.eq("noteId", noteId))
        .first();
      if (removal === null || removal.spaceId !== space._id) {
        fail("NOT_FOUND", "There is no such note in this space.");
      }
    } else {
      if (note.spaceId !== space._id) fail("NOT_FOUND", "There is no such note in this space.");
      for (const table of ["heads", "texts"] as const) {
        const row = await ctx.db
          .query(table)
          .withIndex("by_note", (q) => q.eq("noteId", noteId))
          .unique();
        if (row !== null) await ctx.db.delete(table, row._id);
      }
      // Authorship keeps the latest row per note (a few while a newer one lands).
      const authorship = await ctx.db
        .query("authorship")
        .withIndex("by_note_rev", (q) => q.eq("noteId", noteId))
        .take(16);
      for (const row of authorship) await ctx.db.delete("authorship", row._id);
      await ctx.db.delete("notes", noteId);
    }
    // Only a full batch can leave rows behind; then one bounded look tells whether any did.
    const deleted = await deleteSome(ctx, noteId, REMOVE_BATCH);
    const more =
      deleted === REMOVE_BATCH &&
      ((await ctx.db
        .query("ops")
        .withIndex("by_note_rev", (q) => q.eq("noteId", noteId))
        .first()) !== null ||
        (await ctx.db
          .query("snapshots")
          .withIndex("by_note_rev", (q) => q.eq("noteId", noteId))
          .first()) !== null ||
        (await ctx.db
          .query("presence")
          .withIndex("by_note_client", (q) => q.eq("noteId", noteId))
          .first()) !== null);
    if (more && removal === null) await ctx.db.insert("removals", { spaceId: space._id, noteId });
    if (!more && removal !== null) await ctx.db.delete("removals", removal._id);
    return { done: !more };
  },
});

/** Notes migrated per run: each reads and writes one whole text (up to 1 MB). */
const MIGRATE_BATCH = 8;

/**
 * Moves notes stored the old way (one `texts` row with the whole text) to a head and a
 * snapshot. A note is also migrated by its first submit; this finishes the ones nobody
 * types in. Runs from crons.ts and reschedules itself while rows remain.
 */
export const migrate = internalMutation({
  args: {},
  returns: v.object({ migrated: v.number() }),
  handler: async (ctx) => {
    const rows = await ctx.db.query("texts").take(MIGRATE_BATCH);
    for (const row of rows) await migrateText(ctx, row);
    if (rows.length === MIGRATE_BATCH) await ctx.scheduler.runAfter(0, internal.notes.migrate, {});
    return { migrated: rows.length };
  },
});
