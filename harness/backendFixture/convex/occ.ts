// Mutations that wait for something outside the database midway (Web Crypto on its thread
// pool), for the engine's optimistic concurrency: others commit meanwhile, and these are
// resumed, or run again when what they read was overwritten.
import { v, type GenericId } from "convex/values";
import { api } from "./_generated/api";
import { mutation } from "./_generated/server";

/** Large enough for Web Crypto's thread pool (smaller inputs are hashed at once). */
const OUTSIDE_BYTES = 1 << 20;

async function waitOutside(): Promise<void> {
  await crypto.subtle.digest("SHA-256", new Uint8Array(OUTSIDE_BYTES));
}

/** Reads a counter, waits outside, then writes it: conflicts with any write of that counter meanwhile. */
export const readWaitIncrement = mutation({
  args: { name: v.string() },
  returns: v.number(),
  handler: async (ctx, { name }) => {
    const row = await ctx.db
      .query("counters")
      .withIndex("by_name", (q) => q.eq("name", name))
      .unique();
    await waitOutside();
    if (row) {
      await ctx.db.patch(row._id, { value: row.value + 1 });
      return row.value + 1;
    }
    await ctx.db.insert("counters", { name, value: 1 });
    return 1;
  },
});

/**
 * Inserts counters, waits outside, then reads the names under `prefix` in index order, all
 * and as a first page of two: its own writes merged with whatever committed meanwhile.
 */
export const insertWaitList = mutation({
  args: { prefix: v.string(), names: v.array(v.string()) },
  returns: v.object({ all: v.array(v.string()), firstPage: v.array(v.string()) }),
  handler: async (ctx, { prefix, names }) => {
    for (const name of names) await ctx.db.insert("counters", { name: prefix + name, value: 0 });
    await waitOutside();
    const range = () =>
      ctx.db.query("counters").withIndex("by_name", (q) => q.gte("name", prefix).lt("name", `${prefix}\uffff`));
    const all = (await range().collect()).map((row) => row.name);
    const page = await range().paginate({ numItems: 2, cursor: null });
    return { all, firstPage: page.page.map((row) => row.name) };
  },
});

/** Runs away after its outside wait: fails alone, with Convex's timeout. */
export const spinAfterWait = mutation({
  args: {},
  returns: v.null(),
  handler: async (ctx) => {
    await ctx.db.query("counters").first();
    await waitOutside();
    for (;;) {
      // Runaway after the wait.
    }
  },
});

/** Schedules readWaitIncrement now: its job state commits with its outcome, after any retries. */
export const scheduleReadWaitIncrement = mutation({
  args: { name: v.string() },
  returns: v.id("_scheduled_functions"),
  handler: async (ctx, { name }): Promise<GenericId<"_scheduled_functions">> => ctx.scheduler.runAfter(0, api.occ.readWaitIncrement, { name }),
});
