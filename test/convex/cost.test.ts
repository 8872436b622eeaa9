/**
 * What a keystroke costs through the real functions: documents and bytes read and written
 * by ops:submit (as convex-test's per-transaction accounting counts them, the same sizes
 * Convex bills), and what each follower is pushed. Issue 11's targets: bytes written per
 * keystroke ≤ 1 KB amortised whatever the note's size, and a push ≤ 2× the op's encoded
 * size plus a small constant.
 */
import { TransactionMetricsTracker } from "convex-test/dist/transactionMetrics.js";
import { afterAll, describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { SNAPSHOT_REVS } from "../../convex/limits";
import { backend, newSpace } from "./helpers";

interface Usage {
  docsRead: number;
  bytesRead: number;
  docsWritten: number;
  bytesWritten: number;
}

let usage: Usage = { docsRead: 0, bytesRead: 0, docsWritten: 0, bytesWritten: 0 };
// Counts every document a function reads or writes, on top of convex-test's own accounting.
const proto = TransactionMetricsTracker.prototype as unknown as {
  trackRead(bytes: number): void;
  trackWrite(bytes: number): void;
};
const { trackRead, trackWrite } = proto;
proto.trackRead = function (bytes: number) {
  usage.docsRead += 1;
  usage.bytesRead += bytes;
  trackRead.call(this, bytes);
};
proto.trackWrite = function (bytes: number) {
  usage.docsWritten += 1;
  usage.bytesWritten += bytes;
  trackWrite.call(this, bytes);
};
afterAll(() => {
  proto.trackRead = trackRead;
  proto.trackWrite = trackWrite;
});

async function measured<T>(call: () => Promise<T>): Promise<{ result: T; used: Usage }> {
  usage = { docsRead: 0, bytesRead: 0, docsWritten: 0, bytesWritten: 0 };
  const result = await call();
  return { result, used: { ...usage } };
}

const KEYSTROKES = 40;
const rows: string[] = [];

describe("cost of a keystroke", () => {
  for (const size of [10_000, 100_000, 990_000]) {
    test(`in a ${size.toLocaleString("en")}-byte note: O(edit) writes and reads, pushes of about the op`, async () => {
      const t = backend();
      const s = await newSpace(t);
      const noteId: Id<"notes"> = await t.mutation(api.notes.create, { ...s, title: "n", text: "a".repeat(size) });
      const auth = { ...s, noteId };
      // Put the next snapshot inside the measured keystrokes, so its cost is measured too.
      await t.run(async (ctx) => {
        const head = await ctx.db
          .query("heads")
          .withIndex("by_note", (q) => q.eq("noteId", noteId))
          .unique();
        if (head) await ctx.db.patch("heads", head._id, { snapshotRev: head.rev - SNAPSHOT_REVS + KEYSTROKES / 2 });
      });

      const plain: Usage[] = [];
      let snapshot: Usage | undefined;
      let pushed = 0;
      let opBytes = 0;
      let length = size;
      for (let k = 0; k < KEYSTROKES; k++) {
        const at = Math.floor(length / 2);
        const op = [at, "x", length - at];
        const { result, used } = await measured(() =>
          t.mutation(api.ops.submit, { ...auth, clientId: "typist", seq: k + 1, baseRev: k, op, author: "Ann" }),
        );
        expect(result).toEqual({ kind: "applied", rev: k + 1 });
        length += 1;
        if (used.docsWritten > 2) snapshot = used;
        else plain.push(used);
        // A follower subscribed after rev k is pushed the new op; it then moves its
        // subscription to rev k + 1, whose first answer is the empty page.
        const update = await t.query(api.ops.since, { ...auth, afterRev: k });
        const moved = await t.query(api.ops.since, { ...auth, afterRev: k + 1 });
        if (update.kind !== "ops" || update.ops.length !== 1) throw new Error("expected the one new op");
        pushed += JSON.stringify(update).length + JSON.stringify(moved).length;
        opBytes += JSON.stringify(update.ops[0]).length;
      }
      if (snapshot === undefined) throw new Error("no snapshot was taken while measuring");
      const avg = (f: (u: Usage) => number): number => plain.reduce((n, u) => n + f(u), 0) / plain.length;
      // The snapshot writes the whole text once per SNAPSHOT_REVS revisions (counted as at
      // least the text's length, whatever the accounting says about long strings).
      const snapshotBytes = Math.max(snapshot.bytesWritten, length);
      const written = avg((u) => u.bytesWritten) + snapshotBytes / SNAPSHOT_REVS;
      const read = avg((u) => u.bytesRead) + snapshot.bytesRead / SNAPSHOT_REVS;
      const push = pushed / KEYSTROKES;
      const op = opBytes / KEYSTROKES;
      rows.push(
        `${size.toLocaleString("en").padStart(9)} B note: written ${written.toFixed(0)} B/keystroke (${avg((u) => u.docsWritten).toFixed(1)} docs; snapshot ${snapshotBytes} B every ${SNAPSHOT_REVS} revs), ` +
          `read ${read.toFixed(0)} B (${avg((u) => u.docsRead).toFixed(1)} docs), pushed ${push.toFixed(0)} B per follower (op ${op.toFixed(0)} B)`,
      );
      expect(written).toBeLessThanOrEqual(1024);
      expect(avg((u) => u.bytesRead)).toBeLessThanOrEqual(2048);
      expect(push).toBeLessThanOrEqual(2 * op + 120);
    }, 120_000);
  }

  afterAll(() => {
    console.log(`ops:submit per keystroke, amortised over ${SNAPSHOT_REVS} revisions (npx vitest run test/convex/cost.test.ts):\n  ${rows.join("\n  ")}`);
  });
});
