// Hand-written stand-in for `convex codegen` output.
export { mutationGeneric as mutation, queryGeneric as query } from "convex/server";
