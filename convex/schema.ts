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
);
export const errorDataValidator = v.object({ code: errorCodeValidator, message: v.string() });
export type ErrorCode = Infer<typeof errorCodeValidator>;
export type ErrorData = Infer<typeof errorDataValidator>;

/** `ops:submit`'s answer. A retry of an applied op gets the same `applied` answer. */
export const submitResultValidator = v.union(
  v.object({ kind: v.literal("applied"), rev: v.number(), checksum: v.string() }),
  // The base is older than the transform window: reload the note, then resend.
  v.object({ kind: v.literal("stale"), head: v.number() }),
);
export type SubmitResult = Infer<typeof submitResultValidator>;

export const sinceOpValidator = v.object({
  rev: v.number(),
  clientId: v.string(),
  seq: v.number(),
  op: opValidator,
  /** Checksum of the note's text right after this op (sync/checksum.ts). */
  checksum: v.string(),
});
export type SinceOp = Infer<typeof sinceOpValidator>;

/** `ops:since`'s answer: the next ops after `afterRev`, or "too far behind, reload". */
export const sinceResultValidator = v.union(
  v.object({ kind: v.literal("ops"), ops: v.array(sinceOpValidator), head: v.number() }),
  v.object({ kind: v.literal("reload"), head: v.number() }),
);
export type SinceResult = Infer<typeof sinceResultValidator>;

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

  // The materialized text at the head revision, one per note.
  texts: defineTable({
    noteId: v.id("notes"),
    text: v.string(),
    rev: v.number(),
    checksum: v.string(),
  }).index("by_note", ["noteId"]),

  // The op log: the op that made revision `rev`, as transformed by the server.
  ops: defineTable({
    noteId: v.id("notes"),
    rev: v.number(),
    clientId: v.string(),
    seq: v.number(),
    op: opValidator,
    checksum: v.string(),
  })
    .index("by_note_rev", ["noteId", "rev"])
    // Makes a retried submit idempotent: (clientId, seq) is looked up before applying.
    .index("by_note_client_seq", ["noteId", "clientId", "seq"]),

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
