import { FAR_BLOCK } from "../sync/followBlocks";
import { utf8Bytes } from "../sync/rules";
import { fail } from "./errors";

// Rules shared with the clients (titles, names, colours, text checks) live in sync/rules.ts.
export { hasLoneSurrogate, MAX_NAME_LENGTH, MAX_TITLE_LENGTH, utf8Bytes } from "../sync/rules";

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

/**
 * Most revisions one `ops:range` may span: the largest block a client watches (FAR_BLOCK,
 * sync/followBlocks.ts), and at least 32, the largest block of earlier clients, which must
 * keep working against a newer backend.
 */
export const MAX_RANGE_REVS = Math.max(FAR_BLOCK, 32);

/**
 * Most bytes of ops one `ops:range` reads. Past it the answer is "reload" (take the text):
 * it keeps the query under Convex's 16 MiB read limit however large its ops, and a block
 * of the log that holds this much is rare enough to be served by the text.
 */
export const RANGE_BYTES = 8 * 1024 * 1024;

/** Most bytes of ops one `ops:since` batch carries (at least one op is always returned). */
export const SINCE_BYTES = 2 * 1024 * 1024;

/**
 * A snapshot of the text is taken at least every SNAPSHOT_REVS revisions, so that `open`
 * and "the text at revision r" cost one snapshot and at most this many ops. It is also what
 * makes a keystroke's write cost independent of the note's size: a snapshot of a 1 MB note
 * spread over 2,000 revisions is 500 bytes a keystroke.
 */
export const SNAPSHOT_REVS = 2000;

/**
 * ...and sooner when the ops since the last snapshot weigh more than the text (at least this
 * many bytes), so that `open` never reads much more than twice the text.
 */
export const SNAPSHOT_MIN_WEIGHT = 256 * 1024;

/**
 * Ops older than this, and behind a snapshot, lose their body in compaction (the revision's
 * author, time and sizes stay). A client offline for longer catches up from the text.
 */
export const OPS_RETAIN_MS = 30 * 24 * 60 * 60 * 1000;

/** Op rows compacted per scheduled run; the run schedules the next one while rows remain. */
export const COMPACT_BATCH = 500;

/** spaces:create: per caller, at most this many spaces per window (clear RATE_LIMITED error beyond). */
export const SPACE_CREATE_LIMIT = 20;
/** spaces:create: all callers together, per window: a backstop for callers that change their id. */
export const SPACE_CREATE_GLOBAL_LIMIT = 1000;
export const SPACE_CREATE_WINDOW_MS = 60 * 60 * 1000;

/** Client ids are chosen by clients; they only need to be unique per client and short. */
export const MAX_CLIENT_ID_LENGTH = 64;


/** Selections per presence entry (multi-cursor editing rarely needs more). */
export const MAX_SELECTIONS = 100;

/**
 * How often a client in a note says it is still there (`presence:heartbeat`). Heartbeats
 * are written where `presence:list` does not read, so they cost one small write each and
 * no pushes: 50 idle people make 50 / 15 s ≈ 3.3 writes/s.
 */
export const PRESENCE_HEARTBEAT_MS = 15_000;

/**
 * A client silent this long is removed by the note's scheduled sweep: 2.5 heartbeats, so
 * one lost heartbeat never makes someone blink out (Convex's presence component uses the
 * same factor).
 */
export const PRESENCE_TIMEOUT_MS = PRESENCE_HEARTBEAT_MS * 2.5;

/** A note's sweep this late is taken as lost (e.g. it failed) and the next heartbeat schedules another. */
export const PRESENCE_SWEEP_OVERDUE_MS = 60_000;

/** Presence rows one sweep run removes; a full batch schedules the next run at once. */
export const PRESENCE_SWEEP_BATCH = 100;

/** Most live presence entries `presence:list` returns. */
export const MAX_PRESENCE_LISTED = 100;

/** Rows (ops, presence) deleted per `notes:remove` call; the caller loops until done. */
export const REMOVE_BATCH = 1000;

/** Space keys: 32 random bytes in base64url (43 characters) or longer, made by the client. */
export const MIN_KEY_LENGTH = 43;
export const MAX_KEY_LENGTH = 128;

/**
 * An upper bound on the bytes an op takes in a document: its inserted text plus a generous
 * allowance per component for Convex's encoding of array items and numbers.
 */
export function opBytes(op: readonly (number | string)[]): number {
  let n = 0;
  for (const c of op) n += typeof c === "string" ? utf8Bytes(c) + 8 : 16;
  return n;
}

/** Client ids are chosen by clients; anything short and non-empty will do. */
export function checkClientId(clientId: string): void {
  if (clientId.length === 0 || clientId.length > MAX_CLIENT_ID_LENGTH) {
    fail("INVALID_ARGUMENT", `clientId must be 1 to ${MAX_CLIENT_ID_LENGTH} characters.`);
  }
}
