"use node";
// A Node.js action failing, for the error-format tests.
import { ConvexError, v } from "convex/values";
import { action } from "./_generated/server";

export const fail = action({
  args: {},
  returns: v.null(),
  handler: async () => {
    throw new ConvexError("node failure");
  },
});
