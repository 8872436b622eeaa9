/**
 * The server side of bench/e2e.mjs (loaded through scripts/run-ts.mjs): the local backend
 * with timestamps, the delaying proxy, and the hop breakdown of each key from Alice's
 * keydown to Bob's screen. The two pages stamp with Date.now(), the server with the
 * monotonic clock; `wallMinusMono` joins them.
 */
import type { Hop } from "./breakdown";
import { SUBMIT, type ServerTrace } from "./serverTrace";

export { startTracedBackend, takeServerTrace } from "./tracedBackend";
export { TcpProxy } from "../../harness/tcpProxy";
export { wallMinusMono } from "./clock";
export { printHops } from "./breakdown";

// Any query of the ops module counts as carrying revisions (its name may change; presence is another module).
const OPS_QUERY = /^ops(\.js)?:/;

/** One line of an extension host's trace (extension/log.ts at trace level), on the wall clock. */
export type HostEvent = { at: number; what: string; text: string };

/** The trace lines of an extension log copy: "<ISO time> [trace] <where>: <what> <JSON text>". */
export function parseHostTrace(log: string): HostEvent[] {
  const events: HostEvent[] = [];
  for (const line of log.split("\n")) {
    const m = /^(\S+) \[trace\] .*?: (typed|sent|received|applying \w+|applied) (".*")$/.exec(line);
    if (m) events.push({ at: Date.parse(m[1]!), what: m[2]!, text: JSON.parse(m[3]!) as string });
  }
  return events;
}

/** How far apart two clocks' stamps of one moment may be (ms stamps, the server's joined by an offset). */
const SKEW_MS = 2;
/** A hop found later than this after the keydown belongs to a later key with the same letter. */
const MATCH_WITHIN_MS = 2000;

/**
 * For each key (its letter, Alice's keydown and Bob's first render that shows it, all
 * wall-clock ms), each hop is the first event after the last one found that carries the
 * key's letter: Alice's host hearing it and her session sending it (the hosts' trace
 * lines), the server reading the submission and running it, then, by time, the COMMIT
 * after that run and the first push of a revision to Bob's connection after it; then
 * Bob's session receiving the letter and his editor being asked to show it. Bob's host
 * issues one edit at a time, so a wait for his previous edit's change event is VS Code's
 * time, not ours. Letters repeat every 26 keys, seconds apart, so the first carrier after
 * the last hop is the key's.
 */
export function e2eHops(
  keys: Array<{ letter: string; down: number; shown: number }>,
  trace: ServerTrace,
  offset: number,
  hosts: { alice: HostEvent[]; bob: HostEvent[] },
): { hops: Hop[]; missing: number } {
  const wall = (mono: number): number => mono + offset;
  const submits = trace.frames.filter((f) => f.dir === "in" && f.type === "Mutation" && SUBMIT.test(f.udfPath ?? ""));
  const typingConns = new Set(submits.map((f) => f.conn));
  // Revision pushes: Transitions updating a query of the ops module, to a connection that does not type.
  const pushes = trace.frames.filter(
    (f) => f.dir === "out" && f.type === "Transition" && !typingConns.has(f.conn) && (f.queries ?? []).some((q) => OPS_QUERY.test(q.udfPath ?? "")),
  );
  const runs = trace.runs.filter((r) => SUBMIT.test(r.udfPath));
  const names = [
    "keydown → Alice's host hears it (VS Code: page → extension host)",
    "→ Alice's session sends it (our pipeline, session)",
    "→ the server reads it (Alice's link)",
    "→ ops:submit starts (queue, group)",
    "ops:submit runs",
    "→ COMMIT ends (rest of the group + COMMIT)",
    "→ revision pushed to Bob (query re-run, serialise)",
    "→ Bob's session has it (Bob's link, Convex client, our session)",
    "→ Bob's previous edit is in (VS Code: host → page → host)",
    "→ Bob's editor is asked to show it (our pipeline)",
    "→ rendered in Bob's page (VS Code: extension host → page)",
    "total",
    "  of which VS Code's (page → host, the previous edit, host → page)",
    "  of which ours (the rest: sessions, links, server)",
  ];
  const hops: Hop[] = names.map((name) => ({ name, values: [] }));
  let missing = 0;
  for (const key of keys) {
    const soon = (at: number | undefined): boolean => at !== undefined && at - key.down <= MATCH_WITHIN_MS;
    const host = (events: HostEvent[], what: string, after: number): number | undefined =>
      events.find((e) => e.what === what && e.at >= after - SKEW_MS && e.text.includes(key.letter))?.at;
    const typed = host(hosts.alice, "typed", key.down);
    const sent = soon(typed) ? host(hosts.alice, "sent", typed!) : undefined;
    const inbound = soon(sent) ? submits.find((f) => wall(f.at) >= sent! - SKEW_MS && (f.inserted ?? "").includes(key.letter)) : undefined;
    const run = inbound && runs.find((r) => r.start >= inbound.at && (r.inserted ?? "").includes(key.letter));
    const commit = run && trace.commits.find((c) => c.start >= run.end);
    const push = commit && pushes.find((f) => f.at >= commit.end);
    const received = push && soon(wall(push.at)) ? host(hosts.bob, "received", wall(push.at)) : undefined;
    const applying = soon(received) ? host(hosts.bob, "applying remote", received!) : undefined;
    // Bob's editor takes one edit at a time: one still on its way to his page holds the next.
    const previous = applying === undefined ? undefined : hosts.bob.findLast((e) => e.what === "applied" && e.at <= applying)?.at;
    const free = Math.max(received ?? 0, previous ?? 0);
    if (!push || applying === undefined || !soon(applying) || applying > key.shown + SKEW_MS) {
      missing++;
      continue;
    }
    const values = [
      typed! - key.down,
      sent! - typed!,
      wall(inbound!.at) - sent!,
      run!.start - inbound!.at,
      run!.end - run!.start,
      commit!.end - run!.end,
      push.at - commit!.end,
      received! - wall(push.at),
      free - received!,
      applying - free,
      key.shown - applying,
      key.shown - key.down,
      typed! - key.down + (free - received!) + (key.shown - applying),
      applying - typed! - (free - received!),
    ];
    values.forEach((v, i) => hops[i]!.values.push(v));
  }
  return { hops, missing };
}
