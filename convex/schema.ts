import { defineSchema, defineTable } from "convex/server";
import { v, type Infer } from "convex/values";

/**
 * An op as stored and sent: retain n > 0, delete n < 0, insert string (see sync/textOp.ts).
 * The validator only fixes the component types; shape and fit are checked by `checkOp`,
 * which gives a sentence saying what is wrong.
 */
export const opValidator = v.array(v.union(v.number(), v.string()));

/** A selection in UTF-16 code units of the text at the presence entry's `rev`. */
export const selectionValidator = v.object({ anchor: v.number(), head: v.number() });

/**
 * The `data` of every ConvexError these functions throw. One shape so clients can switch on
 * `code` and show `message` as is.
 */
export const errorCodeValidator = v.union(
  v.literal("ACCESS_DENIED"),
  v.literal("NOT_FOUND"),
  v.literal("INVALID_OP"),
  v.literal("TOO_LARGE"),
  v.literal("TITLE_TAKEN"),
  v.literal("INVALID_ARGUMENT"),
  // ops:submit: this (clientId, seq) is stored as a different edit; take a fresh clientId and resend.
  v.literal("SEQ_REUSED"),
  // Too many calls of this kind from one caller for now; the message says when to try again.
  v.literal("RATE_LIMITED"),
);
export const errorDataValidator = v.object({ code: errorCodeValidator, message: v.string() });
export type ErrorCode = Infer<typeof errorCodeValidator>;
export type ErrorData = Infer<typeof errorDataValidator>;

/** `ops:submit`'s answer. A retry of an applied op gets the same `applied` answer. */
export const submitResultValidator = v.union(
  v.object({ kind: v.literal("applied"), rev: v.number() }),
  // The base is older than the transform window: reload the note, then resend.
  v.object({ kind: v.literal("stale"), head: v.number() }),
);
export type SubmitResult = Infer<typeof submitResultValidator>;

export const sinceOpValidator = v.object({
  rev: v.number(),
  clientId: v.string(),
  seq: v.number(),
  op: opValidator,
  /** Checksum of the note's text right after this op (sync/checksum.ts), at snapshot revisions. */
  checksum: v.optional(v.string()),
});
export type SinceOp = Infer<typeof sinceOpValidator>;

/**
 * `ops:since`'s answer: the next ops after `afterRev` (a bounded page: `head`, the newest
 * revision the answer saw, is past its last op when there is more), or "reload" when the
 * ops after `afterRev` were compacted away.
 */
export const sinceResultValidator = v.union(
  v.object({ kind: v.literal("ops"), ops: v.array(sinceOpValidator), head: v.number() }),
  v.object({ kind: v.literal("reload"), head: v.number() }),
);
export type SinceResult = Infer<typeof sinceResultValidator>;

/**
 * `ops:range`'s answer: the ops with revisions in (afterRev, throughRev] that exist so far,
 * or "reload" when some of them were compacted away.
 */
export const rangeResultValidator = v.union(
  v.object({ kind: v.literal("ops"), ops: v.array(sinceOpValidator) }),
  v.object({ kind: v.literal("reload") }),
);
export type RangeResult = Infer<typeof rangeResultValidator>;

export const openResultValidator = v.object({
  noteId: v.id("notes"),
  title: v.string(),
  text: v.string(),
  rev: v.number(),
  checksum: v.string(),
});
export type OpenResult = Infer<typeof openResultValidator>;

export const noteSummaryValidator = v.object({ noteId: v.id("notes"), title: v.string() });

/**
 * One collaborator in a note, as stored (with its noteId) and as listed. Only what readers
 * show: liveness lives in `presenceHeartbeats`, so a heartbeat never changes this row.
 */
const presenceFields = {
  clientId: v.string(),
  name: v.string(),
  color: v.string(),
  rev: v.number(),
  selections: v.array(selectionValidator),
};
export const presenceEntryValidator = v.object(presenceFields);
export type PresenceEntry = Infer<typeof presenceEntryValidator>;

export default defineSchema({
  // Only a hash of the key is stored: a database reader cannot join a space with it.
  // `name` is optional only for spaces made before spaces had names (they show DEFAULT_SPACE_NAME).
  spaces: defineTable({ keyHash: v.string(), name: v.optional(v.string()) }),

  // Notes hold only what lists need. The text lives in `texts` so that typing (which
  // rewrites the text on every op) does not invalidate every `notes:list` subscription
  // in the space, and a list never reads megabytes of text.
  notes: defineTable({ spaceId: v.id("spaces"), title: v.string() }).index("by_space_title", [
    "spaceId",
    "title",
  ]),

  // What every submit reads and writes: small, whatever the note's size (sync/serverStep.ts
  // needs the revision and length; the rest decides when to take a snapshot).
  heads: defineTable({
    noteId: v.id("notes"),
    rev: v.number(),
    /** Length of the text at `rev` in UTF-16 code units. */
    length: v.number(),
    /** An upper bound of the text's UTF-8 size (exact at snapshots; see convex/noteStore.ts). */
    bytes: v.number(),
    snapshotRev: v.number(),
    /** Weight (sync/serverStep.ts opWeight) of the ops after snapshotRev. */
    sinceSnapshot: v.number(),
  }).index("by_note", ["noteId"]),

  // The text at some revisions: every SNAPSHOT_REVS revisions at least, more often when the
  // ops since the last one outweigh the text. `open` = latest snapshot + the ops after it.
  snapshots: defineTable({
    noteId: v.id("notes"),
    rev: v.number(),
    text: v.string(),
    checksum: v.string(),
  }).index("by_note_rev", ["noteId", "rev"]),

  // Who last wrote each range of the text at a snapshot revision (sync/historyAuthorship.ts),
  // written by a scheduled convex/authorship.ts:record after the snapshot; only a note's latest is kept.
  authorship: defineTable({ noteId: v.id("notes"), rev: v.number(), names: v.array(v.string()), runs: v.string() }).index(
    "by_note_rev",
    ["noteId", "rev"],
  ),

  // Before snapshots: the text at the head, one per note. Read only to migrate old data.
  texts: defineTable({
    noteId: v.id("notes"),
    text: v.string(),
    rev: v.number(),
    checksum: v.string(),
  }).index("by_note", ["noteId"]),

  // The op log, one row per revision, appended by ops:submit. Rows outlive their op: once
  // older than OPS_RETAIN_MS and behind a snapshot, compaction drops `op` and keeps who
  // wrote the revision, when, and how much it inserted and deleted (for note history).
  ops: defineTable({
    noteId: v.id("notes"),
    rev: v.number(),
    clientId: v.string(),
    seq: v.number(),
    /** The op as transformed by the server (absent once compacted). */
    op: v.optional(opValidator),
    /** sync/serverStep.ts opMark() of the edit as submitted: tells a retry from a reused id. */
    mark: v.optional(v.string()),
    /** Checksum of the text after this op; kept at snapshot revisions (every op, before snapshots). */
    checksum: v.optional(v.string()),
    /** The author's display name, if the client gave one. */
    author: v.optional(v.string()),
    /** Server time of the commit (ms since the epoch). */
    at: v.optional(v.number()),
    /** Code units inserted and deleted by the op. */
    inserted: v.optional(v.number()),
    deleted: v.optional(v.number()),
    /** `at` while the op body is kept: what compaction scans (absent once compacted). */
    bodyAt: v.optional(v.number()),
  })
    .index("by_note_rev", ["noteId", "rev"])
    // Makes a retried submit idempotent: (clientId, seq) is looked up before applying.
    .index("by_note_client_seq", ["noteId", "clientId", "seq"])
    .index("by_body_at", ["bodyAt"]),

  // Calls counted per caller and window, for the limits on open doors (spaces:create).
  rateLimits: defineTable({
    name: v.string(),
    caller: v.string(),
    windowStart: v.number(),
    count: v.number(),
  }).index("by_name_caller", ["name", "caller"])
    .index("by_window", ["windowStart"]),

  // What `presence:list` reads: rewritten only when a collaborator joins, moves or leaves.
  // `lastSeen` is only on rows written before heartbeats moved out; the sweep removes them.
  presence: defineTable({ noteId: v.id("notes"), ...presenceFields, lastSeen: v.optional(v.number()) }).index(
    "by_note_client",
    ["noteId", "clientId"],
  ),

  // When each present client was last heard from (server time). `presence:list` never
  // reads it, so heartbeats re-run no subscription.
  presenceHeartbeats: defineTable({ noteId: v.id("notes"), clientId: v.string(), lastSeen: v.number() })
    .index("by_note_client", ["noteId", "clientId"])
    .index("by_note_last_seen", ["noteId", "lastSeen"]),

  // A note's one pending sweep (the scheduled removal of silent clients): `round` names the
  // scheduled run that is current, `due` when it should run.
  presenceSweeps: defineTable({ noteId: v.id("notes"), round: v.number(), due: v.number() }).index("by_note", [
    "noteId",
  ]),

  // A note being removed whose ops or presence rows are not all deleted yet: lets later
  // `notes:remove` calls finish the job (and check the space) after the note is gone.
  removals: defineTable({ spaceId: v.id("spaces"), noteId: v.id("notes") }).index("by_note", [
    "noteId",
  ]),
});
