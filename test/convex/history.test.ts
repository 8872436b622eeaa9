// history:* on convex-test with the project's schema: sessions, versions, the revision at a
// time, and authorship carried across snapshots, all read back through the public queries.
import { afterEach, describe, expect, test, vi } from "vitest";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { SNAPSHOT_MIN_WEIGHT } from "../../convex/limits";
import { Authorship, UNKNOWN_AUTHOR } from "../../sync/historyAuthorship";
import { SESSION_PAUSE_MS } from "../../sync/historySessions";
import { apply, type TextOp } from "../../sync/textOp";
import { randomKeystroke } from "../../harness/textGen";
import { seededRandom } from "../../harness/random";
import { backend, expectError, newKey, newSpace, type Backend, type Space } from "./helpers";

afterEach(() => {
  vi.useRealTimers();
});

/** A note and a way to type into it as someone, keeping the expected text of every revision. */
async function typing(initial = "") {
  const t = backend();
  const s = await newSpace(t);
  const noteId = await t.mutation(api.notes.create, { ...s, title: "n", text: initial });
  const texts = [initial];
  const seqs = new Map<string, number>();
  async function type(author: string, op: TextOp): Promise<number> {
    const seq = (seqs.get(author) ?? 0) + 1;
    seqs.set(author, seq);
    const rev = texts.length - 1;
    const r = await t.mutation(api.ops.submit, { ...s, noteId, clientId: `c-${author}`, seq, baseRev: rev, op: [...op], author });
    expect(r).toEqual({ kind: "applied", rev: rev + 1 });
    texts.push(apply(texts[rev] as string, op));
    return rev + 1;
  }
  const text = (): string => texts[texts.length - 1] as string;
  return { t, s, noteId, texts, type, text };
}

function snapshotRevs(t: Backend, noteId: Id<"notes">) {
  return t.run(async (ctx) =>
    (await ctx.db.query("snapshots").withIndex("by_note_rev", (q) => q.eq("noteId", noteId)).take(100)).map((r) => r.rev),
  );
}

function authorshipRevs(t: Backend, noteId: Id<"notes">) {
  return t.run(async (ctx) =>
    (await ctx.db.query("authorship").withIndex("by_note_rev", (q) => q.eq("noteId", noteId)).take(100)).map((r) => r.rev),
  );
}

describe("history", () => {
  test("sessions: two people typing together are one session with both; a pause starts the next", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(1_800_000_000_000);
    const n = await typing();
    await n.type("Ada", ["Hello"]);
    vi.advanceTimersByTime(1000);
    await n.type("Grace", [5, " world"]);
    vi.advanceTimersByTime(SESSION_PAUSE_MS + 1);
    await n.type("Ada", ["Howdy", -5, 6]);
    const page = await n.t.query(api.history.sessions, { ...n.s, noteId: n.noteId });
    expect(page.head).toBe(3);
    expect(page.nextBeforeRev).toBeNull();
    expect(page.sessions).toEqual([
      {
        firstRev: 3,
        lastRev: 3,
        start: 1_800_000_000_000 + 1000 + SESSION_PAUSE_MS + 1,
        end: 1_800_000_000_000 + 1000 + SESSION_PAUSE_MS + 1,
        inserted: 5,
        deleted: 5,
        authors: [{ name: "Ada", inserted: 5, deleted: 5, revisions: 1 }],
      },
      {
        firstRev: 1,
        lastRev: 2,
        start: 1_800_000_000_000,
        end: 1_800_000_001_000,
        inserted: 11,
        deleted: 0,
        authors: [
          { name: "Grace", inserted: 6, deleted: 0, revisions: 1 },
          { name: "Ada", inserted: 5, deleted: 0, revisions: 1 },
        ],
      },
    ]);
  });

  test("sessions page newest first and every revision lands in exactly one page", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(1_800_000_000_000);
    const n = await typing();
    for (let i = 0; i < 7; i++) {
      await n.type(i % 2 === 0 ? "Ada" : "Grace", [n.text().length, `${i}`].filter((c) => c !== 0) as TextOp);
      vi.advanceTimersByTime(SESSION_PAUSE_MS);
    }
    const seen: number[] = [];
    let beforeRev: number | undefined;
    for (;;) {
      const page = await n.t.query(api.history.sessions, { ...n.s, noteId: n.noteId, limit: 3, ...(beforeRev === undefined ? {} : { beforeRev }) });
      expect(page.sessions.length).toBeLessThanOrEqual(3);
      for (const s of page.sessions) seen.push(s.lastRev);
      if (page.nextBeforeRev === null) break;
      beforeRev = page.nextBeforeRev;
    }
    expect(seen).toEqual([7, 6, 5, 4, 3, 2, 1]);
  });

  test("version: the text at every revision, across snapshots, with its author and time", async () => {
    const n = await typing("start\n");
    const { rng, seed } = seededRandom();
    // A paste heavier than SNAPSHOT_MIN_WEIGHT makes the next snapshot due at once.
    await n.type("Ada", [n.text().length, "p".repeat(SNAPSHOT_MIN_WEIGHT + 10)]);
    for (let i = 0; i < 12; i++) await n.type(i % 3 === 0 ? "Grace" : "Ada", randomKeystroke(rng, n.text()));
    expect(await snapshotRevs(n.t, n.noteId)).toEqual([0, 1]);
    for (let rev = 0; rev < n.texts.length; rev++) {
      const v = await n.t.query(api.history.version, { ...n.s, noteId: n.noteId, rev });
      expect(v?.text, `text at revision ${rev} (seed ${seed})`).toBe(n.texts[rev]);
      if (rev > 0) expect(typeof v?.at).toBe("number");
    }
    expect((await n.t.query(api.history.version, { ...n.s, noteId: n.noteId, rev: 1 }))?.author).toBe("Ada");
  });

  test("authorship: who last wrote each range, kept by the scheduled record after a snapshot and carried forward", async () => {
    vi.useFakeTimers();
    const n = await typing("old");
    await n.type("Ada", [3, " Ada"]);
    await n.type("Grace", ["O", -1, 6, " " + "g".repeat(SNAPSHOT_MIN_WEIGHT)]); // makes a snapshot
    await n.type("Ada", [1, "LD", -2, 4 + 1 + SNAPSHOT_MIN_WEIGHT, "!"]);
    expect(await snapshotRevs(n.t, n.noteId)).toEqual([0, 2]);
    const expected = [
      ["O", "Grace"],
      ["LD Ada", "Ada"],
      [" ggggg", "Grace"],
      ["!", "Ada"],
    ];
    const read = async () => {
      const got = await n.t.query(api.history.authorship, { ...n.s, noteId: n.noteId });
      expect(got.rev).toBe(3);
      const spans = Authorship.decode(got).spans();
      expect(spans.at(-1)?.end).toBe(n.text().length);
      return spans.map((x) => [n.text().slice(x.start, x.end).slice(0, 6), x.author]);
    };
    // Before the scheduled record runs, the answer is worked out from the snapshot before.
    expect(await authorshipRevs(n.t, n.noteId)).toEqual([]);
    expect(await read()).toEqual(expected);
    await n.t.finishAllScheduledFunctions(vi.runAllTimers);
    expect(await authorshipRevs(n.t, n.noteId)).toEqual([2]);
    expect(await read()).toEqual(expected);
    // The text "old" was there before anyone typed: its author is not known.
    const first = await n.t.run(async (ctx) => ctx.db.query("authorship").first());
    expect(first?.names).toContain("Grace");
    expect(UNKNOWN_AUTHOR).toBe("");
  });

  test("revisionAt: the latest revision at or before a time; revision 0 before the first edit; null before the note", async () => {
    vi.useFakeTimers();
    vi.setSystemTime(1_800_000_000_000);
    const n = await typing("x");
    vi.advanceTimersByTime(10_000);
    await n.type("Ada", [1, "a"]);
    vi.advanceTimersByTime(10_000);
    await n.type("Ada", [2, "b"]);
    const at = (time: number) => n.t.query(api.history.revisionAt, { ...n.s, noteId: n.noteId, at: time });
    expect(await at(1_800_000_010_000)).toEqual({ rev: 1, at: 1_800_000_010_000 });
    expect(await at(1_800_000_019_999)).toEqual({ rev: 1, at: 1_800_000_010_000 });
    expect((await at(1_900_000_000_000))?.rev).toBe(2);
    expect((await at(1_800_000_005_000))?.rev).toBe(0);
    expect(await at(1_700_000_000_000)).toBeNull();
  });

  test("refuses the wrong key, revisions out of range and bad limits, changing nothing", async () => {
    const n = await typing("a");
    await n.type("Ada", [1, "b"]);
    const wrong = { spaceId: n.s.spaceId, key: newKey(), noteId: n.noteId };
    await expectError(n.t.query(api.history.sessions, wrong), "ACCESS_DENIED");
    await expectError(n.t.query(api.history.version, { ...wrong, rev: 0 }), "ACCESS_DENIED");
    await expectError(n.t.query(api.history.authorship, wrong), "ACCESS_DENIED");
    const other: Space = await newSpace(n.t);
    await expectError(n.t.query(api.history.version, { ...other, noteId: n.noteId, rev: 0 }), "NOT_FOUND");
    expect(await expectError(n.t.query(api.history.version, { ...n.s, noteId: n.noteId, rev: 2 }), "INVALID_ARGUMENT")).toMatch(/ahead of the note/);
    await expectError(n.t.query(api.history.version, { ...n.s, noteId: n.noteId, rev: -1 }), "INVALID_ARGUMENT");
    await expectError(n.t.query(api.history.sessions, { ...n.s, noteId: n.noteId, limit: 0 }), "INVALID_ARGUMENT");
    await expectError(n.t.query(api.history.sessions, { ...n.s, noteId: n.noteId, beforeRev: 5 }), "INVALID_ARGUMENT");
    await expectError(n.t.query(api.history.revisionAt, { ...n.s, noteId: n.noteId, at: Number.NaN }), "INVALID_ARGUMENT");
    expect((await n.t.query(api.history.version, { ...n.s, noteId: n.noteId, rev: 1 }))?.text).toBe("ab");
  });
});
