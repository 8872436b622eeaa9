/**
 * The local backend as its own process, with timestamps (bench/lib/serverTrace.ts), for
 * bench/clients.ts's hop breakdown. Forked with an IPC channel: prints its URL, answers
 * "dump" with the trace logged since the last dump.
 *
 *   node scripts/run-ts.mjs bench/tracedServer.ts --data DIR
 */
import { parseArgs } from "node:util";
import { startTracedBackend, takeServerTrace } from "./lib/tracedBackend";

const { values } = parseArgs({ options: { data: { type: "string" } } });
if (!values.data) throw new Error("usage: tracedServer.ts --data DIR");
const backend = await startTracedBackend({ port: 0, dataDir: values.data });
process.on("message", (message: { type: string }) => {
  if (message.type === "dump") process.send!({ type: "trace", trace: takeServerTrace(), tracesRuns: backend.tracesRuns });
});
process.on("SIGTERM", () => void backend.close().then(() => process.exit(0)));
process.stdout.write(`Shared Notes backend listening on ${backend.url}\n`);
