import { fail } from "./errors";

/**
 * Every limit the Convex functions enforce, in one place, with the reason for each number.
 *
 * The hard ceilings come from Convex itself (the same on cloud, self-hosted and our local
 * backend): a document may be at most 1 MiB, and one query or mutation may read or write at
 * most 16 MiB and 32,000 documents. Everything below keeps each function well inside those,
 * so a user meets one of our clear errors instead of a platform failure.
 */

/** Most UTF-8 bytes a note's text may have: the text sits in one document, which Convex caps at 1 MiB (1,048,576 bytes), and the rest of that document needs a little room. */
export const MAX_NOTE_BYTES = 1_000_000;

/**
 * Most bytes one op may weigh (see `opBytes`). An op is stored as one document too; this
 * leaves room for its other fields under 1 MiB, and still lets a whole note's worth of text
 * be pasted in one op.
 */
export const MAX_OP_BYTES = 1_020_000;

/** Most earlier ops that may travel with a submission: a client keeps at most 8 in flight. */
export const MAX_PRIOR = 16;

/** Longest note title, in UTF-16 code units. Titles show in lists and tabs and address notes in the CLI. */
export const MAX_TITLE_LENGTH = 200;

/**
 * Most notes in one space. `notes:list` returns them all in one bounded read; a cap keeps
 * that read small (note documents hold only a title) and the list always complete.
 */
export const MAX_NOTES_PER_SPACE = 1000;

/**
 * How many revisions a submit may be behind the head and still be transformed. Past it the
 * client is told to reload (`{kind: "stale"}`): transforming thousands of ops in one mutation
 * would be slow, and a client that far behind is better served by a fresh copy.
 */
export const TRANSFORM_WINDOW = 1000;

/** Most bytes of past ops a submit reads while transforming; beyond it the submit is stale. Keeps the mutation far below Convex's 16 MiB read limit even when the window holds large pastes. */
export const TRANSFORM_BYTES = 8 * 1024 * 1024;

/** Most ops one `ops:since` batch returns: small enough for a quick answer on a slow link. */
export const SINCE_BATCH = 256;

/** Most bytes of ops one `ops:since` batch carries (at least one op is always returned). */
export const SINCE_BYTES = 2 * 1024 * 1024;

/**
 * How far behind (in revisions) `ops:since` still answers with ops. Further behind, the
 * client reloads the text (at most 1 MB) instead of replaying a long tail. The same number
 * as the transform window, so "you must reload" means the same thing in both functions.
 */
export const CATCH_UP_WINDOW = TRANSFORM_WINDOW;

/** Client ids are chosen by clients; they only need to be unique per client and short. */
export const MAX_CLIENT_ID_LENGTH = 64;

/** Display names in presence. */
export const MAX_NAME_LENGTH = 64;

/** Selections per presence entry (multi-cursor editing rarely needs more). */
export const MAX_SELECTIONS = 100;

/** A presence entry not refreshed for this long is left out of `presence:list`. Clients heartbeat every few seconds. */
export const PRESENCE_STALE_MS = 20_000;

/** Entries older than this are deleted by later `presence:update` calls of the same note. */
export const PRESENCE_PURGE_MS = 60_000;

/** Stale presence rows deleted per `presence:update` (bounded work per heartbeat). */
export const PRESENCE_PURGE_BATCH = 4;

/** Most live presence entries `presence:list` returns. */
export const MAX_PRESENCE_LISTED = 100;

/** Rows (ops, presence) deleted per `notes:remove` call; the caller loops until done. */
export const REMOVE_BATCH = 1000;

/** Space keys: 32 random bytes in base64url (43 characters) or longer, made by the client. */
export const MIN_KEY_LENGTH = 43;
export const MAX_KEY_LENGTH = 128;

/** UTF-8 length of a string, without allocating an encoded copy. */
export function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/**
 * An upper bound on the bytes an op takes in a document: its inserted text plus a generous
 * allowance per component for Convex's encoding of array items and numbers.
 */
export function opBytes(op: readonly (number | string)[]): number {
  let n = 0;
  for (const c of op) n += typeof c === "string" ? utf8Bytes(c) + 8 : 16;
  return n;
}

/** True when `s` has a UTF-16 surrogate without its partner (text no editor can show or save). */
export function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
      else return true;
    } else if (c >= 0xdc00 && c <= 0xdfff) return true;
  }
  return false;
}

/** Client ids are chosen by clients; anything short and non-empty will do. */
export function checkClientId(clientId: string): void {
  if (clientId.length === 0 || clientId.length > MAX_CLIENT_ID_LENGTH) {
    fail("INVALID_ARGUMENT", `clientId must be 1 to ${MAX_CLIENT_ID_LENGTH} characters.`);
  }
}
