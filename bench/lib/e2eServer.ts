/**
 * The server side of bench/e2e.mjs (loaded through scripts/run-ts.mjs): the local backend
 * with timestamps, the delaying proxy, and the hop breakdown of each key from Alice's
 * keydown to Bob's screen. The two pages stamp with Date.now(), the server with the
 * monotonic clock; `wallMinusMono` joins them.
 */
import type { Hop } from "./breakdown";
import type { ServerTrace } from "./serverTrace";

export { startTracedBackend, takeServerTrace } from "./tracedBackend";
export { TcpProxy } from "../../harness/tcpProxy";
export { wallMinusMono } from "./clock";
export { printHops } from "./breakdown";

const SUBMIT = /^ops(\.js)?:submit$/;
// Any query of the ops module counts as carrying revisions (its name may change; presence is another module).
const OPS_QUERY = /^ops(\.js)?:/;

/**
 * For each key (Alice's keydown and Bob's first render that shows it, both wall-clock ms):
 * the first submission the server reads after the keydown, its run and COMMIT, and the
 * first push of a revision to Bob's connection after that commit. Matched by time: the
 * keys are typed far enough apart (100 ms) for each to travel alone.
 */
export function e2eHops(keys: Array<{ down: number; shown: number }>, trace: ServerTrace, offset: number): { hops: Hop[]; missing: number } {
  const wall = (mono: number): number => mono + offset;
  const submits = trace.frames.filter((f) => f.dir === "in" && f.type === "Mutation" && SUBMIT.test(f.udfPath ?? ""));
  const typingConns = new Set(submits.map((f) => f.conn));
  // Revision pushes: Transitions updating a query of the ops module, to a connection that does not type.
  const pushes = trace.frames.filter(
    (f) => f.dir === "out" && f.type === "Transition" && !typingConns.has(f.conn) && (f.queries ?? []).some((q) => OPS_QUERY.test(q.udfPath ?? "")),
  );
  const runs = trace.runs.filter((r) => SUBMIT.test(r.udfPath));
  const names = [
    "keydown → submission read by the server (Alice's window + link)",
    "→ ops:submit starts (queue, group)",
    "ops:submit runs",
    "→ COMMIT ends (rest of the group + COMMIT)",
    "→ revision pushed to Bob (query re-run, serialise)",
    "→ rendered in Bob's page (Bob's window)",
    "total",
  ];
  const hops: Hop[] = names.map((name) => ({ name, values: [] }));
  let missing = 0;
  for (const key of keys) {
    const inbound = submits.find((f) => wall(f.at) >= key.down);
    const run = inbound && runs.find((r) => r.start >= inbound.at);
    const commit = run && trace.commits.find((c) => c.start >= run.end);
    const push = commit && pushes.find((f) => f.at >= commit.end);
    if (!inbound || !run || !commit || !push || wall(push.at) > key.shown) {
      missing++;
      continue;
    }
    const values = [
      wall(inbound.at) - key.down,
      run.start - inbound.at,
      run.end - run.start,
      commit.end - run.end,
      push.at - commit.end,
      key.shown - wall(push.at),
      key.shown - key.down,
    ];
    values.forEach((v, i) => hops[i]!.values.push(v));
  }
  return { hops, missing };
}
