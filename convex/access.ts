import type { RegisteredMutation, RegisteredQuery } from "convex/server";
import { v, type Infer, type ObjectType, type PropertyValidators, type Validator } from "convex/values";
import type { Doc } from "./_generated/dataModel";
import { mutation, query, type MutationCtx, type QueryCtx } from "./_generated/server";
import { fail } from "./errors";
import { MAX_KEY_LENGTH, MIN_KEY_LENGTH } from "./limits";

/**
 * Space keys and the checks every note function starts with.
 *
 * Why the client makes the key: inside Convex queries and mutations `crypto.getRandomValues`
 * (like `Math.random`) is fed by a seeded generator, so that a function's run can be
 * replayed (Convex's runtime: crates/isolate/src/ops/crypto.rs draws from the function's
 * seeded `rng()`). Deterministic on replay is not what a secret needs, and our local backend
 * could seed differently again. So the client draws 32 bytes from its own CSPRNG and the
 * server only checks the shape and keeps the hash.
 *
 * Why a plain SHA-256 and not a slow password hash: the key is 256 random bits, not a
 * human-chosen password, so there is nothing for a dictionary attack to guess; one fast
 * hash is enough to make a leaked database useless for joining a space.
 */

const KEY_SHAPE = /^[A-Za-z0-9_-]+$/;

/** A sentence saying why `key` cannot be a space key, or undefined when it can. */
export function keyProblem(key: string): string | undefined {
  if (key.length < MIN_KEY_LENGTH || key.length > MAX_KEY_LENGTH) {
    return `a space key must be ${MIN_KEY_LENGTH} to ${MAX_KEY_LENGTH} characters (32 random bytes in base64url is ${MIN_KEY_LENGTH})`;
  }
  if (!KEY_SHAPE.test(key)) return "a space key must be base64url (A-Z, a-z, 0-9, '-', '_')";
  return undefined;
}

/**
 * Hashes of the keys hashed lately. Every note function hashes its caller's key, and a
 * client sends the same key with every call: at 50 typists hashing was 2.4% of the
 * server's CPU (a CPU profile over bench:clients). A memo of a pure function: module state
 * that Convex may keep between calls or not, which changes nothing but time. It holds
 * keys the server is handed on every call anyway.
 */
const recentHashes = new Map<string, string>();
const RECENT_HASHES = 256;

/** Hex SHA-256 of the key (Web Crypto: available in Convex's runtime and in Node). */
export async function hashKey(key: string): Promise<string> {
  const known = recentHashes.get(key);
  if (known !== undefined) return known;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(key));
  let hex = "";
  for (const b of new Uint8Array(digest)) hex += b.toString(16).padStart(2, "0");
  if (recentHashes.size >= RECENT_HASHES) recentHashes.delete(recentHashes.keys().next().value as string);
  recentHashes.set(key, hex);
  return hex;
}

/**
 * Compares two digests without stopping at the first difference, so the time taken says
 * nothing about how much of a guessed key's hash matched.
 */
export function sameDigest(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}

const DENIED = "This space does not exist or the key is wrong.";

/**
 * The space, if `key` opens it. An unknown space, a malformed id and a wrong key all give
 * the same ACCESS_DENIED, so a caller without the key learns nothing, not even whether the
 * space exists. The hash is computed first in every case to keep the paths alike.
 */
export async function requireSpace(ctx: QueryCtx, spaceId: string, key: string): Promise<Doc<"spaces">> {
  const hash = await hashKey(key);
  const id = ctx.db.normalizeId("spaces", spaceId);
  const space = id === null ? null : await ctx.db.get("spaces", id);
  if (space === null || !sameDigest(hash, space.keyHash)) fail("ACCESS_DENIED", DENIED);
  return space;
}

/**
 * The note, if `key` opens the space and the note belongs to it. Checked only after the
 * key, so "not found" is never an answer to someone without the key. A note of another
 * space is "not found" too: a key opens its own space only.
 */
export async function requireNote(
  ctx: QueryCtx,
  spaceId: string,
  key: string,
  noteId: string,
): Promise<{ space: Doc<"spaces">; note: Doc<"notes"> }> {
  const space = await requireSpace(ctx, spaceId, key);
  const id = ctx.db.normalizeId("notes", noteId);
  const note = id === null ? null : await ctx.db.get("notes", id);
  if (note === null || note.spaceId !== space._id) fail("NOT_FOUND", "There is no such note in this space.");
  return { space, note };
}

// ---------------------------------------------------------------------------------------
// Function builders: every function of a space or a note is made with one of these. They add
// the `spaceId, key` (and `noteId`) arguments, check them before anything else runs, and hand
// the handler what they opened. Ids arrive as plain strings: they come from join links and
// the CLI, typed or pasted by people, and a malformed one must get the same clear ConvexError
// as an unknown one rather than a validator message.

const spaceArgs = { spaceId: v.string(), key: v.string() };
const noteArgs = { ...spaceArgs, noteId: v.string() };
type SpaceArgs = typeof spaceArgs;
type NoteArgs = typeof noteArgs;

// `any` only where Convex's own builder types use it: a validator of any returned value.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Returns = Validator<any, "required", any>;

export interface InSpace {
  readonly space: Doc<"spaces">;
}
export interface InNote extends InSpace {
  readonly note: Doc<"notes">;
}

interface Definition<Ctx, A extends PropertyValidators, R extends Returns, Found> {
  readonly args: A;
  readonly returns: R;
  readonly handler: (ctx: Ctx, args: ObjectType<A>, found: Found) => Promise<Infer<R>>;
}

function without<T extends Record<string, unknown>>(args: T, keys: readonly string[]): never {
  const rest: Record<string, unknown> = { ...args };
  for (const k of keys) delete rest[k];
  return rest as never;
}

/** The `query`/`mutation` definition of a space's function: adds and checks `spaceId, key`. */
function inSpace<Ctx extends QueryCtx, A extends PropertyValidators, R extends Returns>(def: Definition<Ctx, A, R, InSpace>) {
  return {
    args: { ...def.args, ...spaceArgs },
    returns: def.returns,
    handler: async (ctx: Ctx, args: ObjectType<A & SpaceArgs>): Promise<Infer<R>> => {
      const { spaceId, key } = args as unknown as ObjectType<SpaceArgs>;
      const space = await requireSpace(ctx, spaceId, key);
      return await def.handler(ctx, without(args, ["spaceId", "key"]), { space });
    },
  };
}

/** The `query`/`mutation` definition of a note's function: adds and checks `spaceId, key, noteId`. */
function inNote<Ctx extends QueryCtx, A extends PropertyValidators, R extends Returns>(def: Definition<Ctx, A, R, InNote>) {
  return {
    args: { ...def.args, ...noteArgs },
    returns: def.returns,
    handler: async (ctx: Ctx, args: ObjectType<A & NoteArgs>): Promise<Infer<R>> => {
      const { spaceId, key, noteId } = args as unknown as ObjectType<NoteArgs>;
      const found = await requireNote(ctx, spaceId, key, noteId);
      return await def.handler(ctx, without(args, ["spaceId", "key", "noteId"]), found);
    },
  };
}

/** A query of a space: `spaceId, key` plus `args`; the handler gets `{space}`. */
export function spaceQuery<A extends PropertyValidators, R extends Returns>(
  def: Definition<QueryCtx, A, R, InSpace>,
): RegisteredQuery<"public", ObjectType<A & SpaceArgs>, Promise<Infer<R>>> {
  return query(inSpace(def));
}

/** A mutation of a space: `spaceId, key` plus `args`; the handler gets `{space}`. */
export function spaceMutation<A extends PropertyValidators, R extends Returns>(
  def: Definition<MutationCtx, A, R, InSpace>,
): RegisteredMutation<"public", ObjectType<A & SpaceArgs>, Promise<Infer<R>>> {
  return mutation(inSpace(def));
}

/** A query of a note: `spaceId, key, noteId` plus `args`; the handler gets `{space, note}`. */
export function noteQuery<A extends PropertyValidators, R extends Returns>(
  def: Definition<QueryCtx, A, R, InNote>,
): RegisteredQuery<"public", ObjectType<A & NoteArgs>, Promise<Infer<R>>> {
  return query(inNote(def));
}

/** A mutation of a note: `spaceId, key, noteId` plus `args`; the handler gets `{space, note}`. */
export function noteMutation<A extends PropertyValidators, R extends Returns>(
  def: Definition<MutationCtx, A, R, InNote>,
): RegisteredMutation<"public", ObjectType<A & NoteArgs>, Promise<Infer<R>>> {
  return mutation(inNote(def));
}
