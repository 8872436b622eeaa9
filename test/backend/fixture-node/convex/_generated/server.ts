// Hand-written stand-in for `convex codegen` output.
export { actionGeneric as action, mutationGeneric as mutation, queryGeneric as query } from "convex/server";
