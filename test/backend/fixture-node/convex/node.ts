"use node";
// Node.js actions that misbehave in every way a worker can: each must fail only its own call.
import { createHash } from "node:crypto";
import { readFile } from "node:fs";
import { makeFunctionReference } from "convex/server";
import { v } from "convex/values";
import { action } from "./_generated/server";

/** Read when the module loads: the declared environment must already be there. */
const declaredAtLoad = process.env.DECLARED ?? null;

const bump = makeFunctionReference<"mutation", { name: string }, number>("counts:bump");
const get = makeFunctionReference<"query", { name: string }, number>("counts:get");

/** Node built-ins and npm packages work here; the server's environment does not show. */
export const nodeOnly = action({
  args: { text: v.string() },
  returns: v.object({ sha: v.string(), envKeys: v.array(v.string()), declaredAtLoad: v.union(v.string(), v.null()), viaEngine: v.number() }),
  handler: async (ctx, { text }) => {
    await ctx.runMutation(bump, { name: text });
    return {
      sha: createHash("sha256").update(Buffer.from(text)).digest("hex").slice(0, 8),
      envKeys: Object.keys(process.env).sort(),
      declaredAtLoad,
      viaEngine: await ctx.runQuery(get, { name: text }),
    };
  },
});

export const throwInCallback = action({
  args: {},
  returns: v.null(),
  handler: async () =>
    await new Promise<null>(() => {
      readFile(__filename, () => {
        throw new Error("Yikes");
      });
    }),
});

export const exit = action({
  args: {},
  returns: v.null(),
  handler: async () => {
    process.exit(3);
    return null;
  },
});

export const spin = action({
  args: {},
  returns: v.null(),
  handler: async () => {
    for (;;);
  },
});

export const timed = action({
  args: {},
  returns: v.null(),
  handler: async () => {
    console.time("step");
    console.timeLog("step", "half");
    console.timeEnd("step");
    console.timeEnd("step");
    return null;
  },
});
