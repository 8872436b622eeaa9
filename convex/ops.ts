import type { PaginationResult } from "convex/server";
import { v } from "convex/values";
import { checksum } from "../sync/checksum";
import { OVER_BUDGET, runStepAsync, serverStep, opWeight } from "../sync/serverStep";
import { apply, type TextOp } from "../sync/textOp";
import { internal } from "./_generated/api";
import type { Doc } from "./_generated/dataModel";
import { internalMutation } from "./_generated/server";
import { noteMutation, noteQuery } from "./access";
import { fail } from "./errors";
import {
  COMPACT_BATCH,
  MAX_NAME_LENGTH,
  MAX_NOTE_BYTES,
  MAX_OP_BYTES,
  MAX_PRIOR,
  MAX_RANGE_REVS,
  RANGE_BYTES,
  OPS_RETAIN_MS,
  SINCE_BATCH,
  SINCE_BYTES,
  TRANSFORM_BYTES,
  TRANSFORM_WINDOW,
  checkClientId,
  opBytes,
  utf8Bytes,
} from "./limits";
import { headForWrite, readHead, snapshotDue, textAt } from "./noteStore";
import { opValidator, rangeResultValidator, sinceResultValidator, submitResultValidator, type SinceOp } from "./schema";

function checkRevision(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    fail("INVALID_ARGUMENT", `${name} must be a whole number ≥ 0, not ${value}.`);
  }
}

/** A row of the op log as clients receive it (`op` is the row's body, known to be kept). */
function logOp(row: Doc<"ops">, op: SinceOp["op"]): SinceOp {
  const sent: SinceOp = { rev: row.rev, clientId: row.clientId, seq: row.seq, op };
  return row.checksum === undefined ? sent : { ...sent, checksum: row.checksum };
}

/** Code units an op inserts and deletes (kept per revision for note history). */
function sizes(op: TextOp): { inserted: number; deleted: number; insertedBytes: number } {
  let inserted = 0;
  let deleted = 0;
  let insertedBytes = 0;
  for (const c of op) {
    if (typeof c === "string") {
      inserted += c.length;
      insertedBytes += utf8Bytes(c);
    } else if (c < 0) deleted -= c;
  }
  return { inserted, deleted, insertedBytes };
}

/**
 * Appends an op made against revision `baseRev` as revision head + 1: the Convex adapter
 * of the server step (sync/serverStep.ts), which decides; this reads what it asks for and
 * stores what it decides.
 *
 * Cost: reads the note's small head, the (clientId, seq) index entry and the ops after
 * `baseRev` (usually none or a few); writes one op row and the head. The text is not read:
 * it is materialised as a snapshot every SNAPSHOT_REVS revisions or so, by the submit that
 * crosses the threshold (see convex/noteStore.ts).
 *
 * Answers: `{kind: "applied", rev}` (also for a retry of an applied op: never applied
 * twice), `{kind: "stale", head}` (the base is too old to transform from: catch up and
 * resend). Errors (ConvexError, nothing written): INVALID_OP and TOO_LARGE (the edit can
 * never apply), SEQ_REUSED (this (clientId, seq) is stored as another edit: take a fresh
 * clientId and resend), INVALID_ARGUMENT.
 */
export const submit = noteMutation({
  args: {
    clientId: v.string(),
    seq: v.number(),
    baseRev: v.number(),
    op: opValidator,
    prior: v.optional(v.array(v.object({ seq: v.number(), op: opValidator }))),
    /** The author's display name, kept with the revision for history. */
    author: v.optional(v.string()),
  },
  returns: submitResultValidator,
  handler: async (ctx, args, { note }) => {
    const { clientId, seq, baseRev } = args;
    checkClientId(clientId);
    checkRevision("seq", seq);
    checkRevision("baseRev", baseRev);
    const author = args.author?.trim().slice(0, MAX_NAME_LENGTH) || undefined;
    const prior = args.prior ?? [];
    const size = [args.op, ...prior.map((p) => p.op)].reduce((n, op) => n + opBytes(op), 0);
    if (size > MAX_OP_BYTES) fail("TOO_LARGE", `An op may be at most ${MAX_OP_BYTES} bytes; this one is about ${size}.`);
    for (const p of prior) checkRevision("prior seq", p.seq);

    const earlier = await ctx.db
      .query("ops")
      .withIndex("by_note_client_seq", (q) => q.eq("noteId", note._id).eq("clientId", clientId).eq("seq", seq))
      .first();
    const head = await headForWrite(ctx, note._id);
    if (baseRev > head.rev) {
      fail("INVALID_ARGUMENT", `baseRev ${baseRev} is ahead of the note, whose latest revision is ${head.rev}.`);
    }
    const step = serverStep(
      head,
      { clientId, seq, baseRev, op: args.op, prior },
      earlier,
      { window: TRANSFORM_WINDOW, weight: TRANSFORM_BYTES, prior: MAX_PRIOR },
    );
    // Bounded by the head read above, so a commit racing this one is not part of the read.
    const log = ctx.db
      .query("ops")
      .withIndex("by_note_rev", (q) => q.eq("noteId", note._id).gt("rev", baseRev).lte("rev", head.rev));
    // Read as one page when the step first asks: one database call, where iterating costs
    // one a row. With many typists a submit is often dozens of revisions behind, and that
    // per-row cost grew with the queue, making a busy server busier still.
    let past: PaginationResult<Doc<"ops">> | undefined;
    let read = 0;
    const result = await runStepAsync(step, async () => {
      past ??= await log.paginate({ numItems: head.rev - baseRev, cursor: null, maximumBytesRead: TRANSFORM_BYTES });
      const row = past.page[read++];
      if (row === undefined) return past.isDone ? null : OVER_BUDGET;
      if (row.op === undefined) return null; // compacted: the step sees the log end and says so
      return { clientId: row.clientId, seq: row.seq, op: row.op };
    });
    switch (result.kind) {
      case "duplicate":
        return { kind: "applied" as const, rev: result.rev };
      case "stale":
        return { kind: "stale" as const, head: result.head };
      case "reused":
        return fail(
          "SEQ_REUSED",
          `Client ${clientId}'s edit ${seq} or one sent along with it is stored as revision ${result.rev} with different content; another writer used this client id. Send the edit again under a fresh client id.`,
        );
      case "invalid":
        return fail("INVALID_OP", `${result.reason[0]?.toUpperCase() ?? ""}${result.reason.slice(1)}.`);
      case "applied":
        break;
      default: {
        const never: never = result;
        throw new Error(`unknown step result ${JSON.stringify(never)}`);
      }
    }

    const op = result.op;
    const rev = result.rev;
    const { inserted, deleted, insertedBytes } = sizes(op);
    const length = head.length + inserted - deleted;
    // Deleted text is not read, so its UTF-8 size is not known: every deleted code unit was
    // at least one byte, which keeps `bytes` an upper bound until the next snapshot makes it exact.
    let bytes = Math.max(length, head.bytes + insertedBytes - deleted);
    const sinceSnapshot = head.sinceSnapshot + opWeight(op);
    let text: string | undefined;
    if (bytes > MAX_NOTE_BYTES || snapshotDue(head, rev, sinceSnapshot)) {
      const before = await textAt(ctx, note._id, head.rev);
      if (before === null) throw new Error(`note ${note._id} cannot be read at its head revision ${head.rev}`);
      text = apply(before, op);
      bytes = utf8Bytes(text);
      if (bytes > MAX_NOTE_BYTES) {
        fail("TOO_LARGE", `A note may hold at most ${MAX_NOTE_BYTES} bytes of UTF-8 text; this edit would make it ${bytes}.`);
      }
    }
    const at = Date.now();
    const sum = text === undefined ? undefined : checksum(text);
    await ctx.db.insert("ops", {
      noteId: note._id,
      rev,
      clientId,
      seq,
      op: [...op],
      mark: result.mark,
      ...(sum === undefined ? {} : { checksum: sum }),
      ...(author === undefined ? {} : { author }),
      at,
      bodyAt: at,
      inserted,
      deleted,
    });
    if (text !== undefined && sum !== undefined) {
      await ctx.db.insert("snapshots", { noteId: note._id, rev, text, checksum: sum });
      await ctx.scheduler.runAfter(0, internal.authorship.record, { noteId: note._id, rev });
      await ctx.db.patch("heads", head._id, { rev, length, bytes, snapshotRev: rev, sinceSnapshot: 0 });
    } else {
      await ctx.db.patch("heads", head._id, { rev, length, bytes, sinceSnapshot });
    }
    return { kind: "applied" as const, rev };
  },
});

/**
 * The ops after `afterRev`, in order, as a bounded page (at most SINCE_BATCH ops and about
 * SINCE_BYTES bytes; always at least one op when there is one): how a client catches up
 * after a gap or a reconnect. `head` is the newest revision the answer saw: the note's
 * head, or for a page cut short the first revision after it. Ops that were compacted away
 * answer `{kind: "reload"}`: the client takes the text instead.
 *
 * Only an empty page reads the note's head row, and a page reads the op log only to the
 * row after its last op.
 */
export const since = noteQuery({
  args: { afterRev: v.number() },
  returns: sinceResultValidator,
  handler: async (ctx, { afterRev }, { note }) => {
    checkRevision("afterRev", afterRev);
    const ops: SinceOp[] = [];
    let bytes = 0;
    let next: number | undefined;
    for await (const row of ctx.db.query("ops").withIndex("by_note_rev", (q) => q.eq("noteId", note._id).gt("rev", afterRev))) {
      if (ops.length >= SINCE_BATCH || bytes >= SINCE_BYTES) {
        next = row.rev;
        break;
      }
      if (row.op === undefined) return { kind: "reload" as const, head: (await readHead(ctx, note._id)).rev };
      ops.push(logOp(row, row.op));
      bytes += opBytes(row.op);
    }
    const last = ops[ops.length - 1];
    if (last !== undefined && ops[0]?.rev === afterRev + 1) return { kind: "ops" as const, ops, head: next ?? last.rev };
    const { rev: head } = await readHead(ctx, note._id);
    if (afterRev > head) {
      fail("INVALID_ARGUMENT", `afterRev ${afterRev} is ahead of the note, whose latest revision is ${head}.`);
    }
    if (afterRev === head) return { kind: "ops" as const, ops: [], head };
    // The revisions after afterRev have no rows: they predate the op log (a migrated note).
    return { kind: "reload" as const, head };
  },
});

/**
 * The ops with revisions in (afterRev, throughRev] that exist so far: what a following
 * client watches, a few revisions at a time (sync/followBlocks.ts). It reads only that
 * stretch of the op log, not the note's head, so a range beyond the head is re-run only
 * when an op lands in it: clients watch ranges ahead of the log at no cost until then.
 * Ops compacted away, or more than RANGE_BYTES of them, answer "reload": take the text.
 */
export const range = noteQuery({
  args: { afterRev: v.number(), throughRev: v.number() },
  returns: rangeResultValidator,
  handler: async (ctx, { afterRev, throughRev }, { note }) => {
    checkRevision("afterRev", afterRev);
    checkRevision("throughRev", throughRev);
    if (throughRev <= afterRev || throughRev - afterRev > MAX_RANGE_REVS) {
      fail("INVALID_ARGUMENT", `throughRev must be 1 to ${MAX_RANGE_REVS} revisions after afterRev (${afterRev}), not ${throughRev}.`);
    }
    const ops: SinceOp[] = [];
    let bytes = 0;
    const rows = ctx.db.query("ops").withIndex("by_note_rev", (q) => q.eq("noteId", note._id).gt("rev", afterRev).lte("rev", throughRev));
    for await (const row of rows) {
      if (row.op === undefined || bytes > RANGE_BYTES) return { kind: "reload" as const };
      ops.push(logOp(row, row.op));
      bytes += opBytes(row.op);
    }
    return { kind: "ops" as const, ops };
  },
});

/**
 * Drops the bodies of ops older than OPS_RETAIN_MS that lie behind a snapshot, keeping the
 * row (who wrote the revision, when, how much). Runs from crons.ts and reschedules itself
 * while a full batch was found, so each run stays small.
 */
export const compact = internalMutation({
  args: {},
  returns: v.object({ compacted: v.number() }),
  handler: async (ctx) => {
    const cutoff = Date.now() - OPS_RETAIN_MS;
    const rows = await ctx.db
      .query("ops")
      .withIndex("by_body_at", (q) => q.gt("bodyAt", 0).lt("bodyAt", cutoff))
      .take(COMPACT_BATCH);
    const latestSnapshot = new Map<string, number>();
    let compacted = 0;
    for (const row of rows) {
      let snap = latestSnapshot.get(row.noteId);
      if (snap === undefined) {
        const s = await ctx.db
          .query("snapshots")
          .withIndex("by_note_rev", (q) => q.eq("noteId", row.noteId))
          .order("desc")
          .first();
        snap = s?.rev ?? 0;
        latestSnapshot.set(row.noteId, snap);
      }
      // Ops after the latest snapshot are how the head text is read: never compact those.
      if (row.rev <= snap) {
        await ctx.db.patch("ops", row._id, { op: undefined, bodyAt: undefined, mark: undefined });
        compacted += 1;
      }
    }
    if (rows.length === COMPACT_BATCH && compacted > 0) await ctx.scheduler.runAfter(0, internal.ops.compact, {});
    return { compacted };
  },
});

/** The note's text at revision `rev` (for history); null when that revision is no longer kept. */
export const textAtRevision = noteQuery({
  args: { rev: v.number() },
  returns: v.union(v.string(), v.null()),
  handler: async (ctx, { rev }, { note }) => {
    checkRevision("rev", rev);
    const head = await readHead(ctx, note._id);
    if (rev > head.rev) fail("INVALID_ARGUMENT", `Revision ${rev} is ahead of the note, whose latest revision is ${head.rev}.`);
    return await textAt(ctx, note._id, rev);
  },
});

/** Who wrote each revision up to `beforeRev` (newest first, at most `limit`): the history's list. */
export const revisions = noteQuery({
  args: { beforeRev: v.optional(v.number()), limit: v.optional(v.number()) },
  returns: v.array(
    v.object({
      rev: v.number(),
      clientId: v.string(),
      author: v.optional(v.string()),
      at: v.optional(v.number()),
      inserted: v.optional(v.number()),
      deleted: v.optional(v.number()),
    }),
  ),
  handler: async (ctx, { beforeRev, limit }, { note }) => {
    const n = Math.max(1, Math.min(200, Math.floor(limit ?? 50)));
    const rows = await ctx.db
      .query("ops")
      .withIndex("by_note_rev", (q) => (beforeRev === undefined ? q.eq("noteId", note._id) : q.eq("noteId", note._id).lt("rev", beforeRev)))
      .order("desc")
      .take(n);
    return rows.map((r) => ({
      rev: r.rev,
      clientId: r.clientId,
      ...(r.author === undefined ? {} : { author: r.author }),
      ...(r.at === undefined ? {} : { at: r.at }),
      ...(r.inserted === undefined ? {} : { inserted: r.inserted }),
      ...(r.deleted === undefined ? {} : { deleted: r.deleted }),
    }));
  },
});
