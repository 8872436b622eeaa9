import { v } from "convex/values";
import { mutation, query } from "./_generated/server";

export const tick = mutation({
  args: {},
  returns: v.null(),
  handler: async (ctx) => {
    await ctx.db.insert("ticks", { at: Date.now() });
    return null;
  },
});

export const count = query({
  args: {},
  returns: v.number(),
  handler: async (ctx) => (await ctx.db.query("ticks").collect()).length,
});
