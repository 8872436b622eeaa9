/**
 * What a keystroke costs the server when its author is behind: `ops:submit` transforms the
 * op past every revision committed since the one it was made on, so a busy note (many
 * typists, a queue in front of the server) makes each submit dearer. Measured through the
 * real local backend and a real ConvexClient: a note gets 1,200 one-key revisions, then a
 * second client submits ops made LAG revisions behind the head, one after another.
 * Prints the median round trip per lag; the slope is the cost of one revision behind.
 *
 * Then the same submit at the head, one after a pause of each of `--pauses` ms: what a
 * keystroke costs a server that was idle before it, as a few typists' are. The code is
 * the same each time; what grows with the pause is the machine's (caches, the disk).
 *
 * npm run bench:lag [-- --lags 0,50,200,800 --runs 25 --pauses 1,3,8,20,100 --per-pause 200]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { startBackend } from "../backend/serve";
import { connect } from "../client/connect";
import { createSpace, Space } from "../client/space";
import { api } from "../convex/_generated/api";
import type { TextOp } from "../sync/textOp";
import { formatMs, median, percentile } from "./lib/stats";

const { values } = parseArgs({
  options: {
    lags: { type: "string", default: "0,50,200,800" },
    runs: { type: "string", default: "25" },
    pauses: { type: "string", default: "1,3,8,20,100" },
    "per-pause": { type: "string", default: "200" },
  },
});
const LAGS = values.lags.split(",").map(Number);
const RUNS = Number(values.runs);
const FILL = Math.max(...LAGS) + 400;

const dataDir = mkdtempSync(path.join(tmpdir(), "shared-notes-lag-"));
const backend = await startBackend({ port: 0, dataDir });
const convex = connect(backend.url);
const creds = await createSpace(convex);
const noteId = await new Space(convex, creds).create("Lag");

async function submit(clientId: string, seq: number, baseRev: number, op: TextOp): Promise<number> {
  const result = await convex.mutation(api.ops.submit, { ...creds, noteId, clientId, seq, baseRev, op: [...op] });
  if (result.kind !== "applied") throw new Error(`submit ${clientId}/${seq} answered ${JSON.stringify(result)}`);
  return result.rev;
}

// Each revision appends one character, so the text at revision r is r characters long.
let head = 0;
for (let seq = 0; seq < FILL; seq++) head = await submit("writer", seq, head, head === 0 ? ["a"] : [head, "a"]);

let seq = 0;
const rows: Array<{ lag: number; medianMs: number }> = [];
for (const lag of [...LAGS, ...LAGS]) {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const base = head - lag;
    const started = performance.now();
    head = await submit("laggard", seq++, base, base === 0 ? ["b"] : ["b", base]);
    times.push(performance.now() - started);
  }
  rows.push({ lag, medianMs: median(times) });
}
console.log("ops:submit round trip by how far behind the head its op was made (two passes, median of each):");
for (const lag of LAGS) {
  const [first, second] = rows.filter((r) => r.lag === lag).map((r) => r.medianMs.toFixed(2));
  console.log(`  ${String(lag).padStart(5)} revisions behind: ${first} / ${second} ms`);
}
const PAUSES = values.pauses.split(",").filter(Boolean).map(Number);
const PER_PAUSE = Number(values["per-pause"]);
if (PAUSES.length > 0) console.log(`ops:submit round trip at the head, each after a pause (${PER_PAUSE} each):`);
for (const pause of PAUSES) {
  const times: number[] = [];
  for (let i = 0; i < PER_PAUSE; i++) {
    await new Promise((resolve) => setTimeout(resolve, pause));
    const started = performance.now();
    head = await submit("typist", seq++, head, [head, "c"]);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const at = (p: number): string => formatMs(percentile(times, p));
  console.log(`  ${String(pause).padStart(5)} ms pause: p50 ${at(50)}, p90 ${at(90)}, p99 ${at(99)} ms`);
}
await convex.close();
await backend.close();
rmSync(dataDir, { recursive: true, force: true });
