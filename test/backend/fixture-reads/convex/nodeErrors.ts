"use node";
// Node.js actions failing, for the error-format tests.
import { ConvexError, v } from "convex/values";
import { action } from "./_generated/server";

export const fail = action({
  args: {},
  returns: v.null(),
  handler: async () => {
    throw new ConvexError("node failure");
  },
});

// A handler passed bare, so its function has no name (V8 calls such frames of code run by
// `new Function` "eval"; Convex prints "<anonymous>").
// eslint-disable-next-line @convex-dev/no-old-registered-function-syntax, @convex-dev/require-args-validator
export const anonymous = action(async (): Promise<null> => {
  throw new Error("anonymous node failure");
});
