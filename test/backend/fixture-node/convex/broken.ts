"use node";
// A module whose npm package cannot load: the backend starts, and calling it fails.
// @ts-expect-error the package does not exist, on purpose
import missing from "shared-notes-no-such-package";
import { v } from "convex/values";
import { action } from "./_generated/server";

export const useIt = action({ args: {}, returns: v.null(), handler: async () => (missing as () => null)() });
