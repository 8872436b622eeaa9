import { v } from "convex/values";
import { mutation, query } from "./_generated/server";
import { requireNote } from "./access";
import { fail } from "./errors";
import {
  checkClientId,
  MAX_PRESENCE_LISTED,
  MAX_SELECTIONS,
  PRESENCE_PURGE_BATCH,
  PRESENCE_PURGE_MS,
  PRESENCE_STALE_MS,
} from "./limits";
import { colorProblem, displayNameProblem } from "../sync/rules";
import { presenceEntryValidator, selectionValidator } from "./schema";


function isPosition(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/**
 * Publishes (or refreshes: this is also the heartbeat) one client's presence in a note:
 * name, colour and selections at revision `rev`. The server stamps `lastSeen`, so clocks
 * of clients do not matter. Each call also deletes a few long-stale rows of the note, so
 * clients that vanished without `leave` are cleaned up by those still there.
 */
export const update = mutation({
  args: {
    spaceId: v.string(),
    key: v.string(),
    noteId: v.string(),
    clientId: v.string(),
    name: v.string(),
    color: v.string(),
    rev: v.number(),
    selections: v.array(selectionValidator),
  },
  returns: v.null(),
  handler: async (ctx, args) => {
    const { note } = await requireNote(ctx, args.spaceId, args.key, args.noteId);
    checkClientId(args.clientId);
    const name = args.name.trim();
    // Colours end up in editor decorations: only hex colours, so no other CSS can ride along.
    const problem = displayNameProblem(name) ?? colorProblem(args.color);
    if (problem !== undefined) fail("INVALID_ARGUMENT", problem);
    if (!isPosition(args.rev)) fail("INVALID_ARGUMENT", `rev must be a whole number ≥ 0, not ${args.rev}.`);
    if (args.selections.length > MAX_SELECTIONS) {
      fail("INVALID_ARGUMENT", `At most ${MAX_SELECTIONS} selections; got ${args.selections.length}.`);
    }
    for (const s of args.selections) {
      if (!isPosition(s.anchor) || !isPosition(s.head)) {
        fail("INVALID_ARGUMENT", "Selection anchors and heads must be whole numbers ≥ 0.");
      }
    }
    // The rev is not checked against the head: that would read the note's whole text on
    // every heartbeat. Readers transform selections from `rev` and drop ones that do not fit.

    const now = Date.now();
    const entry = {
      noteId: note._id,
      clientId: args.clientId,
      name,
      color: args.color,
      rev: args.rev,
      selections: args.selections,
      lastSeen: now,
    };
    const mine = await ctx.db
      .query("presence")
      .withIndex("by_note_client", (q) => q.eq("noteId", note._id).eq("clientId", args.clientId))
      .unique();
    if (mine === null) await ctx.db.insert("presence", entry);
    else await ctx.db.replace("presence", mine._id, entry);

    const stale = await ctx.db
      .query("presence")
      .withIndex("by_note_last_seen", (q) => q.eq("noteId", note._id).lt("lastSeen", now - PRESENCE_PURGE_MS))
      .take(PRESENCE_PURGE_BATCH);
    for (const row of stale) await ctx.db.delete("presence", row._id);
    return null;
  },
});

/**
 * The note's live presence entries (seen in the last PRESENCE_STALE_MS), by clientId.
 *
 * Date.now() in a query: Convex does not re-run a query because time passes, only when
 * rows it read change. Every live client heartbeats, which rewrites its row inside this
 * range, so the list is re-run every few seconds while anyone is there and a vanished client
 * drops out within one heartbeat after going stale. Clients may also filter on `lastSeen`.
 */
export const list = query({
  args: { spaceId: v.string(), key: v.string(), noteId: v.string() },
  returns: v.array(presenceEntryValidator),
  handler: async (ctx, args) => {
    const { note } = await requireNote(ctx, args.spaceId, args.key, args.noteId);
    const rows = await ctx.db
      .query("presence")
      .withIndex("by_note_last_seen", (q) => q.eq("noteId", note._id).gte("lastSeen", Date.now() - PRESENCE_STALE_MS))
      .order("desc")
      .take(MAX_PRESENCE_LISTED);
    return rows
      .map((r) => ({
        clientId: r.clientId,
        name: r.name,
        color: r.color,
        rev: r.rev,
        selections: r.selections,
        lastSeen: r.lastSeen,
      }))
      .sort((a, b) => (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0));
  },
});

/** Removes a client's presence from a note (closing the note). Idempotent. */
export const leave = mutation({
  args: { spaceId: v.string(), key: v.string(), noteId: v.string(), clientId: v.string() },
  returns: v.null(),
  handler: async (ctx, args) => {
    const { note } = await requireNote(ctx, args.spaceId, args.key, args.noteId);
    const mine = await ctx.db
      .query("presence")
      .withIndex("by_note_client", (q) => q.eq("noteId", note._id).eq("clientId", args.clientId))
      .unique();
    if (mine !== null) await ctx.db.delete("presence", mine._id);
    return null;
  },
});
