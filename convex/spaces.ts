import { v } from "convex/values";
import { mutation, query } from "./_generated/server";
import { hashKey, keyProblem, requireSpace } from "./access";
import { DEFAULT_SPACE_NAME, spaceNameProblem } from "../sync/rules";
import { fail } from "./errors";

/**
 * Creates a space opened by `key`, which the client generated (32 random bytes from its
 * own CSPRNG, base64url; see access.ts for why the server does not make it). Only the
 * key's hash is stored. Returns the space id; id and key together are the join secret.
 */
export const create = mutation({
  args: { key: v.string(), name: v.optional(v.string()) },
  returns: v.id("spaces"),
  handler: async (ctx, { key, name = DEFAULT_SPACE_NAME }) => {
    const problem = keyProblem(key) ?? spaceNameProblem(name);
    if (problem !== undefined) fail("INVALID_ARGUMENT", problem);
    return await ctx.db.insert("spaces", { keyHash: await hashKey(key), name: name.trim() });
  },
});

/** What members see of a space: its name. */
export const describe = query({
  args: { spaceId: v.string(), key: v.string() },
  returns: v.object({ name: v.string() }),
  handler: async (ctx, { spaceId, key }) => {
    const space = await requireSpace(ctx, spaceId, key);
    return { name: space.name ?? DEFAULT_SPACE_NAME };
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
