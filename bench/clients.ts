/**
 * Keystroke-to-screen latency between real sessions: N clients on one note, each typing
 * 5 keys/s, through the real ConvexClient and the local backend (run as its own process,
 * as in use). Each keystroke is a unique private-use character, so every other client can
 * tell exactly when that key reached its text. Then the same through a proxy that adds
 * 100 ms each way.
 *
 * npm run bench:clients [-- --seconds 8 --clients 2,10,50 --delays 0,100]
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { ConvexClient } from "convex/browser";
import { connect } from "../client/connect";
import { createSpace, Space } from "../client/space";
import type { NoteSession } from "../client/types";
import { editsFromOp, OpBuilder } from "../sync/textOp";
import { TcpProxy } from "../test/support/tcpProxy";

// scripts/run-ts.mjs runs a bundled copy elsewhere but keeps argv[1] as this file.
const repo = path.resolve(path.dirname(process.argv[1] ?? "bench/clients.ts"), "..");
const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "8" },
    clients: { type: "string", default: "2,10,50" },
    delays: { type: "string", default: "0,100" },
  },
});
const seconds = Number(values.seconds);
const counts = values.clients.split(",").map(Number);
const KEYS_PER_SECOND = 5;
const PRIVATE_USE_START = 0xe000;
const PRIVATE_USE_SIZE = 6400;

async function startServer(): Promise<{ url: string; stop: () => void; dataDir: string }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "shared-notes-bench-"));
  const child = spawn(process.execPath, [path.join(repo, "bin/shared-notes.mjs"), "serve", "--port", "0", "--data", dataDir], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
  });
  return { url, dataDir, stop: () => child.kill("SIGTERM") };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(serverUrl: string, clientUrl: string, n: number): Promise<{ p50: number; p99: number; samples: number }> {
  const admin = connect(serverUrl);
  const creds = await createSpace(admin);
  const noteId = await new Space(admin, creds).create(`bench ${n}`);
  const convexes: ConvexClient[] = [];
  const sessions: NoteSession[] = [];
  for (let i = 0; i < n; i++) {
    const convex = connect(clientUrl);
    convexes.push(convex);
    sessions.push(await new Space(convex, creds).open(noteId, { user: { name: `bench${i}`, color: "#888888" }, presence: false }));
  }
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  for (const s of sessions) {
    s.onRemoteOp((op) => {
      const now = performance.now();
      for (const edit of editsFromOp(op)) {
        for (const ch of edit.insert) {
          const sent = sentAt.get(ch.charCodeAt(0));
          if (sent !== undefined) latencies.push(now - sent);
        }
      }
    });
  }
  let key = 0;
  const timers = sessions.map((s, i) =>
    setTimeout(() => {
      const tick = (): void => {
        const code = PRIVATE_USE_START + (key++ % PRIVATE_USE_SIZE);
        sentAt.set(code, performance.now());
        const at = s.text.length;
        s.applyLocal(new OpBuilder().retain(at).insert(String.fromCharCode(code)).build());
      };
      const interval = setInterval(tick, 1000 / KEYS_PER_SECOND);
      timers.push(interval);
    }, (i * 1000) / KEYS_PER_SECOND / n),
  );
  await new Promise((r) => setTimeout(r, seconds * 1000));
  for (const t of timers) clearTimeout(t);
  await Promise.all(sessions.map((s) => s.flush()));
  await new Promise((r) => setTimeout(r, 1000));
  for (const s of sessions) await s.close();
  await Promise.all([...convexes, admin].map((c) => c.close()));
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), samples: latencies.length };
}

const server = await startServer();
try {
  console.log(`keystroke → applied in the other clients (${KEYS_PER_SECOND} keys/s per client, ${seconds} s per row)\n`);
  console.log("link                  clients   samples    p50 ms    p99 ms");
  for (const delay of values.delays.split(",").map(Number)) {
    for (const n of counts) {
      const port = Number(new URL(server.url).port);
      const proxy = delay ? await new TcpProxy({ targetPort: port, delayMs: delay }).start() : undefined;
      const r = await run(server.url, proxy?.url ?? server.url, n);
      await proxy?.close();
      const link = delay ? `+${delay} ms each way` : "loopback";
      console.log(`${link.padEnd(20)} ${String(n).padStart(8)} ${String(r.samples).padStart(9)} ${r.p50.toFixed(1).padStart(9)} ${r.p99.toFixed(1).padStart(9)}`);
    }
  }
} finally {
  server.stop();
  rmSync(server.dataDir, { recursive: true, force: true });
}
