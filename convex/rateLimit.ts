/**
 * Fixed-window call counters for the functions anyone can call without a space key
 * (spaces:create). Rows are per (name, caller) and window; `prune` (crons.ts) deletes the
 * windows that are over, so the table holds at most one row per recent caller.
 */
import { v } from "convex/values";
import type { MutationCtx } from "./_generated/server";
import { internalMutation } from "./_generated/server";
import { fail } from "./errors";

export interface Limit {
  readonly name: string;
  readonly max: number;
  readonly windowMs: number;
}

/** Counts one call of `caller` against `limit`; RATE_LIMITED (nothing counted) once the window is full. */
export async function take(ctx: MutationCtx, limit: Limit, caller: string, what: string): Promise<void> {
  const now = Date.now();
  const windowStart = now - (now % limit.windowMs);
  const row = await ctx.db
    .query("rateLimits")
    .withIndex("by_name_caller", (q) => q.eq("name", limit.name).eq("caller", caller))
    .unique();
  if (row === null) {
    await ctx.db.insert("rateLimits", { name: limit.name, caller, windowStart, count: 1 });
    return;
  }
  if (row.windowStart !== windowStart) {
    await ctx.db.patch("rateLimits", row._id, { windowStart, count: 1 });
    return;
  }
  if (row.count >= limit.max) {
    const minutes = Math.max(1, Math.ceil((windowStart + limit.windowMs - now) / 60_000));
    fail("RATE_LIMITED", `${what}: at most ${limit.max} per ${Math.round(limit.windowMs / 60_000)} minutes. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`);
  }
  await ctx.db.patch("rateLimits", row._id, { count: row.count + 1 });
}

/** Rows deleted per run of `prune`. */
const PRUNE_BATCH = 500;

/** Deletes counters whose window ended more than a day ago (the longest window in use is an hour). */
export const prune = internalMutation({
  args: {},
  returns: v.object({ deleted: v.number() }),
  handler: async (ctx) => {
    const old = await ctx.db
      .query("rateLimits")
      .withIndex("by_window", (q) => q.lt("windowStart", Date.now() - 24 * 60 * 60 * 1000))
      .take(PRUNE_BATCH);
    for (const row of old) await ctx.db.delete("rateLimits", row._id);
    return { deleted: old.length };
  },
});
