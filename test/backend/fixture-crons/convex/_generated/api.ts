// Hand-written stand-in for `convex codegen` output.
import { anyApi } from "convex/server";
export const api = anyApi;
