// Where a client's `ops:since` subscription starts. Convex re-sends a query's whole result
// whenever it changes, and runs one query per distinct (function, args): so the window
// should hold few ops (each push carries about the new op), and clients that are caught up
// should ask for the same window (one re-run per commit serves them all). A window that
// moved after every revision was shared only by clients at exactly the same revision, and
// cost every client a subscription change per revision.
//
// So windows start at multiples of FOLLOW_STEP and move once they hold FOLLOW_STEP ops:
// every push carries 1..FOLLOW_STEP ops (1.5 on average for single-op commits), and
// every caught-up client watches one of at most two windows. A client that lags (its
// window came full) is at its own revision, so it moves on a coarser grid, CATCH_UP_STEP:
// laggers within one stretch of the log share a window too. And it asks for the server's
// whole batch while it lags: a lagger that fetched FOLLOW_LIMIT ops per round trip caught
// up barely faster than a busy note grew, and the further behind it was, the more every
// edit it sent cost the server to transform.
import type { LogPage } from "./syncDriver";

/** Revisions a window may hold before its client moves on to a new one. */
export const FOLLOW_STEP = 2;

/**
 * Most ops a caught-up client's window delivers at once. A window that fills up is not
 * re-run by later commits (they land beyond what it read), so a client that falls behind
 * costs the server one page per move rather than a re-run of its whole lag on every
 * commit; it then catches up a whole batch (`ops:since`'s largest page) per round trip.
 */
export const FOLLOW_LIMIT = 32;

/** The grid a lagging client's windows start on. */
export const CATCH_UP_STEP = FOLLOW_LIMIT / 2;

/**
 * The start of the next window, or undefined to keep the current one. `current` is the
 * window's start (-1 before the first), `rev` the revision the client holds, `page` what
 * the window just pushed (absent for the first subscription).
 *
 * A window starting below `rev` re-sends revisions the client has (it ignores them as
 * duplicates), so it may start there only when this window just delivered those same
 * revisions: they are kept op by op. After a reload or a recovery the client's revision
 * may have come from elsewhere, and older ops may no longer be kept (`kind: "reload"`),
 * so the window then starts exactly at `rev`.
 */
export function nextWindowStart(current: number, rev: number, page?: LogPage): number | undefined {
  if (current === rev) return undefined;
  if (current < 0 || page === undefined) return rev;
  if (page.kind === "reload") return rev;
  if (rev - current < FOLLOW_STEP) return undefined;
  const first = page.ops[0]?.rev;
  const last = page.ops[page.ops.length - 1]?.rev;
  const aligned = rev - (rev % (lagging(page) ? CATCH_UP_STEP : FOLLOW_STEP));
  const delivered = first !== undefined && last !== undefined && first <= aligned + 1 && last >= rev;
  return delivered && aligned > current ? aligned : rev;
}

/** The window pushed a page cut short: the note is further ahead, and the client lags. */
export function lagging(page?: LogPage): boolean {
  if (page?.kind !== "ops") return false;
  const last = page.ops[page.ops.length - 1]?.rev;
  return last !== undefined && page.head > last;
}
