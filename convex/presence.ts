import { v } from "convex/values";
import { colorProblem, displayNameProblem } from "../sync/rules";
import { internal } from "./_generated/api";
import type { Doc, Id } from "./_generated/dataModel";
import { internalMutation, type MutationCtx } from "./_generated/server";
import { noteMutation, noteQuery } from "./access";
import { fail } from "./errors";
import {
  checkClientId,
  MAX_PRESENCE_LISTED,
  MAX_SELECTIONS,
  PRESENCE_SWEEP_BATCH,
  PRESENCE_SWEEP_OVERDUE_MS,
  PRESENCE_TIMEOUT_MS,
} from "./limits";
import { presenceEntryValidator, selectionValidator, type PresenceEntry } from "./schema";

/**
 * Presence in three tables, so that what every reader reads changes only when what it
 * shows changes:
 * - `presence`: name, colour and selections; `list` reads only this. Written when a client
 *   joins, moves its selections (at most 10 times a second, see client/presence.ts) or leaves.
 * - `presenceHeartbeats`: when each client was last heard from. Heartbeats write only here.
 * - `presenceSweeps`: the note's one scheduled sweep, which removes clients silent for
 *   PRESENCE_TIMEOUT_MS and then schedules itself for the next moment anyone could time out.
 *
 * The idea follows Convex's presence component (heartbeats kept out of what `list` reads, a
 * disconnect done by a scheduled function rather than by comparing times on every read).
 * Where that component cancels and reschedules a timeout per heartbeat, one sweep per note is kept here:
 * a heartbeat then costs one write, and a note with 50 idle people costs one sweep run about
 * every PRESENCE_TIMEOUT_MS − PRESENCE_HEARTBEAT_MS.
 */

function isPosition(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function sameEntry(row: Doc<"presence">, entry: PresenceEntry): boolean {
  return (
    row.lastSeen === undefined &&
    row.name === entry.name &&
    row.color === entry.color &&
    row.rev === entry.rev &&
    row.selections.length === entry.selections.length &&
    row.selections.every((s, i) => s.anchor === entry.selections[i]!.anchor && s.head === entry.selections[i]!.head)
  );
}

function shown(ctx: MutationCtx, noteId: Id<"notes">, clientId: string) {
  return ctx.db
    .query("presence")
    .withIndex("by_note_client", (q) => q.eq("noteId", noteId).eq("clientId", clientId))
    .unique();
}

function heartbeatOf(ctx: MutationCtx, noteId: Id<"notes">, clientId: string) {
  return ctx.db
    .query("presenceHeartbeats")
    .withIndex("by_note_client", (q) => q.eq("noteId", noteId).eq("clientId", clientId))
    .unique();
}

function sweepOf(ctx: MutationCtx, noteId: Id<"notes">) {
  return ctx.db
    .query("presenceSweeps")
    .withIndex("by_note", (q) => q.eq("noteId", noteId))
    .unique();
}

/** Makes the note's next sweep run after `delayMs`; any sweep scheduled before is superseded. */
async function scheduleSweep(
  ctx: MutationCtx,
  noteId: Id<"notes">,
  sweep: Doc<"presenceSweeps"> | null,
  delayMs: number,
  reconcile: boolean,
): Promise<void> {
  const round = (sweep?.round ?? 0) + 1;
  const due = Date.now() + delayMs;
  if (sweep === null) await ctx.db.insert("presenceSweeps", { noteId, round, due });
  else await ctx.db.replace("presenceSweeps", sweep._id, { noteId, round, due });
  await ctx.scheduler.runAfter(delayMs, internal.presence.sweep, { noteId, round, reconcile });
}

/**
 * Starts the note's sweep if none is pending, or replaces one long overdue (a run that
 * failed ends its chain). A new chain first runs at once to reconcile: it removes rows
 * without a heartbeat (left by versions that kept `lastSeen` in the row itself).
 */
async function ensureSweep(ctx: MutationCtx, noteId: Id<"notes">): Promise<void> {
  const sweep = await sweepOf(ctx, noteId);
  if (sweep !== null && sweep.due > Date.now() - PRESENCE_SWEEP_OVERDUE_MS) return;
  await scheduleSweep(ctx, noteId, sweep, 0, true);
}

async function markSeen(ctx: MutationCtx, noteId: Id<"notes">, clientId: string): Promise<void> {
  const beat = await heartbeatOf(ctx, noteId, clientId);
  if (beat === null) await ctx.db.insert("presenceHeartbeats", { noteId, clientId, lastSeen: Date.now() });
  else await ctx.db.patch("presenceHeartbeats", beat._id, { lastSeen: Date.now() });
}

/**
 * Publishes one client's presence in a note: name, colour and selections at revision `rev`.
 * Writes only when something readers show changed; the first call also marks the client
 * as seen and makes sure the note's sweep is scheduled.
 */
export const update = noteMutation({
  args: {
    clientId: v.string(),
    name: v.string(),
    color: v.string(),
    rev: v.number(),
    selections: v.array(selectionValidator),
  },
  returns: v.null(),
  handler: async (ctx, args, { note }) => {
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
    // The rev is not checked against the head: that would read the note's head on every
    // move. Readers transform selections from `rev` and drop ones that do not fit.

    const entry: PresenceEntry = {
      clientId: args.clientId,
      name,
      color: args.color,
      rev: args.rev,
      selections: args.selections.map(({ anchor, head }) => ({ anchor, head })),
    };
    const row = await shown(ctx, note._id, args.clientId);
    if (row !== null) {
      if (!sameEntry(row, entry)) await ctx.db.replace("presence", row._id, { noteId: note._id, ...entry });
      return null;
    }
    await ctx.db.insert("presence", { noteId: note._id, ...entry });
    await markSeen(ctx, note._id, args.clientId);
    await ensureSweep(ctx, note._id);
    return null;
  },
});

/**
 * Says the client is still in the note. Touches only its heartbeat, which no query that
 * clients subscribe to reads. Returns false when the client is not (or no longer) present,
 * e.g. it was silent too long and swept: it must publish itself again with `update`.
 */
export const heartbeat = noteMutation({
  args: { clientId: v.string() },
  returns: v.boolean(),
  handler: async (ctx, args, { note }) => {
    checkClientId(args.clientId);
    const beat = await heartbeatOf(ctx, note._id, args.clientId);
    if (beat !== null) {
      await ctx.db.patch("presenceHeartbeats", beat._id, { lastSeen: Date.now() });
    } else {
      // A row without a heartbeat was written by a version that kept `lastSeen` in the row: adopt it.
      if ((await shown(ctx, note._id, args.clientId)) === null) return false;
      await markSeen(ctx, note._id, args.clientId);
    }
    await ensureSweep(ctx, note._id);
    return true;
  },
});

/**
 * The note's collaborators, by clientId. Reads only the `presence` rows, so it re-runs
 * (and its subscribers hear about it) only when someone joins, moves or leaves.
 */
export const list = noteQuery({
  args: {},
  returns: v.array(presenceEntryValidator),
  handler: async (ctx, _args, { note }) => {
    const rows = await ctx.db
      .query("presence")
      .withIndex("by_note_client", (q) => q.eq("noteId", note._id))
      .take(MAX_PRESENCE_LISTED);
    return rows.map((r) => ({ clientId: r.clientId, name: r.name, color: r.color, rev: r.rev, selections: r.selections }));
  },
});

/** Removes a client's presence from a note (closing the note). Idempotent. */
export const leave = noteMutation({
  args: { clientId: v.string() },
  returns: v.null(),
  handler: async (ctx, args, { note }) => {
    const row = await shown(ctx, note._id, args.clientId);
    if (row !== null) await ctx.db.delete("presence", row._id);
    const beat = await heartbeatOf(ctx, note._id, args.clientId);
    if (beat !== null) await ctx.db.delete("presenceHeartbeats", beat._id);
    return null;
  },
});

/**
 * The scheduled disconnect of a note: removes clients silent for PRESENCE_TIMEOUT_MS, then
 * schedules itself for when the longest-silent remaining client would time out, or ends
 * when nobody is left. Works on the note's id alone, so a removed note's leftovers are
 * cleaned up too. A run whose `round` is no longer the note's current one does nothing.
 */
export const sweep = internalMutation({
  args: { noteId: v.id("notes"), round: v.number(), reconcile: v.boolean() },
  returns: v.null(),
  handler: async (ctx, args) => {
    const current = await sweepOf(ctx, args.noteId);
    if (current === null || current.round !== args.round) return null;
    const now = Date.now();
    if (args.reconcile) {
      const rows = await ctx.db
        .query("presence")
        .withIndex("by_note_client", (q) => q.eq("noteId", args.noteId))
        .take(PRESENCE_SWEEP_BATCH);
      for (const row of rows) {
        if ((await heartbeatOf(ctx, args.noteId, row.clientId)) === null) await ctx.db.delete("presence", row._id);
      }
    }
    const silent = await ctx.db
      .query("presenceHeartbeats")
      .withIndex("by_note_last_seen", (q) => q.eq("noteId", args.noteId).lte("lastSeen", now - PRESENCE_TIMEOUT_MS))
      .take(PRESENCE_SWEEP_BATCH);
    for (const beat of silent) {
      await ctx.db.delete("presenceHeartbeats", beat._id);
      const row = await shown(ctx, args.noteId, beat.clientId);
      if (row !== null) await ctx.db.delete("presence", row._id);
    }
    if (silent.length === PRESENCE_SWEEP_BATCH) {
      await scheduleSweep(ctx, args.noteId, current, 0, false);
      return null;
    }
    const oldest = await ctx.db
      .query("presenceHeartbeats")
      .withIndex("by_note_last_seen", (q) => q.eq("noteId", args.noteId))
      .first();
    if (oldest === null) {
      await ctx.db.delete("presenceSweeps", current._id);
      return null;
    }
    await scheduleSweep(ctx, args.noteId, current, oldest.lastSeen + PRESENCE_TIMEOUT_MS - now, false);
    return null;
  },
});
