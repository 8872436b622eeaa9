// Default-runtime functions: the ones the Node.js actions call through the engine, and an
// action that never settles (cut off at the action time limit).
import { v } from "convex/values";
import { action, mutation, query } from "./_generated/server";

export const bump = mutation({
  args: { name: v.string() },
  returns: v.number(),
  handler: async (ctx, { name }) => {
    const row = await ctx.db
      .query("counts")
      .withIndex("by_name", (q) => q.eq("name", name))
      .unique();
    if (row) await ctx.db.patch("counts", row._id, { n: row.n + 1 });
    else await ctx.db.insert("counts", { name, n: 1 });
    return (row?.n ?? 0) + 1;
  },
});

export const get = query({
  args: { name: v.string() },
  returns: v.number(),
  handler: async (ctx, { name }) =>
    (
      await ctx.db
        .query("counts")
        .withIndex("by_name", (q) => q.eq("name", name))
        .unique()
    )?.n ?? 0,
});

export const waitForever = action({
  args: {},
  returns: v.null(),
  handler: async () => await new Promise<null>(() => {}),
});
