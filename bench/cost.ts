/**
 * What a keystroke and an idle minute cost on the server, measured through the real local
 * backend and real ConvexClients running the project's functions as they are right now.
 *
 * Per keystroke, for notes of 10 KB / 100 KB / 1 MB with 2 / 10 / 50 clients in the note
 * (one types 5 keys/s in the middle, the others follow with their carets where the editor
 * would put them): documents and bytes read and written by the mutations, documents read
 * by the subscribed queries' re-runs, subscription pushes and bytes pushed. Then presence:
 * writes and pushes per second with 50 clients idle, and with some of them typing.
 *
 * How it counts (nothing here is a model of the functions: every figure is observed):
 * - Reads and writes: the backend runs in this process, and every database syscall of a
 *   function run (get, query stream, page, insert, patch, replace, delete, schedule) is
 *   counted by wrapping the backend's FunctionRun.syscallJson, and attributed to the function
 *   when Runtime.invokeWith reports the run done. Bytes are the documents' JSON sizes, the way Convex bills
 *   database bandwidth by document size. Retried or failed runs count too (they cost).
 * - Pushes: each ConvexClient gets a WebSocket that counts the QueryUpdated modifications of
 *   every Transition it receives, per subscribed function, and their JSON bytes.
 *
 * npm run bench:cost [-- --sizes 10000,100000,990000 --clients 2,10,50 --keys 30
 *                        --idle-seconds 45 --typing-seconds 20 --typists 2
 *                        --parts keystrokes,presence]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ConvexClient } from "convex/browser";
import type { JSONValue } from "convex/values";
import WebSocket from "ws";
import { FunctionRun } from "../backend/function-run";
import { Runtime } from "../backend/runtime";
import { startBackend } from "../backend/serve";
import { createSpace, Space } from "../client/space";
import type { NoteSession, SpaceCredentials } from "../client/types";
import { transformPosition, type TextOp } from "../sync/textOp";

const repo = path.resolve(path.dirname(process.argv[1] ?? "bench/cost.ts"), "..");
const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "10000,100000,990000" },
    clients: { type: "string", default: "2,10,50" },
    keys: { type: "string", default: "30" },
    "idle-seconds": { type: "string", default: "45" },
    "typing-seconds": { type: "string", default: "20" },
    typists: { type: "string", default: "2" },
    parts: { type: "string", default: "keystrokes,presence" },
  },
});
const sizes = values.sizes.split(",").map(Number);
const clientCounts = values.clients.split(",").map(Number);
const KEYS = Number(values.keys);
const IDLE_SECONDS = Number(values["idle-seconds"]);
const TYPING_SECONDS = Number(values["typing-seconds"]);
const TYPISTS = Number(values.typists);
const KEYS_PER_SECOND = 5;
const PRESENCE_CLIENTS = 50;
const parts = new Set(values.parts.split(","));

// ---- Database cost, counted at the backend's syscall layer -------------------------------

interface Cost {
  calls: number;
  failed: number;
  docsRead: number;
  bytesRead: number;
  docsWritten: number;
  bytesWritten: number;
}

const zero = (): Cost => ({ calls: 0, failed: 0, docsRead: 0, bytesRead: 0, docsWritten: 0, bytesWritten: 0 });

/** Cost of each function since the last reset, by "kind udfPath". */
let costs = new Map<string, Cost>();
const firstErrors = new Map<string, string>();
const ofRun = new WeakMap<object, Cost>();

type SyscallJson = (this: FunctionRun, op: string, args: Record<string, JSONValue>) => string;
type Invoked = { outcome: { ok: boolean; message?: string }; run: object };
type InvokeWith = (this: Runtime, udfPath: string, kind: string, args: unknown, identity: unknown, ts: unknown, options: unknown, done: (invoked: Invoked) => void) => void;

function runCost(run: object): Cost {
  let cost = ofRun.get(run);
  if (!cost) ofRun.set(run, (cost = zero()));
  return cost;
}

function storedBytes(run: FunctionRun, id: JSONValue | undefined): number {
  return typeof id === "string" ? (run.storage.getDocument(id)?.json.length ?? 0) : 0;
}

function installProbes(): void {
  const runProto = FunctionRun.prototype as unknown as { syscallJson: SyscallJson };
  const runtimeProto = Runtime.prototype as unknown as { invokeWith: InvokeWith };
  if (typeof runProto.syscallJson !== "function" || typeof runtimeProto.invokeWith !== "function") {
    throw new Error("bench/cost.ts: the backend no longer has FunctionRun.syscallJson / Runtime.invokeWith; update the probes");
  }
  // Every syscall of a function passes here (the hottest reads answer with stored JSON
  // without going through FunctionRun.syscall).
  const syscallJson = runProto.syscallJson;
  runProto.syscallJson = function (op, args) {
    const cost = runCost(this);
    const read = (doc: JSONValue) => {
      cost.docsRead += 1;
      cost.bytesRead += JSON.stringify(doc).length;
    };
    const wrote = (bytes: number) => {
      cost.docsWritten += 1;
      cost.bytesWritten += bytes;
    };
    if (op === "1.0/remove") wrote(storedBytes(this, args.id));
    const text = syscallJson.call(this, op, args);
    const result = JSON.parse(text) as JSONValue;
    switch (op) {
      case "1.0/get":
        if (result !== null) read(result);
        break;
      case "1.0/queryStreamNext": {
        const value = (result as { value: JSONValue }).value;
        if (value !== null) read(value);
        break;
      }
      case "1.0/queryPage":
        for (const doc of (result as { page: JSONValue[] }).page) read(doc);
        break;
      case "1.0/insert":
        wrote(storedBytes(this, (result as { _id: string })._id));
        break;
      case "1.0/shallowMerge":
      case "1.0/replace":
        wrote(storedBytes(this, args.id));
        break;
      default:
        // Scheduling writes a row of _scheduled_functions in Convex.
        if (/schedule|cancel_job/.test(op)) wrote(JSON.stringify(args).length);
    }
    return text;
  };
  const invokeWith = runtimeProto.invokeWith;
  runtimeProto.invokeWith = function (udfPath, kind, args, identity, ts, options, done) {
    invokeWith.call(this, udfPath, kind, args, identity, ts, options, (result) => {
      attribute(udfPath, kind, result);
      done(result);
    });
  };
}

function attribute(udfPath: string, kind: string, result: Invoked): void {
  const name = `${kind} ${udfPath.replace(/\.js:/, ":")}`;
  const total = costs.get(name) ?? zero();
  costs.set(name, total);
  const run = runCost(result.run);
  total.calls += 1;
  if (!result.outcome.ok) {
    total.failed += 1;
    if (!firstErrors.has(name)) firstErrors.set(name, result.outcome.message ?? "failed");
  }
  for (const k of ["docsRead", "bytesRead", "docsWritten", "bytesWritten"] as const) total[k] += run[k];
}

// ---- Pushes, counted by each client's WebSocket ------------------------------------------

interface Pushes {
  count: number;
  bytes: number;
}

let pushes = new Map<string, Pushes>();
let lastPushAt = Date.now();

/** A `ws` WebSocket that counts the query updates it receives, per subscribed function. */
class CountingSocket extends WebSocket {
  private readonly queries = new Map<number, string>();

  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols);
    this.on("message", (data: WebSocket.RawData) => {
      const message = JSON.parse(data.toString()) as { type: string; modifications?: { type: string; queryId: number }[] };
      if (message.type !== "Transition") return;
      for (const mod of message.modifications ?? []) {
        if (mod.type !== "QueryUpdated") continue;
        lastPushAt = Date.now();
        const name = this.queries.get(mod.queryId) ?? "unknown";
        const entry = pushes.get(name) ?? { count: 0, bytes: 0 };
        pushes.set(name, entry);
        entry.count += 1;
        entry.bytes += JSON.stringify(mod).length;
      }
    });
  }

  override send(data: unknown, ...rest: unknown[]): void {
    if (typeof data === "string") {
      const message = JSON.parse(data) as { type: string; modifications?: { type: string; queryId: number; udfPath?: string }[] };
      if (message.type === "ModifyQuerySet") {
        for (const mod of message.modifications ?? []) {
          if (mod.type === "Add" && mod.udfPath) this.queries.set(mod.queryId, mod.udfPath.replace(/\.js:/, ":"));
        }
      }
    }
    (super.send as (...a: unknown[]) => void)(data, ...rest);
  }
}

function countingClient(url: string): ConvexClient {
  return new ConvexClient(url, {
    skipConvexDeploymentUrlCheck: true,
    unsavedChangesWarning: false,
    webSocketConstructor: CountingSocket as unknown as typeof globalThis.WebSocket,
    logger: false,
  });
}

function reset(): void {
  costs = new Map();
  pushes = new Map();
}

// ---- Clients in a note ---------------------------------------------------------------------

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function until(what: string, ok: () => boolean, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Waits until no client has had a query update for a while (throttled presence included). */
async function quiet(ms = 600): Promise<void> {
  await until("the clients' subscriptions to go quiet", () => Date.now() - lastPushAt > ms);
}

/** Opens the note, trying again when the busy machine made the open query overrun its time limit. */
async function open(convex: ConvexClient, creds: SpaceCredentials, noteId: string, name: string): Promise<NoteSession> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await new Space(convex, creds).open(noteId, { user: { name, color: "#888888" }, log: (m) => presenceLog.push(m) });
    } catch (e) {
      if (attempt === 10 || !/timed out/.test(String(e))) throw e;
      console.log(`retrying open for ${name}: ${String(e).split("\n")[1] ?? e}`);
      await sleep(1000);
    }
  }
}

interface Member {
  convex: ConvexClient;
  session: NoteSession;
  caret: number;
}

const presenceLog: string[] = [];

async function join(url: string, creds: SpaceCredentials, noteId: string, n: number): Promise<Member[]> {
  const members: Member[] = [];
  for (let i = 0; i < n; i++) {
    const convex = countingClient(url);
    const session = await open(convex, creds, noteId, `bench${i}`);
    const member = { convex, session, caret: Math.floor((session.text.length * (i + 1)) / (n + 1)) };
    session.setSelections([{ anchor: member.caret, head: member.caret }]);
    // As the editor does: a teammate's edit moves our caret, and the new selection is reported.
    session.onRemoteOp((op: TextOp) => {
      member.caret = transformPosition(member.caret, op);
      session.setSelections([{ anchor: member.caret, head: member.caret }]);
    });
    members.push(member);
  }
  return members;
}

async function leave(members: Member[]): Promise<void> {
  for (const m of members) await m.session.close();
  for (const m of members) await m.convex.close();
}

/** One keystroke at the member's caret, and the caret after it, as the extension sends them. */
function keystroke(m: Member): void {
  const length = m.session.text.length;
  const op: TextOp = [m.caret, "k", length - m.caret].filter((c) => c !== 0);
  m.session.applyLocal(op);
  m.caret += 1;
  m.session.setSelections([{ anchor: m.caret, head: m.caret }]);
}

async function converged(members: Member[]): Promise<void> {
  await until("every client to have every keystroke", () => {
    const text = members[0]!.session.text;
    return members.every((m) => m.session.status.unconfirmed === 0 && m.session.text === text);
  });
}

/**
 * A note of `bytes` characters. Built from 100 kB pieces (one in notes:create, the rest
 * typed as pastes) so no single call runs near Convex's 1 s limit on a busy machine.
 */
async function createNote(url: string, admin: ConvexClient, creds: SpaceCredentials, title: string, bytes: number): Promise<string> {
  const text = noteText(bytes);
  const noteId = await new Space(admin, creds).create(title, text.slice(0, PIECE));
  if (bytes <= PIECE) return noteId;
  const convex = countingClient(url);
  const writer = await new Space(convex, creds).open(noteId, { user: { name: "setup", color: "#888888" }, presence: false });
  for (let at = PIECE; at < bytes; at += PIECE) {
    writer.applyLocal([at, text.slice(at, at + PIECE)]);
    await until("a 100 kB piece of the note to be confirmed", () => writer.status.unconfirmed === 0);
  }
  await writer.close();
  await convex.close();
  return noteId;
}

const PIECE = 100_000;

function noteText(bytes: number): string {
  const line = "The quick brown fox jumps over the lazy dog; shared notes sync. ";
  return line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
}

// ---- Measurements ----------------------------------------------------------------------------

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
const kb = (bytes: number) => fmt(bytes / 1024, bytes / 1024 < 10 ? 2 : 1);
const noteSize = (bytes: number) => `${fmt(bytes / 1000, 0)} kB`;

function sum(filter: (name: string) => boolean): Cost {
  const total = zero();
  for (const [name, c] of costs) {
    if (!filter(name)) continue;
    for (const k of Object.keys(total) as (keyof Cost)[]) total[k] += c[k];
  }
  return total;
}

/** The counts so far, apart from the live counters (runs still finishing keep adding to those). */
function snapshot(): [string, Cost][] {
  return [...costs].map(([name, c]) => [name, { ...c }]);
}

function pushTotal(filter: (name: string) => boolean): Pushes {
  const total = { count: 0, bytes: 0 };
  for (const [name, p] of pushes) {
    if (!filter(name)) continue;
    total.count += p.count;
    total.bytes += p.bytes;
  }
  return total;
}

const isPresence = (name: string) => /presence:/.test(name);

interface KeystrokeRow {
  size: number;
  clients: number;
  mutation: Cost;
  reruns: Cost;
  syncPushes: Pushes;
  presencePushes: Pushes;
  functions: [string, Cost][];
}

/** The space every measurement makes its notes in (spaces:create is rate-limited per caller). */
interface Home {
  readonly url: string;
  readonly admin: ConvexClient;
  readonly creds: SpaceCredentials;
}

async function perKeystroke({ url, admin, creds }: Home, size: number, n: number): Promise<KeystrokeRow> {
  const noteId = await createNote(url, admin, creds, `cost ${size} ${n}`, size);
  const members = await join(url, creds, noteId, n);
  await quiet();
  reset();
  const typist = members[0]!;
  for (let i = 0; i < KEYS; i++) {
    keystroke(typist);
    await sleep(1000 / KEYS_PER_SECOND);
  }
  await converged(members);
  await quiet();
  const row: KeystrokeRow = {
    size,
    clients: n,
    mutation: sum((name) => name.startsWith("mutation ") && !isPresence(name)),
    reruns: sum((name) => name.startsWith("query ") && !isPresence(name)),
    syncPushes: pushTotal((name) => !isPresence(name)),
    presencePushes: pushTotal(isPresence),
    functions: snapshot().sort(([a], [b]) => (a < b ? -1 : 1)),
  };
  await leave(members);
  return row;
}

interface PresenceRow {
  phase: string;
  seconds: number;
  writes: Cost;
  pushes: Pushes;
  functions: [string, Cost][];
}

async function presenceRates({ url, admin, creds }: Home): Promise<PresenceRow[]> {
  const noteId = await createNote(url, admin, creds, "presence", 10_000);
  const members = await join(url, creds, noteId, PRESENCE_CLIENTS);
  await quiet(1000);
  const rows: PresenceRow[] = [];
  const measure = async (phase: string, during: () => Promise<void>) => {
    reset();
    const started = Date.now();
    await during();
    const elapsed = (Date.now() - started) / 1000;
    rows.push({
      phase,
      seconds: elapsed,
      writes: sum((name) => name.startsWith("mutation ") && isPresence(name)),
      pushes: pushTotal(isPresence),
      functions: snapshot().filter(([name]) => isPresence(name)),
    });
  };
  await measure(`${PRESENCE_CLIENTS} idle`, () => sleep(IDLE_SECONDS * 1000));
  const typists = members.slice(0, TYPISTS);
  await measure(`${PRESENCE_CLIENTS}, ${TYPISTS} typing ${KEYS_PER_SECOND} keys/s`, async () => {
    const end = Date.now() + TYPING_SECONDS * 1000;
    while (Date.now() < end) {
      for (const t of typists) keystroke(t);
      await sleep(1000 / KEYS_PER_SECOND);
    }
  });
  await converged(members);
  await leave(members);
  return rows;
}

function printKeystrokes(rows: KeystrokeRow[]): void {
  console.log(`\nPer keystroke (${KEYS} keys at ${KEYS_PER_SECOND}/s by one client; the others follow):\n`);
  console.log("| note | clients | mutation docs read | KB read | docs written | KB written | query re-runs: docs read | KB read | op pushes | KB pushed | bytes/client | presence pushes | presence KB |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) {
    const per = (n: number) => n / KEYS;
    console.log(
      `| ${noteSize(r.size)} | ${r.clients} | ${fmt(per(r.mutation.docsRead))} | ${kb(per(r.mutation.bytesRead))} | ${fmt(per(r.mutation.docsWritten))} | ${kb(per(r.mutation.bytesWritten))} | ${fmt(per(r.reruns.docsRead))} | ${kb(per(r.reruns.bytesRead))} | ${fmt(per(r.syncPushes.count))} | ${kb(per(r.syncPushes.bytes))} | ${fmt(per(r.syncPushes.bytes) / r.clients, 0)} | ${fmt(per(r.presencePushes.count))} | ${kb(per(r.presencePushes.bytes))} |`,
    );
  }
  console.log("\nBy function, per keystroke (calls, docs read / KB, docs written / KB):");
  for (const r of rows) {
    const parts = r.functions.map(
      ([name, c]) =>
        `${name} ${fmt(c.calls / KEYS, 2)}× r ${fmt(c.docsRead / KEYS)}/${kb(c.bytesRead / KEYS)} w ${fmt(c.docsWritten / KEYS)}/${kb(c.bytesWritten / KEYS)}${c.failed ? ` FAILED ${c.failed}` : ""}`,
    );
    console.log(`  ${noteSize(r.size)} × ${r.clients}: ${parts.join("; ")}`);
  }
}

function printPresence(rows: PresenceRow[]): void {
  console.log("\nPresence, per second:\n");
  console.log("| clients | seconds | presence mutations/s | docs written/s | KB written/s | list pushes/s | KB pushed/s |");
  console.log("|---|---|---|---|---|---|---|");
  for (const r of rows) {
    const per = (n: number) => n / r.seconds;
    console.log(
      `| ${r.phase} | ${fmt(r.seconds, 0)} | ${fmt(per(r.writes.calls), 2)} | ${fmt(per(r.writes.docsWritten), 2)} | ${kb(per(r.writes.bytesWritten))} | ${fmt(per(r.pushes.count), 2)} | ${kb(per(r.pushes.bytes))} |`,
    );
    for (const [name, c] of r.functions) {
      console.log(`  ${name}: ${fmt(c.calls / r.seconds, 2)}/s, ${fmt(c.docsWritten / r.seconds, 2)} docs written/s${c.failed ? `, FAILED ${c.failed}` : ""}`);
    }
  }
}

async function main(): Promise<void> {
  installProbes();
  const dataDir = mkdtempSync(path.join(tmpdir(), "shared-notes-cost-"));
  const backend = await startBackend({ port: 0, dataDir, functionsDir: path.join(repo, "convex") });
  const admin = countingClient(backend.url);
  try {
    const home: Home = { url: backend.url, admin, creds: await createSpace(admin) };
    const keystrokes: KeystrokeRow[] = [];
    for (const size of parts.has("keystrokes") ? sizes : []) {
      for (const n of clientCounts) {
        try {
          keystrokes.push(await perKeystroke(home, size, n));
          process.stderr.write(`measured ${noteSize(size)} × ${n}\n`);
        } catch (e) {
          // Say so and go on: the other rows are still worth having.
          console.log(`${noteSize(size)} × ${n}: not measured: ${String(e).split("\n").slice(0, 2).join(" ")}`);
        }
      }
    }
    if (keystrokes.length > 0) printKeystrokes(keystrokes);
    if (parts.has("presence")) printPresence(await presenceRates(home));
    if (costs.size === 0) {
      throw new Error("the probes saw no function run: the backend's syscall path changed; update bench/cost.ts");
    }
    const failures = [...firstErrors];
    if (failures.length > 0) {
      console.log("\nFailed function runs (first error of each):");
      for (const [name, message] of failures) console.log(`  ${name}: ${message.split("\n").slice(0, 2).join(" ")}`);
    }
    if (presenceLog.length > 0) console.log(`\nClient log (${presenceLog.length} lines), first: ${presenceLog[0]}`);
  } finally {
    await admin.close();
    await backend.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
