/**
 * Where the time goes between one client typing a key and another applying it: joins the
 * typing process's, the server's and the receiving process's timestamps (one monotonic
 * clock) key by key. Bench keys are unique characters, so each frame, function run and
 * push that carries a key is found by content, not guessed from timing; only the COMMIT,
 * its sync to disk and query re-runs (which carry no key) are matched by time.
 */
import type { Arrival, ClientFrames, Typed } from "./workerProtocol";
import type { ServerTrace } from "./serverTrace";
import { formatMs, percentile } from "./stats";

export type Hop = { name: string; values: number[] };

function firstIndexed(pairs: Array<[number, number]>): Map<number, number> {
  const m = new Map<number, number>();
  for (const [code, at] of pairs) if (!m.has(code)) m.set(code, at);
  return m;
}

/** Hops for every key that completed the path sender → server → one other client. */
export type Breakdown = {
  hops: Hop[];
  keys: number;
  missing: number;
  /** Queries run between a key's commit and its push, per function: runs and ms per key. */
  reruns: Array<{ udfPath: string; perKey: number; msPerKey: number }>;
};

export function hopBreakdown(typed: Typed[], arrivals: Arrival[], frames: ClientFrames[], server: ServerTrace): Breakdown {
  const sentAt = new Map(frames.map((f) => [f.client, firstIndexed(f.sent)]));
  const receivedAt = new Map(frames.map((f) => [f.client, firstIndexed(f.received)]));
  const names = [
    "typed → submission leaves the client",
    "→ server reads the frame",
    "→ ops:submit starts (queue, group)",
    "ops:submit runs",
    "→ COMMIT starts (rest of the group)",
    "COMMIT",
    "→ push to the other client sent",
    "   of which query re-runs (while the commit syncs to disk)",
    "   of which waiting for the disk after them",
    "   of which the rest (diff, serialise, other work)",
    "   (the commit's sync to disk, start to end, beside the re-runs)",
    "→ other client reads the push",
    "→ applied in the other client",
    "total",
  ];
  const hops: Hop[] = names.map((name) => ({ name, values: [] }));
  const frameIn = new Map<number, { at: number; conn: number }>();
  for (const f of server.frames) {
    if (f.dir !== "in" || f.type !== "Mutation") continue;
    for (const code of f.codes) if (!frameIn.has(code)) frameIn.set(code, { at: f.at, conn: f.conn });
  }
  // Each client's connection on the server: the one its keys arrive on.
  const connOf = new Map<number, number>();
  for (const t of typed) {
    const conn = frameIn.get(t.code)?.conn;
    if (conn !== undefined && !connOf.has(t.client)) connOf.set(t.client, conn);
  }
  const pushAt = new Map<string, number>();
  for (const f of server.frames) {
    if (f.dir !== "out" || f.type !== "Transition") continue;
    for (const code of f.codes) if (!pushAt.has(`${f.conn}:${code}`)) pushAt.set(`${f.conn}:${code}`, f.at);
  }
  const runOf = new Map<number, { start: number; end: number }>();
  for (const r of server.runs) for (const code of r.codes) if (!runOf.has(code)) runOf.set(code, r);
  const queries = server.runs.filter((r) => r.kind === "query");
  const commits = [...server.commits].sort((a, b) => a.start - b.start);
  const syncs = [...server.syncs].sort((a, b) => a.start - b.start);
  const typedByCode = new Map(typed.map((t) => [t.code, t]));
  let keys = 0;
  let missing = 0;
  const reruns = new Map<string, { runs: number; ms: number }>();
  for (const a of arrivals) {
    const key = typedByCode.get(a.code);
    const sent = key && sentAt.get(key.client)?.get(a.code);
    const inbound = frameIn.get(a.code);
    const run = runOf.get(a.code);
    const commit = run && commits.find((c) => c.start >= run.end);
    const pushed = pushAt.get(`${connOf.get(a.client)}:${a.code}`);
    const push = pushed === undefined ? undefined : { at: pushed };
    const received = receivedAt.get(a.client)?.get(a.code);
    if (!key || sent === undefined || !inbound || !run || !commit || !push || received === undefined) {
      missing++;
      continue;
    }
    keys++;
    let rerun = 0;
    for (const q of queries) {
      const overlap = Math.min(q.end, push.at) - Math.max(q.start, commit.end);
      if (overlap <= 0) continue;
      rerun += overlap;
      const seen = reruns.get(q.udfPath) ?? { runs: 0, ms: 0 };
      reruns.set(q.udfPath, { runs: seen.runs + 1, ms: seen.ms + overlap });
    }
    // The part of the commit's sync that ran past the re-runs, before the push.
    const sync = syncs.find((s) => s.start >= commit.end);
    let disk = 0;
    const syncMs = sync ? sync.end - sync.start : 0;
    if (sync) {
      const from = Math.max(sync.start, commit.end);
      const to = Math.min(sync.end, push.at);
      disk = Math.max(0, to - from);
      for (const q of queries) disk -= Math.max(0, Math.min(q.end, to) - Math.max(q.start, from));
      disk = Math.max(0, disk);
    }
    const values = [
      sent - key.at,
      inbound.at - sent,
      run.start - inbound.at,
      run.end - run.start,
      commit.start - run.end,
      commit.end - commit.start,
      push.at - commit.end,
      rerun,
      disk,
      push.at - commit.end - rerun - disk,
      syncMs,
      received - push.at,
      a.at - received,
      a.at - key.at,
    ];
    values.forEach((v, i) => hops[i]!.values.push(v));
  }
  return {
    hops,
    keys,
    missing,
    reruns: [...reruns].map(([udfPath, r]) => ({ udfPath, perKey: r.runs / Math.max(1, keys), msPerKey: r.ms / Math.max(1, keys) })),
  };
}

/**
 * Each hop's p50, mean, p90 and p99 over all keys, then its mean over the slowest tenth of
 * keys by the hop named "total" (every hop holds one value per key, in one order): where
 * a slow key's time went, which the hops' own tails do not say, since different keys are
 * slow in different hops.
 */
export function printHops(title: string, hops: Hop[]): void {
  const total = hops.find((h) => h.name === "total")?.values ?? [];
  const cut = percentile([...total].sort((a, b) => a - b), 90);
  const slow = total.flatMap((v, i) => (v >= cut ? [i] : []));
  const mean = (values: readonly number[]): number => values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
  console.log(title);
  console.log(`  ${"hop".padEnd(66)} ${"p50".padStart(7)} ${"mean".padStart(7)} ${"p90".padStart(7)} ${"p99".padStart(7)} ${"slowest 10%".padStart(12)}  ms`);
  for (const hop of hops) {
    const sorted = [...hop.values].sort((a, b) => a - b);
    const cells = [percentile(sorted, 50), mean(sorted), percentile(sorted, 90), percentile(sorted, 99)].map((v) => formatMs(v).padStart(7));
    console.log(`  ${hop.name.padEnd(66)} ${cells.join(" ")} ${formatMs(mean(slow.map((i) => hop.values[i]!))).padStart(12)}`);
  }
}
