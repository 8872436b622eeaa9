import { v } from "convex/values";
import { checksum } from "../sync/checksum";
import { Rebase } from "../sync/rebase";
import { apply, checkOp, OpError, type TextOp } from "../sync/textOp";
import { mutation, query } from "./_generated/server";
import { requireNote, requireText } from "./access";
import { fail } from "./errors";
import {
  CATCH_UP_WINDOW,
  MAX_NOTE_BYTES,
  MAX_OP_BYTES,
  MAX_PRIOR,
  SINCE_BATCH,
  SINCE_BYTES,
  TRANSFORM_BYTES,
  TRANSFORM_WINDOW,
  checkClientId,
  opBytes,
  utf8Bytes,
} from "./limits";
import { opValidator, sinceResultValidator, submitResultValidator, type SinceOp } from "./schema";

function checkRevision(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    fail("INVALID_ARGUMENT", `${name} must be a whole number ≥ 0, not ${value}.`);
  }
}

/**
 * Appends an op made against revision `baseRev` as revision head + 1.
 *
 * The server is the sequencer: the op is transformed past every op after `baseRev` (in rev
 * order, with the same author tie-break the clients use), checked against the current text,
 * applied, and stored as transformed, so every client replays the same log.
 *
 * A client may have several ops in flight; `prior` carries its earlier unconfirmed ones
 * as it holds them at `baseRev`, so the server can do exactly what the client does when
 * it moves them past the same ops (sync/rebase.ts). An op made on top of an earlier one
 * that never arrived (it was refused) gets `stale`, like a base too old.
 *
 * `(clientId, seq)` is looked up first: a retry of an op that was applied (say, its answer
 * was lost with the connection) gets the same answer and is never applied twice.
 *
 * Problems in the op itself (malformed, not fitting the text, too large, or making the note
 * too large) are ConvexErrors and write nothing. A base too old to transform from is not an
 * error but an answer, `{kind: "stale", head}`: the client reloads and rebases its edits.
 */
export const submit = mutation({
  args: {
    spaceId: v.string(),
    key: v.string(),
    noteId: v.string(),
    clientId: v.string(),
    seq: v.number(),
    baseRev: v.number(),
    op: opValidator,
    prior: v.optional(v.array(v.object({ seq: v.number(), op: opValidator }))),
  },
  returns: submitResultValidator,
  handler: async (ctx, args) => {
    const { note } = await requireNote(ctx, args.spaceId, args.key, args.noteId);
    const { clientId, seq, baseRev } = args;
    checkClientId(clientId);
    checkRevision("seq", seq);
    checkRevision("baseRev", baseRev);

    // Structure first (cheap, needs no reads): a malformed op gets its own sentence.
    const shape = checkOp(args.op);
    if (shape !== undefined) fail("INVALID_OP", `The op is malformed: ${shape}.`);
    const prior = args.prior ?? [];
    if (prior.length > MAX_PRIOR) fail("INVALID_ARGUMENT", `At most ${MAX_PRIOR} earlier ops may travel with an op; these are ${prior.length}.`);
    for (const [i, p] of prior.entries()) {
      checkRevision("prior seq", p.seq);
      const problem = checkOp(p.op);
      if (problem !== undefined) fail("INVALID_OP", `Earlier op ${i} is malformed: ${problem}.`);
    }
    const size = [args.op, ...prior.map((p) => p.op)].reduce((n, op) => n + opBytes(op), 0);
    if (size > MAX_OP_BYTES) fail("TOO_LARGE", `An op may be at most ${MAX_OP_BYTES} bytes; this one is about ${size}.`);

    const earlier = await ctx.db
      .query("ops")
      .withIndex("by_note_client_seq", (q) => q.eq("noteId", note._id).eq("clientId", clientId).eq("seq", seq))
      .first();
    if (earlier !== null) return { kind: "applied" as const, rev: earlier.rev, checksum: earlier.checksum };

    const body = await requireText(ctx, note);
    const head = body.rev;
    if (baseRev > head) {
      fail("INVALID_ARGUMENT", `baseRev ${baseRev} is ahead of the note, whose latest revision is ${head}.`);
    }
    if (head - baseRev > TRANSFORM_WINDOW) return { kind: "stale" as const, head };

    const rebase = new Rebase(clientId, prior, args.op);
    let read = 0;
    let seen = 0;
    // Iterated, not taken: ops are read one by one so the byte budget can stop the read
    // early. The count is bounded by the window: there are exactly head - baseRev of them.
    for await (const past of ctx.db
      .query("ops")
      .withIndex("by_note_rev", (q) => q.eq("noteId", note._id).gt("rev", baseRev))) {
      read += opBytes(past.op);
      if (read > TRANSFORM_BYTES) return { kind: "stale" as const, head };
      try {
        rebase.past(past);
      } catch (e) {
        if (e instanceof OpError) fail("INVALID_OP", `The op does not fit revision ${baseRev}: ${e.message}.`);
        throw e;
      }
      seen += 1;
      if (seen >= head - baseRev) break;
    }
    const op: TextOp | undefined = rebase.result();
    if (op === undefined) return { kind: "stale" as const, head };

    const fit = checkOp(op, body.text);
    if (fit !== undefined) {
      fail("INVALID_OP", `The op does not fit ${seen === 0 ? `revision ${baseRev}` : "the note"}: ${fit}.`);
    }
    const text = apply(body.text, op);
    const bytes = utf8Bytes(text);
    if (bytes > MAX_NOTE_BYTES) {
      fail("TOO_LARGE", `A note may hold at most ${MAX_NOTE_BYTES} bytes of UTF-8 text; this edit would make it ${bytes}.`);
    }

    const rev = head + 1;
    const sum = checksum(text);
    await ctx.db.insert("ops", { noteId: note._id, rev, clientId, seq, op: [...op], checksum: sum });
    await ctx.db.patch("texts", body._id, { text, rev, checksum: sum });
    return { kind: "applied" as const, rev, checksum: sum };
  },
});

/**
 * The ops after `afterRev`, in order, as a bounded batch (at most SINCE_BATCH ops and about
 * SINCE_BYTES bytes, always at least one op when there is one), with the head revision.
 * A client subscribes with the rev it has and moves `afterRev` forward as it applies ops,
 * so results stay small. Further behind than CATCH_UP_WINDOW it gets `{kind: "reload"}`.
 *
 * The head comes from the newest op rather than the text document, so this query never
 * reads the (up to 1 MB) text; it re-runs on every new op of the note, which it must anyway.
 */
export const since = query({
  args: { spaceId: v.string(), key: v.string(), noteId: v.string(), afterRev: v.number() },
  returns: sinceResultValidator,
  handler: async (ctx, args) => {
    const { note } = await requireNote(ctx, args.spaceId, args.key, args.noteId);
    const { afterRev } = args;
    checkRevision("afterRev", afterRev);
    const newest = await ctx.db
      .query("ops")
      .withIndex("by_note_rev", (q) => q.eq("noteId", note._id))
      .order("desc")
      .first();
    // A note starts at revision 0 with no ops, and every op adds exactly one revision.
    const head = newest?.rev ?? 0;
    if (afterRev > head) {
      fail("INVALID_ARGUMENT", `afterRev ${afterRev} is ahead of the note, whose latest revision is ${head}.`);
    }
    if (head - afterRev > CATCH_UP_WINDOW) return { kind: "reload" as const, head };

    const ops: SinceOp[] = [];
    if (afterRev === head) return { kind: "ops" as const, ops, head };
    let bytes = 0;
    // Iterated with explicit count and byte bounds (see submit for why not take()).
    for await (const row of ctx.db
      .query("ops")
      .withIndex("by_note_rev", (q) => q.eq("noteId", note._id).gt("rev", afterRev))) {
      ops.push({ rev: row.rev, clientId: row.clientId, seq: row.seq, op: row.op, checksum: row.checksum });
      bytes += opBytes(row.op);
      if (ops.length >= SINCE_BATCH || bytes >= SINCE_BYTES || row.rev >= head) break;
    }
    return { kind: "ops" as const, ops, head };
  },
});
