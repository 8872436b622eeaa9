/**
 * How fast the sync engine applies real typing, next to Yjs as a peer (npm run bench).
 *
 * Each sequential trace (../shared/traces) is replayed patch by patch:
 *   engine apply   – each patch becomes an op (OpBuilder) and is applied to a TextDoc,
 *                    the document the SyncClient keeps its texts in;
 *   engine client  – the whole client path: SyncClient.applyLocal, the in-memory server
 *                    (transform, apply) and the ack back through SyncClient.receive, which
 *                    applies the op a second time to the client's copy of the server text;
 *   yjs            – Y.Text insert/delete per patch, one transaction per trace txn.
 * Every run is checked against the trace's endContent. One warm-up run, then the median
 * of RUNS (default 5) runs. Figures are wall-clock ms on this machine.
 */
import * as Y from "yjs";
import { Sequencer } from "../sync/sequencer";
import { SyncClient } from "../sync/syncClient";
import { TextDoc } from "../sync/textDoc";
import { OpBuilder } from "../sync/textOp";
import { hasAstral, loadSequentialTrace, type SequentialTrace } from "../harness/traces";
import { median } from "./lib/stats";

const RUNS = Number(process.env.RUNS ?? 5);
const TRACES = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ["automerge-paper", "seph-blog1"];

function engineApply(trace: SequentialTrace): string {
  const doc = new TextDoc(trace.startContent);
  for (const txn of trace.txns) {
    for (const [pos, del, ins] of txn.patches) {
      doc.apply(new OpBuilder().retain(pos).insert(ins).delete(del).retain(doc.length - pos - del).build());
    }
  }
  return doc.toString();
}

function engineClient(trace: SequentialTrace): string {
  const server = new Sequencer(trace.startContent, { checksums: false });
  const client = new SyncClient({ clientId: "author", rev: 0, text: trace.startContent });
  for (const txn of trace.txns) {
    for (const [pos, del, ins] of txn.patches) {
      const op = new OpBuilder().retain(pos).insert(ins).delete(del).retain(client.length - pos - del).build();
      const sub = client.applyLocal(op);
      if (!sub) continue;
      const { rev } = server.submit(sub);
      client.receive(server.op(rev));
    }
  }
  if (server.text !== client.text) throw new Error("the server and the client disagree");
  return client.text;
}

function yjs(trace: SequentialTrace): string {
  const doc = new Y.Doc();
  const text = doc.getText("t");
  if (trace.startContent) text.insert(0, trace.startContent);
  for (const txn of trace.txns) {
    doc.transact(() => {
      for (const [pos, del, ins] of txn.patches) {
        if (del > 0) text.delete(pos, del);
        if (ins) text.insert(pos, ins);
      }
    });
  }
  return text.toString();
}

function time(name: string, trace: SequentialTrace, run: (t: SequentialTrace) => string): number {
  const check = (out: string): void => {
    if (out !== trace.endContent) throw new Error(`${name} did not reproduce endContent`);
  };
  check(run(trace)); // warm-up, and correctness
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    const out = run(trace);
    times.push(performance.now() - start);
    check(out);
  }
  return median(times);
}

const rows: string[][] = [["trace", "patches", "engine apply ms", "engine client ms", "yjs ms", "yjs / engine apply", "yjs / engine client"]];
for (const name of TRACES) {
  const trace = loadSequentialTrace(name);
  // Trace positions count code points; Yjs counts UTF-16 units too, so both would need
  // converting. The bundled traces have no astral characters, where the two agree.
  if (hasAstral([trace.startContent, trace.endContent])) throw new Error(`${name} has astral characters; convert positions first`);
  const patches = trace.txns.reduce((n, t) => n + t.patches.length, 0);
  const apply = time("engine apply", trace, engineApply);
  const client = time("engine client", trace, engineClient);
  const y = time("yjs", trace, yjs);
  rows.push([name, String(patches), apply.toFixed(1), client.toFixed(1), y.toFixed(1), `${(y / apply).toFixed(1)}×`, `${(y / client).toFixed(1)}×`]);
}

const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] as string).length)));
for (const [i, row] of rows.entries()) {
  console.log(row.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!))).join("  "));
  if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
}
console.log(`median of ${RUNS} runs after one warm-up; node ${process.version}`);
