// Bench only (copied beside the project's functions by bench/history.ts, never deployed):
// appends op rows the way ops:submit stores them, many per transaction, so a note of
// 100,000 revisions is built in minutes. The bench stops one revision short of each
// snapshot: that revision goes through the real ops:submit, which writes the snapshot
// exactly as in use. Imports only packages, so it works wherever it is copied.
import { mutationGeneric } from "convex/server";
import { v } from "convex/values";

export const appendRows = mutationGeneric({
  args: { noteId: v.string(), count: v.number(), author: v.string(), at: v.number(), weight: v.number() },
  returns: v.number(),
  handler: async (ctx, { noteId, count, author, at, weight }) => {
    const head = await ctx.db
      .query("heads")
      .withIndex("by_note", (q) => q.eq("noteId", noteId))
      .unique();
    if (head === null) throw new Error("no head");
    let rev = head.rev as number;
    let length = head.length as number;
    for (let i = 0; i < count; i++) {
      const op = length === 0 ? ["x"] : [length, "x"];
      rev += 1;
      length += 1;
      await ctx.db.insert("ops", { noteId, rev, clientId: "seed", seq: rev, op, author, at: at + i, bodyAt: at + i, inserted: 1, deleted: 0 });
    }
    await ctx.db.patch(head._id, { rev, length, bytes: (head.bytes as number) + count, sinceSnapshot: (head.sinceSnapshot as number) + count * weight });
    return rev;
  },
});
