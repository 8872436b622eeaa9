// Failing functions for the error-format tests: the tests find the `throw` lines by their text.
import { ConvexError, v } from "convex/values";
import { makeFunctionReference } from "convex/server";
import { action, query } from "./_generated/server";

export const plain = query({
  args: {},
  returns: v.null(),
  handler: async () => {
    throw new Error("plain failure");
  },
});

class NotFound extends ConvexError<{ code: string }> {
  override name = "NotFound";
}

export const coded = query({
  args: { subclass: v.boolean() },
  returns: v.null(),
  handler: async (_ctx, { subclass }) => {
    if (subclass) throw new NotFound({ code: "GONE" });
    throw new ConvexError({ code: "GONE" });
  },
});

export const nested = action({
  args: {},
  returns: v.null(),
  handler: async (ctx) => {
    await ctx.runQuery(makeFunctionReference<"query">("errors:coded"), { subclass: false });
    return null;
  },
});

export const badIndex = query({
  args: {},
  returns: v.null(),
  handler: async (ctx) => {
    await ctx.db.query("items").withIndex("by_nothing" as "by_list_n").first();
    return null;
  },
});

export const stagedIndex = query({
  args: {},
  returns: v.null(),
  handler: async (ctx) => {
    await ctx.db.query("items").withIndex("by_tag" as "by_list_n").first();
    return null;
  },
});

export const notSupported = query({
  args: {},
  returns: v.null(),
  handler: async (ctx) => {
    await ctx.storage.getUrl("kg2bnzhq4ky5dpyz6a2fw0k3a97m6qaa" as never);
    return null;
  },
});
