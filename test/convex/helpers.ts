import { randomBytes } from "node:crypto";
import { convexTest } from "convex-test";
import { ConvexError } from "convex/values";
import { expect } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import schema, { type ErrorCode } from "../../convex/schema";

// convex-test loads the functions through this map; it must include convex/_generated.
const modules = import.meta.glob("../../convex/**/*.*s");

/** A fresh in-memory backend with Convex's per-transaction limits switched on. */
export function backend() {
  return convexTest({ schema, modules, transactionLimits: true });
}

export type Backend = ReturnType<typeof backend>;

/** What a client does: 32 bytes from a CSPRNG, base64url. */
export function newKey(): string {
  return randomBytes(32).toString("base64url");
}

export interface Space {
  spaceId: Id<"spaces">;
  key: string;
}

export async function newSpace(t: Backend): Promise<Space> {
  const key = newKey();
  const spaceId = await t.mutation(api.spaces.create, { key });
  return { spaceId, key };
}

/** Awaits `promise`, expects a ConvexError with `code`, and returns its message. */
export async function expectError(promise: Promise<unknown>, code: ErrorCode): Promise<string> {
  let caught: unknown;
  try {
    await promise;
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected a ConvexError ${code}`).toBeInstanceOf(ConvexError);
  const data = (caught as ConvexError<{ code: string; message: string }>).data;
  expect(data.code).toBe(code);
  expect(typeof data.message).toBe("string");
  expect(data.message.length).toBeGreaterThan(0);
  return data.message;
}
