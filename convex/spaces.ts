import { v } from "convex/values";
import { mutation, query } from "./_generated/server";
import { hashKey, keyProblem, requireSpace } from "./access";
import { DEFAULT_SPACE_NAME, spaceNameProblem } from "../sync/rules";
import { fail } from "./errors";
import { SPACE_CREATE_GLOBAL_LIMIT, SPACE_CREATE_LIMIT, SPACE_CREATE_WINDOW_MS } from "./limits";
import { take } from "./rateLimit";
import type { MutationCtx } from "./_generated/server";

/**
 * spaces:create is the one door open to anyone: per caller (the signed-in identity, else
 * the installation id the client sends) at most SPACE_CREATE_LIMIT an hour, and all callers
 * together at most SPACE_CREATE_GLOBAL_LIMIT (ids chosen by clients can be changed at will).
 */
async function limitSpaceCreation(ctx: MutationCtx, caller: string | undefined): Promise<void> {
  if (caller !== undefined && (caller.length === 0 || caller.length > 64)) {
    fail("INVALID_ARGUMENT", "caller must be 1 to 64 characters.");
  }
  const identity = await ctx.auth.getUserIdentity();
  const who = identity?.tokenIdentifier ?? caller;
  const what = "Too many spaces created";
  if (who !== undefined) {
    await take(ctx, { name: "spaces:create", max: SPACE_CREATE_LIMIT, windowMs: SPACE_CREATE_WINDOW_MS }, who, `${what} by this installation`);
  }
  await take(ctx, { name: "spaces:create", max: SPACE_CREATE_GLOBAL_LIMIT, windowMs: SPACE_CREATE_WINDOW_MS }, "*", `${what} on this server`);
}

/**
 * Creates a space opened by `key`, which the client generated (32 random bytes from its
 * own CSPRNG, base64url; see access.ts for why the server does not make it). Only the
 * key's hash is stored. Returns the space id; id and key together are the join secret.
 */
export const create = mutation({
  // `caller`: a stable id of the installation asking (there are no accounts), for the rate limit.
  args: { key: v.string(), name: v.optional(v.string()), caller: v.optional(v.string()) },
  returns: v.id("spaces"),
  handler: async (ctx, { key, name = DEFAULT_SPACE_NAME, caller }) => {
    const problem = keyProblem(key) ?? spaceNameProblem(name);
    if (problem !== undefined) fail("INVALID_ARGUMENT", problem);
    await limitSpaceCreation(ctx, caller);
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
