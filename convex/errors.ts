import { ConvexError } from "convex/values";
import type { ErrorCode, ErrorData } from "./schema";

/** Throws the one ConvexError shape clients handle: `{code, message}`. */
export function fail(code: ErrorCode, message: string): never {
  const data: ErrorData = { code, message };
  throw new ConvexError(data);
}
