/**
 * Keystroke-to-screen latency between real sessions, ours side by side with the peer users
 * would pick instead (Yjs over the stock y-websocket relay), in one run. N clients on one
 * note, each typing 5 unique keys a second on a fixed schedule; the clients are spread
 * over several processes; each server (our local backend, the relay) runs as its own
 * process and its CPU time and memory are read from /proc. Rows: 2, 10, 50 clients on
 * loopback and 50 through a proxy adding 100 ms each way.
 *
 * Honest counting: every (key, other client) pair is expected. A pair not delivered when
 * the row ends (typing time + drain) is shown, and counted in the percentiles as at least
 * the time it had left (row end − typed). Keys are typed on a schedule, not setInterval; a
 * key typed late is still typed, and the lateness is reported.
 *
 * Then the fixed cost: 2 clients (--breakdown N: N clients, N+D: with D ms each way; 0: skip) of ours against a
 * backend with timestamps (bench/tracedServer.ts), broken down hop by hop.
 *
 * npm run bench:clients [-- --seconds 8 --drain 2 --rows 2,10,50,50+100 --procs 5 --systems ours,yjs --breakdown 2 --warmup 4 --by-second --cpu-prof DIR --busy F]
 * (--by-second: each row's delivered pairs' p50/p99 by the second of the row they were typed in,
 * and whom its slowest 1% of pairs involve;
 * --cpu-prof: each server process writes a V8 CPU profile into DIR when it exits;
 * --busy F: a neighbour process busy for F of every 10 ms all through, as a host's other work)
 */
import { fork, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import type { ContentionStats } from "../backend/engine";
import { connect } from "../client/connect";
import { createSpace, Space } from "../client/space";
import { TcpProxy } from "../harness/tcpProxy";
import { hopBreakdown, printHops } from "./lib/breakdown";
import { monoMs } from "./lib/clock";
import { cpuMs, machineBusyMs, mainThreadWaitMs, rssMb } from "./lib/procStats";
import type { ServerTrace } from "./lib/serverTrace";
import { formatMs, percentile } from "./lib/stats";
import { CODE_SPACE, type Arrival, type ClientFrames, type FromWorker, type SessionLog, type System, type Target, type ToWorker, type Typed } from "./lib/workerProtocol";

// scripts/run-ts.mjs runs a bundled copy elsewhere but keeps argv[1] as this file.
const repo = path.resolve(path.dirname(process.argv[1] ?? "bench/clients.ts"), "..");
const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "8" },
    drain: { type: "string", default: "2" },
    rows: { type: "string", default: "2,10,50,50+100" },
    procs: { type: "string", default: "5" },
    systems: { type: "string", default: "ours,yjs" },
    breakdown: { type: "string", default: "2" },
    warmup: { type: "string", default: "4" },
    "by-second": { type: "boolean", default: false },
    "cpu-prof": { type: "string" },
    busy: { type: "string", default: "0" },
  },
});
const SECONDS = Number(values.seconds);
const DRAIN_SECONDS = Number(values.drain);
const KEYS_PER_SECOND = 5;
const PROCS = Number(values.procs);
const SYSTEMS = values.systems.split(",") as System[];
const ROWS = values.rows.split(",").map((r) => {
  const [clients, delay] = r.split("+").map(Number);
  return { clients: clients!, delayMs: delay ?? 0 };
});
const WARMUP_SECONDS = Number(values.warmup);
const WARMUP_CLIENTS = Math.max(...ROWS.map((r) => r.clients));
const WARMUP_KEYS_PER_SECOND = KEYS_PER_SECOND / 2;
const keysPerClient = (seconds: number, keysPerSecond = KEYS_PER_SECOND): number => Math.round(seconds * keysPerSecond);
const warmup = { clients: WARMUP_CLIENTS, keys: keysPerClient(WARMUP_SECONDS, WARMUP_KEYS_PER_SECOND) };
for (const { clients, keys } of [...ROWS.map((row) => ({ clients: row.clients, keys: keysPerClient(SECONDS) })), warmup]) {
  if (clients * keys > CODE_SPACE) throw new Error(`${clients} clients × ${keys} keys do not fit in ${CODE_SPACE} unique characters`);
}
const serverNodeArgs = values["cpu-prof"] ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(values["cpu-prof"])}`] : [];
const sleepUntil = (t: number): Promise<void> => new Promise((r) => setTimeout(r, Math.max(0, t - monoMs())));

/** A child process started from a TypeScript entry, with an IPC channel. */
class Worker {
  private waiting: Array<(m: FromWorker) => void> = [];
  private constructor(readonly child: ChildProcess) {
    child.on("message", (m: FromWorker) => {
      if (m.type === "error") {
        console.error(`client process ${child.pid} failed: ${m.message}`);
        process.exit(1);
      }
      this.waiting.shift()?.(m);
    });
  }
  static async start(): Promise<Worker> {
    const child = fork(path.join(repo, "scripts/run-ts.mjs"), [path.join(repo, "bench/clientWorker.ts")], { stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const worker = new Worker(child);
    await worker.next();
    return worker;
  }
  next(): Promise<FromWorker> {
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  async ask(message: ToWorker): Promise<FromWorker> {
    const reply = this.next();
    this.child.send(message);
    return await reply;
  }
  tell(message: ToWorker): void {
    this.child.send(message);
  }
}

/** A server process; ours also says how its mutations contended (backend/cli.ts answers over the channel). */
type Server = { url: string; pid: number; child: ChildProcess; stop(): void; contention?: () => Promise<ContentionStats> };

async function waitForLine(child: ChildProcess, pattern: RegExp, what: string): Promise<RegExpExecArray> {
  return await new Promise((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const m = pattern.exec(out);
      if (m) resolve(m);
    });
    child.on("exit", (code) => reject(new Error(`${what} exited with ${code}: ${out}`)));
  });
}

async function startOurs(dataDir: string): Promise<Server> {
  const child = fork(path.join(repo, "dist/cli.mjs"), ["serve", "--port", "0", "--data", dataDir], { execArgv: serverNodeArgs, stdio: ["ignore", "pipe", "inherit", "ipc"] });
  const m = await waitForLine(child, /listening on (\S+)/, "shared-notes serve");
  const contention = () =>
    new Promise<ContentionStats>((resolve) => {
      const take = (message: { type: string; contention: ContentionStats }) => {
        if (message.type !== "contention") return;
        child.off("message", take);
        resolve(message.contention);
      };
      child.on("message", take);
      child.send({ type: "contention" });
    });
  return { url: m[1]!, pid: child.pid!, child, stop: () => child.kill("SIGTERM"), contention };
}

async function startTraced(dataDir: string): Promise<Server> {
  const child = fork(path.join(repo, "scripts/run-ts.mjs"), [path.join(repo, "bench/tracedServer.ts"), "--data", dataDir], { stdio: ["ignore", "pipe", "inherit", "ipc"] });
  const m = await waitForLine(child, /listening on (\S+)/, "traced backend");
  return { url: m[1]!, pid: child.pid!, child, stop: () => child.kill("SIGTERM") };
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** The stock relay (`y-websocket` bin of @y/websocket-server), in memory, as its own process. */
async function startRelay(): Promise<Server> {
  const port = await freePort();
  const bin = path.join(repo, "node_modules/@y/websocket-server/src/server.js");
  const child = spawn(process.execPath, [...serverNodeArgs, bin], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, HOST: "127.0.0.1", PORT: String(port) } });
  await waitForLine(child, /running at/, "y-websocket relay");
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, child, stop: () => child.kill("SIGTERM") };
}

type RowResult = {
  system: System;
  clients: number;
  delayMs: number;
  keysScheduled: number;
  keysTyped: number;
  keysPerSecondPerClient: number;
  lateP99Ms: number;
  pairsExpected: number;
  pairsDelivered: number;
  pairsNotDelivered: number;
  p50: number;
  p99: number;
  max: number;
  sameTextAtEnd: boolean;
  serverCpuPercent: number;
  serverCpuMsPerKey: number;
  serverRssMb: number;
  benchCpuPercent: number;
  /** Share of the row's time the server's main thread waited for a core (runnable, not running). */
  serverWaitPercent: number;
  /** What the whole machine used, in % of all its cores. */
  machinePercent: number;
  /** Bytes a client received per key typed in the row (by anyone): what following the note costs it. */
  bytesInPerKeyPerClient: number;
  /** ops:submit per key typed, and of them per key: those a commit after their arrival conflicted with (what Convex would retry), and retries made. */
  submits?: { perKey: number; wouldConflictPerKey: number; retriesPerKey: number };
};

let rowNumber = 0;
const SETUP_TIMEOUT_MS = 120_000;

/** A row that could not run (its clients never all connected); the run goes on with fresh client processes. */
class RowFailed extends Error {}

type RowSpec = { system: System; server: Server; clients: number; delayMs: number; seconds: number; keysPerSecond?: number; trace?: boolean };

async function runRow(workers: Worker[], { system, server, clients, delayMs, seconds, keysPerSecond = KEYS_PER_SECOND, trace = false }: RowSpec) {
  const port = Number(new URL(server.url).port);
  const proxy = delayMs ? await new TcpProxy({ targetPort: port, delayMs }).start() : undefined;
  const base = proxy?.url ?? server.url;
  let target: Target;
  if (system === "ours") {
    const admin = connect(server.url);
    const creds = await createSpace(admin);
    const noteId = await new Space(admin, creds).create(`bench ${++rowNumber}`);
    await admin.close();
    target = { system, url: base, ...creds, noteId };
  } else {
    target = { system, url: base.replace(/^http/, "ws"), room: `bench-${++rowNumber}` };
  }
  const used = workers.slice(0, Math.min(clients, workers.length));
  const setup = Promise.all(
    used.map((w, p) =>
      w.ask({
        type: "setup",
        target,
        clients: Array.from({ length: clients }, (_, i) => i).filter((i) => i % used.length === p),
        totalClients: clients,
        keysPerClient: keysPerClient(seconds, keysPerSecond),
        trace,
      }),
    ),
  );
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), SETUP_TIMEOUT_MS)));
  const ready = await Promise.race([setup, timedOut]);
  clearTimeout(timer);
  if (ready === "timeout") {
    await proxy?.close();
    throw new RowFailed(`${clients} clients were not all connected after ${SETUP_TIMEOUT_MS / 1000} s`);
  }
  const t0 = monoMs() + 300;
  for (const w of used) w.tell({ type: "start", t0, keysPerSecond });
  const contention0 = await server.contention?.();
  await sleepUntil(t0);
  const cpu0 = cpuMs(server.pid);
  const wait0 = mainThreadWaitMs(server.pid);
  const machine0 = machineBusyMs();
  const benchCpu0 = used.reduce((s, w) => s + cpuMs(w.child.pid!), 0);
  const rowEnd = t0 + (seconds + DRAIN_SECONDS) * 1000;
  // Where each second's CPU went: a row that falls behind shows whether the server or the
  // clients were short of a core.
  const cpuBySecond: string[] = [];
  if (values["by-second"]) {
    const sample = () => ({ server: cpuMs(server.pid), wait: mainThreadWaitMs(server.pid), own: process.cpuUsage(), clients: used.reduce((s, w) => s + cpuMs(w.child.pid!), 0) });
    let last = { server: cpu0, wait: wait0, own: process.cpuUsage(), clients: benchCpu0 };
    for (let at = t0 + 1000; at <= rowEnd; at += 1000) {
      await sleepUntil(at);
      const now = sample();
      const own = (now.own.user + now.own.system - last.own.user - last.own.system) / 1000;
      const cells = [now.server - last.server, now.wait - last.wait, own, now.clients - last.clients].map((ms) => ms.toFixed(0));
      cpuBySecond.push(`${cpuBySecond.length} s: ${cells.join("/")}`);
      last = now;
    }
  }
  await sleepUntil(rowEnd);
  const cpu = cpuMs(server.pid) - cpu0;
  const wait = mainThreadWaitMs(server.pid) - wait0;
  const machine = machineBusyMs() - machine0;
  const benchCpu = used.reduce((s, w) => s + cpuMs(w.child.pid!), 0) - benchCpu0;
  const rss = rssMb(server.pid).now;
  const contention1 = await server.contention?.();
  const results = (await Promise.all(used.map((w) => w.ask({ type: "stop" })))).filter((r) => r.type === "result");
  await proxy?.close();

  // A key typed after the row ended (its process was that late) is not part of the row.
  const typed: Typed[] = results.flatMap((r) => r.typed).filter((t) => t.at <= rowEnd);
  const arrivals: Arrival[] = results.flatMap((r) => r.arrivals).filter((a) => a.at <= rowEnd);
  const frames: ClientFrames[] = results.flatMap((r) => r.frames);
  const texts = results.flatMap((r) => r.texts.map((t) => t.text));
  const typedAt = new Map(typed.map((t) => [t.code, t]));
  const pairs: Pair[] = [];
  const delivered = new Set<string>();
  for (const a of arrivals) {
    const key = typedAt.get(a.code);
    if (!key || key.client === a.client || delivered.has(`${a.code}:${a.client}`)) continue;
    delivered.add(`${a.code}:${a.client}`);
    pairs.push({ key, receiver: a.client, ms: a.at - key.at });
  }
  const latencies = pairs.map((p) => p.ms);
  const pairsExpected = typed.length * (clients - 1);
  const notDelivered = pairsExpected - delivered.size;
  // Each pair not delivered counts as (at least) the time it had left before the row ended.
  for (const key of typed) {
    for (let c = 0; c < clients; c++) if (c !== key.client && !delivered.has(`${key.code}:${c}`)) latencies.push(rowEnd - key.at);
  }
  // Printed under the row's line (printRow), so each row's seconds follow it.
  const details = [
    ...(values["by-second"]
      ? [bySecondLine(pairs, t0), tailLine(pairs, t0, used.length), `  by second, CPU ms (server / server waiting for a core / this process, with the delay proxy / client processes): ${cpuBySecond.join("  ")}`]
      : []),
    ...logLines(results.flatMap((r) => r.logs), t0),
  ];
  latencies.sort((a, b) => a - b);
  const late = typed.map((t) => t.lateMs).sort((a, b) => a - b);
  // Achieved rate: each client's keys after its first, over the time from its first to its last.
  const spans = new Map<number, { first: number; last: number; keys: number }>();
  for (const t of typed) {
    const s = spans.get(t.client) ?? { first: t.at, last: t.at, keys: 0 };
    spans.set(t.client, { first: Math.min(s.first, t.at), last: Math.max(s.last, t.at), keys: s.keys + 1 });
  }
  const intervals = [...spans.values()].reduce((n, s) => n + s.keys - 1, 0);
  const typingMs = [...spans.values()].reduce((n, s) => n + s.last - s.first, 0);
  const result: RowResult = {
    system,
    clients,
    delayMs,
    keysScheduled: clients * keysPerClient(seconds, keysPerSecond),
    keysTyped: typed.length,
    keysPerSecondPerClient: typingMs > 0 ? (intervals * 1000) / typingMs : Number.NaN,
    lateP99Ms: percentile(late, 99),
    pairsExpected,
    pairsDelivered: delivered.size,
    pairsNotDelivered: notDelivered,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? Number.NaN,
    sameTextAtEnd: texts.every((t) => t === texts[0]),
    serverCpuPercent: (cpu / (rowEnd - t0)) * 100,
    serverCpuMsPerKey: cpu / Math.max(1, typed.length),
    serverRssMb: rss,
    benchCpuPercent: (benchCpu / (rowEnd - t0)) * 100,
    serverWaitPercent: (wait / (rowEnd - t0)) * 100,
    machinePercent: (machine / (rowEnd - t0) / availableParallelism()) * 100,
    bytesInPerKeyPerClient: results.reduce((n, r) => n + r.bytesIn, 0) / Math.max(1, typed.length) / clients,
    ...(contention0 && contention1 ? { submits: submitsPerKey(contention0, contention1, typed.length) } : {}),
  };
  if (result.submits) {
    const { perKey, wouldConflictPerKey, retriesPerKey } = result.submits;
    details.push(
      `  per key typed: ops:submit ${perKey.toFixed(2)}, of which a commit after their arrival wrote what they read (Convex would retry them) ${wouldConflictPerKey.toFixed(2)}, retries made ${retriesPerKey.toFixed(2)}`,
    );
  }
  return { result, typed, arrivals, frames, details };
}

/** The row's ops:submit calls from the server's counters before and after it, per key typed. */
function submitsPerKey(before: ContentionStats, after: ContentionStats, keys: number): NonNullable<RowResult["submits"]> {
  const zero = { mutations: 0, wouldConflict: 0, retries: 0 };
  const a = before.byFunction["ops:submit"] ?? zero;
  const b = after.byFunction["ops:submit"] ?? zero;
  const per = (n: number) => n / Math.max(1, keys);
  return { perKey: per(b.mutations - a.mutations), wouldConflictPerKey: per(b.wouldConflict - a.wouldConflict), retriesPerKey: per(b.retries - a.retries) };
}

/** What the sessions logged during the row (nothing, normally), the first few in full. */
function logLines(logs: readonly SessionLog[], t0: number): string[] {
  if (logs.length === 0) return [];
  const first = [...logs].sort((a, b) => a.at - b.at).slice(0, 5);
  return [
    `  the sessions logged ${logs.length} line(s):`,
    ...first.map((l) => `    client ${l.client}, ${((l.at - t0) / 1000).toFixed(2)} s in: ${l.message}`),
  ];
}

/** A key delivered to another client: who typed it, who received it, how long it took. */
type Pair = { key: Typed; receiver: number; ms: number };

/** Delivered pairs' p50/p99 by the second of the row their key was typed in: where a row's tail comes from. */
function bySecondLine(pairs: readonly Pair[], t0: number): string {
  const bySecond: number[][] = [];
  for (const { key, ms } of pairs) (bySecond[Math.max(0, Math.floor((key.at - t0) / 1000))] ??= []).push(ms);
  const cells = bySecond.map((ms, second) => {
    const sorted = [...ms].sort((a, b) => a - b);
    return `${second} s: ${formatMs(percentile(sorted, 50))}/${formatMs(percentile(sorted, 99))}`;
  });
  return `  by second typed (p50/p99 ms): ${cells.join("  ")}`;
}

/**
 * Whom the slowest 1% of delivered pairs involve. A key late at every receiver was held up
 * before its push left the server (its typist's process, the server, the disk); keys late
 * at the receivers of one process were held up there (that process, or the cores it shares).
 * Client i runs in process i % processes.
 */
function tailLine(pairs: readonly Pair[], t0: number, processes: number): string {
  if (pairs.length === 0) return "  slowest 1% of pairs: none delivered";
  const tail = [...pairs].sort((a, b) => b.ms - a.ms).slice(0, Math.ceil(pairs.length / 100));
  const count = <K>(of: (p: Pair) => K): Array<[K, number]> => {
    const n = new Map<K, number>();
    for (const p of tail) n.set(of(p), (n.get(of(p)) ?? 0) + 1);
    return [...n].sort((a, b) => b[1] - a[1]);
  };
  const keys = count((p) => p.key);
  const [topKey, topKeyPairs] = keys[0]!;
  const byProcess = count((p) => p.receiver % processes);
  const [, topProcessPairs] = byProcess[0]!;
  return (
    `  slowest 1% of pairs (${tail.length}, ${formatMs(tail[tail.length - 1]!.ms)} to ${formatMs(tail[0]!.ms)} ms): ` +
    `keys ${keys.length}, their typists ${count((p) => p.key.client).length}, receivers ${count((p) => p.receiver).length} in ${byProcess.length} processes; ` +
    `most of one key ${topKeyPairs} (typed ${((topKey.at - t0) / 1000).toFixed(1)} s in), most at one process ${topProcessPairs}`
  );
}

const SYSTEM_NAMES: Record<System, string> = { ours: "ours", yjs: "Yjs+relay" };
const link = (delayMs: number): string => (delayMs ? `+${delayMs} ms each way` : "loopback");

function printRow({ result: r, details }: { result: RowResult; details: readonly string[] }, note?: string): void {
  const cells = [
    link(r.delayMs).padEnd(16),
    String(r.clients).padStart(3),
    SYSTEM_NAMES[r.system].padEnd(9),
    `${r.keysTyped}/${r.keysScheduled}`.padStart(9),
    r.keysPerSecondPerClient.toFixed(2).padStart(5),
    formatMs(r.lateP99Ms).padStart(6),
    String(r.pairsDelivered).padStart(8),
    String(r.pairsNotDelivered).padStart(7),
    formatMs(r.p50).padStart(7),
    formatMs(r.p99).padStart(7),
    formatMs(r.max).padStart(7),
    (r.sameTextAtEnd ? "yes" : "no").padStart(5),
    `${r.serverCpuPercent.toFixed(0)}%`.padStart(5),
    r.serverCpuMsPerKey.toFixed(2).padStart(6),
    r.serverRssMb.toFixed(0).padStart(5),
    `${r.benchCpuPercent.toFixed(0)}%`.padStart(6),
    (Number.isNaN(r.serverWaitPercent) ? "—" : `${r.serverWaitPercent.toFixed(0)}%`).padStart(7),
    `${r.machinePercent.toFixed(0)}%`.padStart(7),
    r.bytesInPerKeyPerClient.toFixed(0).padStart(7),
  ];
  console.log(note === undefined ? cells.join(" ") : `${cells.join(" ")}  (${note})`);
  for (const line of details) console.log(line);
}

const workers: Worker[] = [];
async function startWorkers(): Promise<void> {
  for (const w of workers.splice(0)) w.child.kill("SIGTERM");
  for (let i = 0; i < PROCS; i++) workers.push(await Worker.start()); // one at a time: they share run-ts's output file
}
await startWorkers();
// Another tenant's work on the same cores, for runs that ask how a row copes with less CPU.
// It ends with this process's channel, so a bench that dies leaves no spinning neighbour.
const BUSY = Number(values.busy);
const neighbourCode = `process.on("disconnect", () => process.exit(0)); setInterval(() => { const end = performance.now() + ${10 * BUSY}; while (performance.now() < end); }, 10);`;
const neighbour = BUSY > 0 ? spawn(process.execPath, ["-e", neighbourCode], { stdio: ["ignore", "ignore", "inherit", "ipc"] }) : undefined;
const dataDir = mkdtempSync(path.join(tmpdir(), "shared-notes-bench-"));
const servers: Partial<Record<System, Server>> = {};
const results: RowResult[] = [];
let breakdown: ReturnType<typeof hopBreakdown> | undefined;
try {
  if (SYSTEMS.includes("ours")) servers.ours = await startOurs(path.join(dataDir, "ours"));
  if (SYSTEMS.includes("yjs")) servers.yjs = await startRelay();
  console.log(
    `keystroke → applied in every other client: ${KEYS_PER_SECOND} keys/s per client on a fixed schedule, ${SECONDS} s of typing + ${DRAIN_SECONDS} s drain per row, clients over ${PROCS} processes${BUSY > 0 ? `, a neighbour busy ${Math.round(BUSY * 100)}% of the time` : ""}${WARMUP_SECONDS > 0 ? `; before a link's first row, a warm-up of ${WARMUP_CLIENTS} clients per server, ${WARMUP_SECONDS} s at ${WARMUP_KEYS_PER_SECOND} keys/s and then ${SECONDS} s at ${KEYS_PER_SECOND} (shown, not counted)` : "; no warm-up"}`,
  );
  console.log("pairs not delivered by the row's end count as (at least) the time they had left; equal: every client's text the same at the row's end;");
  console.log("late99: p99 of how late a key was typed against its schedule; server CPU (% of one core), CPU ms per key typed and RSS from /proc;");
  console.log("srvWait: time the server's main thread waited for a core (runnable, not running); machine: CPU of the whole machine, in % of all its cores;");
  console.log("B/key/c: bytes a client's socket received per key typed in the note, while typing\n");
  console.log(
    "link              n  system       typed  k/s/c  late99  pairs ok  not ok     p50     p99     max equal  srvCPU ms/key  RSS  benchCPU  srvWait machine  B/key/c",
  );
  // By row, so a row given twice (the same row run again) shows each run.
  const rowResults = ROWS.map(() => new Map<System, RowResult>());
  const warmed = new Set<number>();
  for (const [i, row] of ROWS.entries()) {
    // Before a link's first row, each server and every client process run their code
    // paths at the size and over the link the rows use; shown, not counted. Otherwise the
    // first row measured the system's cold start: 50 typists on a server that had not yet
    // served 50 fell behind for their first 1–5 s (p50 0.2–0.8 s), where the same row run
    // next kept up. So the largest row's clients type at half the rate, then for a row's
    // length at the full rate: a row after one that caught up at the full rate kept up,
    // while after the half-rate step alone the first row still fell behind at its start in
    // most runs, and a full-rate warm-up on a cold server fell behind all through. A slow
    // link takes code paths a fast one does not (far blocks), so each link is warmed right
    // before its first row (bench/README.md, "The first 50-client row: the warm-up").
    if (WARMUP_SECONDS > 0 && !warmed.has(row.delayMs)) {
      warmed.add(row.delayMs);
      for (const system of SYSTEMS) {
        const spec = { system, server: servers[system]!, clients: WARMUP_CLIENTS, delayMs: row.delayMs, seconds: WARMUP_SECONDS, keysPerSecond: WARMUP_KEYS_PER_SECOND };
        printRow(await runRow(workers, spec), "warm-up, not counted");
        printRow(await runRow(workers, { ...spec, seconds: SECONDS, keysPerSecond: KEYS_PER_SECOND }), "warm-up at the full rate, not counted");
      }
    }
    for (const system of SYSTEMS) {
      try {
        const run = await runRow(workers, { system, server: servers[system]!, ...row, seconds: SECONDS });
        results.push(run.result);
        rowResults[i]!.set(system, run.result);
        printRow(run);
      } catch (e) {
        if (!(e instanceof RowFailed)) throw e;
        console.log(`${link(row.delayMs).padEnd(16)} ${String(row.clients).padStart(3)} ${SYSTEM_NAMES[system].padEnd(9)} not run: ${e.message}`);
        await startWorkers();
      }
    }
  }
  console.log("\nside by side (p50 / p99 ms, undelivered pairs included):");
  for (const [i, row] of ROWS.entries()) {
    const [ours, yjs] = [rowResults[i]!.get("ours"), rowResults[i]!.get("yjs")];
    const show = (r?: RowResult) => (r ? `${formatMs(r.p50)} / ${formatMs(r.p99)}  (${r.serverCpuMsPerKey.toFixed(2)} CPU ms/key)` : "—");
    console.log(`  ${link(row.delayMs).padEnd(16)} ${String(row.clients).padStart(3)} clients   ours ${show(ours).padEnd(36)} Yjs+relay ${show(yjs)}`);
  }

  const [breakdownClients = 0, breakdownDelay = 0] = values.breakdown.split("+").map(Number);
  if (breakdownClients > 0 && SYSTEMS.includes("ours")) {
    const traced = await startTraced(path.join(dataDir, "traced"));
    try {
      const dump = (): Promise<{ trace: ServerTrace; tracesRuns: boolean }> =>
        new Promise((resolve) => {
          traced.child.once("message", resolve);
          traced.child.send({ type: "dump" });
        });
      if (WARMUP_SECONDS > 0) await runRow(workers, { system: "ours", server: traced, clients: 2, delayMs: 0, seconds: WARMUP_SECONDS, trace: true });
      await dump(); // each row reuses the same key characters: start the log afresh
      const run = await runRow(workers, { system: "ours", server: traced, clients: breakdownClients, delayMs: breakdownDelay, seconds: SECONDS, trace: true });
      const dumped = await dump();
      breakdown = hopBreakdown(run.typed, run.arrivals, run.frames, dumped.trace);
      console.log(
        `\nours, ${breakdownClients} clients, ${link(breakdownDelay)}, backend with timestamps (p50 ${formatMs(run.result.p50)} / p99 ${formatMs(run.result.p99)} ms; ${breakdown.keys} keys traced end to end, ${breakdown.missing} not matched${dumped.tracesRuns ? "" : "; function runs not timed: the runtime has no invoke to wrap"}):`,
      );
      printHops("  where the time goes between typing a key and the other client applying it", breakdown.hops);
      const reruns = breakdown.reruns.map((r) => `${r.udfPath} ×${r.perKey.toFixed(1)} (${r.msPerKey.toFixed(1)} ms)`).join(", ");
      console.log(`  queries run between a key's commit and its push, per key: ${reruns || "none timed"}`);
      const perKey = (n: number): string => (n / run.typed.length).toFixed(1);
      const count = <T,>(items: readonly T[], key: (item: T) => string): string => {
        const counts = new Map<string, number>();
        for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
        return [...counts].map(([k, n]) => `${k} ${perKey(n)}`).join(", ");
      };
      console.log(`  frames per key typed, in: ${count(dumped.trace.frames.filter((f) => f.dir === "in"), (f) => f.type)}`);
      console.log(`  frames per key typed, out: ${count(dumped.trace.frames.filter((f) => f.dir === "out"), (f) => f.type)}`);
      const runs = new Map<string, { n: number; ms: number }>();
      for (const r of dumped.trace.runs) {
        const name = `${r.kind} ${r.udfPath}`;
        const seen = runs.get(name) ?? { n: 0, ms: 0 };
        runs.set(name, { n: seen.n + 1, ms: seen.ms + r.end - r.start });
      }
      const cells = [...runs].map(([name, { n, ms }]) => `${name} ${perKey(n)} (${(ms / run.typed.length).toFixed(2)} ms)`);
      console.log(`  function runs per key typed (their ms per key): ${cells.join(", ")}; COMMITs ${perKey(dumped.trace.commits.length)}`);
      const { realm } = dumped.trace;
      if (realm.count > 0) {
        console.log(
          `  function realm (node:vm) entries over the row: ${(realm.count / run.typed.length).toFixed(1)} per key typed, ${(realm.ms / run.typed.length).toFixed(2)} ms per key (${((realm.ms / realm.count) * 1000).toFixed(0)} µs each, incl. the code run inside)`,
        );
      }
    } catch (e) {
      if (!(e instanceof RowFailed)) throw e;
      console.log(`\nhop breakdown not run: ${e.message}`);
    } finally {
      traced.stop();
    }
  }
} finally {
  for (const s of Object.values(servers)) s.stop();
  for (const w of workers) w.child.kill("SIGTERM");
  neighbour?.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}
mkdirSync(path.join(repo, "test-results"), { recursive: true });
writeFileSync(
  path.join(repo, "test-results", "bench-clients.json"),
  `${JSON.stringify({ seconds: SECONDS, drainSeconds: DRAIN_SECONDS, procs: PROCS, rows: results, breakdown: breakdown?.hops.map((h) => ({ name: h.name, p50: percentile([...h.values].sort((a, b) => a - b), 50) })) }, null, 2)}\n`,
);
