import { v } from "convex/values";
import { mutation, query } from "./_generated/server";
import { hashKey, keyProblem, requireSpace } from "./access";
import { fail } from "./errors";

/**
 * Creates a space opened by `key`, which the client generated (32 random bytes from its
 * own CSPRNG, base64url; see access.ts for why the server does not make it). Only the
 * key's hash is stored. Returns the space id; id and key together are the join secret.
 */
export const create = mutation({
  args: { key: v.string() },
  returns: v.id("spaces"),
  handler: async (ctx, { key }) => {
    const problem = keyProblem(key);
    if (problem !== undefined) fail("INVALID_ARGUMENT", problem);
    return await ctx.db.insert("spaces", { keyHash: await hashKey(key) });
  },
});

/** Checks a space id and key: returns null when they open the space, else ACCESS_DENIED. */
export const verify = query({
  args: { spaceId: v.string(), key: v.string() },
  returns: v.null(),
  handler: async (ctx, { spaceId, key }) => {
    await requireSpace(ctx, spaceId, key);
    return null;
  },
});
