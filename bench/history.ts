// Note history benchmark: the time to open any revision of a note with many revisions
// (default 100,000) through the local backend: history:version reads one snapshot and at
// most SNAPSHOT_REVS ops. Goal: ≤ 200 ms.
//
// Building 100,000 revisions with one ops:submit each takes most of an hour on a busy
// 2-core machine, so the op rows between snapshots are appended in bulk by a bench-only
// mutation (bench/history/seedOps.ts, loaded beside the project's own functions), and every
// revision that takes a snapshot goes through the real ops:submit.
//
//   npm run bench:history [-- --revisions 100000 --opens 200]
import { ConvexClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import { copyFileSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { repoRoot, startBackend } from "../backend/serve";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { SNAPSHOT_REVS } from "../convex/limits";
import { opWeight } from "../sync/serverStep";
import { Random } from "../harness/random";

const { values } = parseArgs({
  options: {
    revisions: { type: "string", default: "100000" },
    opens: { type: "string", default: "200" },
    seed: { type: "string", default: "1" },
  },
});
const revisions = Number(values.revisions);
const opens = Number(values.opens);
const rng = new Random(Number(values.seed));

// The project's functions plus the seeding one, in a folder under node_modules/.cache (so
// `convex/*` imports resolve) that links to the real files.
const repo = repoRoot();
const work = path.join(repo, "node_modules", ".cache", `shared-notes-bench-history-${process.pid}`);
const functionsDir = path.join(work, "convex");
mkdirSync(functionsDir, { recursive: true });
for (const name of readdirSync(path.join(repo, "convex"))) symlinkSync(path.join(repo, "convex", name), path.join(functionsDir, name));
symlinkSync(path.join(repo, "sync"), path.join(work, "sync"));
copyFileSync(path.join(repo, "bench", "history", "seedOps.ts"), path.join(functionsDir, "benchSeedOps.ts"));
const appendRows = makeFunctionReference<"mutation", { noteId: string; count: number; author: string; at: number; weight: number }, number>("benchSeedOps:appendRows");

const dataDir = path.join(work, "data");
const backend = await startBackend({ port: 0, dataDir, functionsDir });
const convex = new ConvexClient(backend.url, { logger: false });
try {
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url");
  const spaceId = await convex.mutation(api.spaces.create, { key });
  const noteId: Id<"notes"> = await convex.mutation(api.notes.create, { spaceId, key, title: "history", text: "" });
  const auth = { spaceId, key, noteId };

  // Every op appends one character, so the text at revision r is r characters long.
  const started = performance.now();
  let head = 0;
  let seq = 0;
  while (head < revisions) {
    const nextSnapshot = (Math.floor(head / SNAPSHOT_REVS) + 1) * SNAPSHOT_REVS;
    const upTo = Math.min(revisions, nextSnapshot - 1);
    while (head < upTo) {
      const count = Math.min(200, upTo - head);
      head = await convex.mutation(appendRows, { noteId, count, author: `writer ${Math.floor(head / 1000) % 3}`, at: Date.now(), weight: opWeight([1, "x"]) });
    }
    if (head === revisions) break;
    seq += 1;
    const r = await convex.mutation(api.ops.submit, { ...auth, clientId: "bench", seq, baseRev: head, op: [head, "s"], author: "snapshot taker" });
    if (r.kind !== "applied") throw new Error(`submit answered ${JSON.stringify(r)}`);
    head = r.rev;
  }
  const seedSeconds = (performance.now() - started) / 1000;
  console.log(`built a note of ${head} revisions in ${seedSeconds.toFixed(0)} s (a snapshot every ${SNAPSHOT_REVS} revisions, taken by ops:submit)`);

  // Warm up, then open revisions at random, and the worst case: just before a snapshot.
  await convex.query(api.history.version, { ...auth, rev: 1 });
  const revs = Array.from({ length: opens }, () => rng.int(head + 1));
  const worst = Math.max(0, Math.min(head, SNAPSHOT_REVS - 1 + Math.floor(head / 2 / SNAPSHOT_REVS) * SNAPSHOT_REVS));
  revs.push(worst);
  const times: number[] = [];
  for (const rev of revs) {
    const t0 = performance.now();
    const v = await convex.query(api.history.version, { ...auth, rev });
    times.push(performance.now() - t0);
    if (v === null || v.text.length !== rev) throw new Error(`revision ${rev}: expected ${rev} characters, got ${v === null ? "null" : v.text.length}`);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const pct = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
  console.log(
    `open a revision (history:version, ${revs.length} opens, text checked): p50 ${pct(50).toFixed(1)} ms, p99 ${pct(99).toFixed(1)} ms, max ${sorted.at(-1)?.toFixed(1)} ms` +
      ` (goal ≤ 200 ms); just before a snapshot (rev ${worst}): ${times.at(-1)?.toFixed(1)} ms`,
  );
  // Where the time goes: a revision that is a snapshot costs the snapshot read alone.
  const atSnapshot: number[] = [];
  for (let i = 0; i < 20; i++) {
    const rev = Math.min(head, rng.int(Math.floor(head / SNAPSHOT_REVS) + 1) * SNAPSHOT_REVS);
    const t = performance.now();
    await convex.query(api.history.version, { ...auth, rev });
    atSnapshot.push(performance.now() - t);
  }
  atSnapshot.sort((a, b) => a - b);
  console.log(`open a snapshot revision (no ops to apply): p50 ${atSnapshot[10]?.toFixed(1)} ms`);
  const t0 = performance.now();
  const page = await convex.query(api.history.sessions, auth);
  console.log(`first page of sessions: ${page.sessions.length} sessions in ${(performance.now() - t0).toFixed(1)} ms`);
  const t1 = performance.now();
  await convex.query(api.history.authorship, auth);
  console.log(`authorship of the latest text: ${(performance.now() - t1).toFixed(1)} ms`);
} finally {
  await convex.close();
  await backend.close();
  rmSync(work, { recursive: true, force: true });
}
