// Paginated reads for the pagination tests: a list of numbered items, read in either order.
import { paginationOptsValidator } from "convex/server";
import { v } from "convex/values";
import { mutation, query } from "./_generated/server";

export const add = mutation({
  args: { list: v.string(), n: v.number(), tag: v.optional(v.string()), text: v.optional(v.string()) },
  returns: v.id("items"),
  handler: async (ctx, { list, n, tag, text }) => await ctx.db.insert("items", { list, n, tag: tag ?? "", text: text ?? "" }),
});

export const remove = mutation({
  args: { list: v.string(), n: v.number() },
  returns: v.null(),
  handler: async (ctx, { list, n }) => {
    const item = await ctx.db
      .query("items")
      .withIndex("by_list_n", (q) => q.eq("list", list).eq("n", n))
      .unique();
    if (item) await ctx.db.delete("items", item._id);
    return null;
  },
});

const pageResult = v.object({
  ns: v.array(v.number()),
  isDone: v.boolean(),
  continueCursor: v.string(),
  splitCursor: v.optional(v.union(v.string(), v.null())),
  pageStatus: v.optional(v.union(v.literal("SplitRecommended"), v.literal("SplitRequired"), v.null())),
});

export const page = query({
  args: {
    list: v.string(),
    order: v.union(v.literal("asc"), v.literal("desc")),
    tag: v.optional(v.string()),
    paginationOpts: paginationOptsValidator,
  },
  returns: pageResult,
  handler: async (ctx, { list, order, tag, paginationOpts }) => {
    const result = await ctx.db
      .query("items")
      .withIndex("by_list_n", (q) => q.eq("list", list))
      .order(order)
      // A filter on purpose: the rows it skips still count against maximumRowsRead.
      // eslint-disable-next-line @convex-dev/no-filter-in-query
      .filter((q) => (tag === undefined ? true : q.eq(q.field("tag"), tag)))
      .paginate(paginationOpts);
    return {
      ns: result.page.map((item) => item.n),
      isDone: result.isDone,
      continueCursor: result.continueCursor,
      splitCursor: result.splitCursor ?? null,
      pageStatus: result.pageStatus ?? null,
    };
  },
});

/** Convex allows one paginated read per function: this one must fail. */
export const twoPages = query({
  args: { list: v.string() },
  returns: v.number(),
  handler: async (ctx, { list }) => {
    const opts = { numItems: 1, cursor: null };
    const a = await ctx.db.query("items").withIndex("by_list_n", (q) => q.eq("list", list)).paginate(opts);
    const b = await ctx.db.query("items").withIndex("by_list_n", (q) => q.eq("list", list)).paginate(opts);
    return a.page.length + b.page.length;
  },
});

export const get = query({
  args: { id: v.id("items") },
  returns: v.union(v.number(), v.null()),
  handler: async (ctx, { id }) => (await ctx.db.get("items", id))?.n ?? null,
});

export const count = query({
  args: { list: v.string() },
  returns: v.number(),
  handler: async (ctx, { list }) =>
    (
      await ctx.db
        .query("items")
        .withIndex("by_list_n", (q) => q.eq("list", list))
        .collect()
    ).length,
});
