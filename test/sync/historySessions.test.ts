import { describe, expect, it } from "vitest";
import { authorName, SESSION_PAUSE_MS, SessionGrouper, sessionPage, type EditSession, type RevisionInfo } from "../../sync/historySessions";
import type { Random } from "../../harness/random";
import { seedsToRun, withSeed } from "../../harness/textGen";

const NAMES = ["Ada", "Grace", undefined];

function randomLog(rng: Random, count: number): RevisionInfo[] {
  const rows: RevisionInfo[] = [];
  let at = 1_700_000_000_000;
  for (let rev = 1; rev <= count; rev++) {
    at += rng.chance(0.1) ? SESSION_PAUSE_MS + rng.int(SESSION_PAUSE_MS) : rng.int(SESSION_PAUSE_MS / 20);
    const author = rng.pick(NAMES);
    rows.push({
      rev,
      clientId: `client-${author ?? "anon"}`,
      ...(author === undefined ? {} : { author }),
      // A few old revisions carry no time, as before times were kept.
      ...(rev < 4 && rng.chance(0.5) ? {} : { at }),
      inserted: rng.int(5),
      deleted: rng.int(3),
    });
  }
  return rows;
}

/** Pages through the log newest first as the server does: at most `budget` rows a page. */
function pageThrough(rows: RevisionInfo[], limit: number, budget: number): EditSession[] {
  const out: EditSession[] = [];
  let before: number | null = rows.length + 1;
  while (before !== null) {
    const g = new SessionGrouper();
    const newestFirst = rows.filter((r) => r.rev < (before as number)).reverse();
    let read = 0;
    for (const r of newestFirst) {
      g.add(r);
      read += 1;
      if (g.closed >= limit || read >= budget) break;
    }
    const page = sessionPage(g, read === newestFirst.length, limit);
    expect(page.sessions.length).toBeGreaterThan(0);
    expect(page.sessions.length).toBeLessThanOrEqual(limit);
    out.push(...page.sessions);
    before = page.nextBeforeRev;
  }
  return out;
}

describe("editing sessions", () => {
  it("cover every revision once, newest first, split exactly at pauses, with each author's sizes", () => {
    for (const seed of seedsToRun(200)) {
      withSeed(seed, (rng) => {
        const rows = randomLog(rng, 1 + rng.int(150));
        const limit = 1 + rng.int(6);
        const budget = 1 + rng.int(60);
        const sessions = pageThrough(rows, limit, budget);
        // Contiguous, newest first, all revisions.
        let expectNext = rows.length;
        for (const s of sessions) {
          expect(s.lastRev).toBe(expectNext);
          expectNext = s.firstRev - 1;
          const inside = rows.slice(s.firstRev - 1, s.lastRev);
          expect(s.inserted).toBe(inside.reduce((n, r) => n + (r.inserted ?? 0), 0));
          expect(s.deleted).toBe(inside.reduce((n, r) => n + (r.deleted ?? 0), 0));
          const names = new Set(inside.map(authorName));
          expect(new Set(s.authors.map((a) => a.name))).toEqual(names);
          expect(s.authors.reduce((n, a) => n + a.revisions, 0)).toBe(inside.length);
          // No pause inside a session.
          const times = inside.flatMap((r) => (r.at === undefined ? [] : [r.at]));
          for (let k = 1; k < times.length; k++) expect(times[k]! - times[k - 1]!).toBeLessThan(SESSION_PAUSE_MS);
        }
        expect(expectNext).toBe(0);
        // With room for whole sessions, they end exactly at the pauses and nowhere else.
        const whole = pageThrough(rows, limit, rows.length + 1);
        const cuts = whole.slice(1).map((x) => x.lastRev);
        // Untimed revisions join the session they touch: pauses are between timed neighbours.
        const timed = rows.filter((r) => r.at !== undefined);
        const pauses = timed.flatMap((r, k) => {
          const next = timed[k + 1];
          return next !== undefined && next.at! - r.at! >= SESSION_PAUSE_MS ? [r.rev] : [];
        });
        expect(cuts).toEqual(pauses.reverse());
        // A smaller budget only ever cuts sessions further, never joins across a pause.
        for (const p of pauses) expect(sessions.some((x) => x.lastRev === p)).toBe(true);
      });
    }
  });

  it("two people typing together make one session listing both; a pause starts the next", () => {
    const g = new SessionGrouper();
    const t = 1_000_000;
    const rows: RevisionInfo[] = [
      { rev: 1, clientId: "a", author: "Ada", at: t, inserted: 3, deleted: 0 },
      { rev: 2, clientId: "g", author: "Grace", at: t + 1000, inserted: 2, deleted: 1 },
      { rev: 3, clientId: "a", author: "Ada", at: t + 2000, inserted: 4, deleted: 0 },
      { rev: 4, clientId: "g", author: "Grace", at: t + 2000 + SESSION_PAUSE_MS, inserted: 1, deleted: 0 },
    ];
    for (const r of [...rows].reverse()) g.add(r);
    const page = sessionPage(g, true, 10);
    expect(page.nextBeforeRev).toBeNull();
    expect(page.sessions.map((s) => [s.firstRev, s.lastRev, s.authors.map((a) => a.name)])).toEqual([
      [4, 4, ["Grace"]],
      [1, 3, ["Ada", "Grace"]],
    ]);
    expect(page.sessions[1]).toMatchObject({ start: t, end: t + 2000, inserted: 9, deleted: 1 });
    expect(page.sessions[1]!.authors[0]).toEqual({ name: "Ada", inserted: 7, deleted: 0, revisions: 2 });
  });

  it("refuses revisions out of order", () => {
    const g = new SessionGrouper();
    g.add({ rev: 5, clientId: "a" });
    expect(() => g.add({ rev: 6, clientId: "a" })).toThrow(/newest first/);
  });

  it("names a revision without an author by its client", () => {
    expect(authorName({ clientId: "0123456789abcdef" })).toBe("someone (01234567)");
    expect(authorName({ clientId: "x", author: "  Ada " })).toBe("Ada");
  });
});
