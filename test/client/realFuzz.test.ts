// Fuzz of the product itself: 3–5 real NoteSessions, each over its own real ConvexClient
// and a TCP proxy, against the real local backend (real SQLite files) with its fault
// injection on (conflict errors, "overloaded", sockets dropped after a commit), plus
// random typing (emoji, CRLF, 500 KB pastes), links cut and taken down, window restarts
// that share one pending store, backend restarts, and (long mode) offline periods during
// which a teammate makes more than 1,000 revisions.
//
// Invariant: every session and the server end with the same text, and every character
// typed is in it exactly once, unless a definitive rejection was shown (onRejected).
// Sessions type from alphabets of their own, so counting characters tells lost from
// duplicated; they delete only the filler the note starts with, so deleting never
// removes anything typed.
//
//   npx vitest run test/client/realFuzz.test.ts        # lean: 20 schedules (FUZZ_REAL_SCHEDULES)
//   FUZZ_REAL_LONG=1 FUZZ_REAL_SCHEDULES=50 npx vitest run test/client/realFuzz.test.ts
//                                                      # long: 150-300 steps, bursts, more faults
//   SEED=1234 [FUZZ_REAL_LONG=1] npx vitest run ...    # replay one schedule (SEED_BASE=n: a run)
//   FUZZ_REAL_TRACE=1                                  # print every step and what sessions log
//
// Each run prints its base seed and a summary (schedules, faults, characters typed, lost,
// duplicated). Seeds that found a bug are kept in fuzzCases.ts and always run. Replays are
// as close as timing allows: the schedule is fixed by the seed, the network's timing is not.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConvexClient } from "convex/browser";
import { FaultDice, type Faults } from "../../backend/faults";
import { startBackend, type RunningBackend } from "../../backend/serve";
import { api } from "../../convex/_generated/api";
import type { Id } from "../../convex/_generated/dataModel";
import { FilePendingStore } from "../../client/pendingStore";
import { Space } from "../../client/space";
import type { NoteSession, RejectedEdit, SpaceCredentials } from "../../client/types";
import { OpBuilder } from "../../sync/textOp";
import { freePort } from "../backend/helpers";
import { Random } from "../../harness/random";
import { boundaries } from "../../harness/textGen";
import { TcpProxy } from "../../harness/tcpProxy";
import { FUZZ_CASES } from "./fuzzCases";
import { cleanup, client, countChars, newSpaceWithNote, sleep, tempDir, waitFor } from "./helpers";

const LONG = process.env.FUZZ_REAL_LONG === "1";
const SCHEDULES = Number(process.env.FUZZ_REAL_SCHEDULES ?? 20);
const BASE_SEED = Number(process.env.SEED_BASE ?? Math.floor(Math.random() * 0x7fffffff));
/** FUZZ_REAL_TRACE=1 prints every step, to see what a failing seed did. */
const started = Date.now();
const trace = process.env.FUZZ_REAL_TRACE === "1" ? (line: string) => console.log(`${Date.now() - started} ms ${line}`) : () => {};
/** How long the sessions get to deliver everything once the faults stop. */
const SETTLE_MS = LONG ? 120_000 : 25_000;

/** What each window types: its own letters and emoji (counted per window), plus shared CRLF and spaces. */
const ALPHABETS = ["ab😀", "cd🎉", "ef👍🏽", "gh中", "ij🙂"];
const SHARED = [" ", "\r\n", "\n"];
/** What the burst writer types, in batches of keystrokes sent at once: 1,080 revisions. */
const BURST_CHAR = "r";
const BURST_BATCH = 120;
const BURST_BATCHES = 9;
/** The note starts with this; only it is ever deleted. */
const FILLER = "·";
/** A paste: ~500 KB of lines in a character no one types. */
const PASTE_CHAR = "p";
const PASTE = `${PASTE_CHAR.repeat(99)}\n`.repeat(5_000);

interface Stats {
  schedules: number;
  typed: number;
  faults: Record<string, number>;
  lost: number;
  duplicated: number;
}
const stats: Stats = { schedules: 0, typed: 0, faults: {}, lost: 0, duplicated: 0 };

/**
 * The backend's own fault injection (backend/faults.ts), on for the whole run: mutations
 * failed with Convex's conflict error or refused as overloaded, sockets dropped after a
 * commit before its answer. Seeded from the run's base seed.
 */
const FAULTS: Faults = LONG
  ? { conflictRate: 0.05, overloadRate: 0.005, dropAfterCommitRate: 0.02, delayMs: Number(process.env.FUZZ_REAL_DELAY_MS ?? 0), seed: BASE_SEED }
  : { conflictRate: 0.03, overloadRate: 0.003, dropAfterCommitRate: 0.01, seed: BASE_SEED };

// FUZZ_REAL_DELAY_MS=2 also holds every message to a client (seed 7001 in long mode once
// stalled on it: see the faults test "many mutations in flight").

/** Counts the faults the backend injects, by kind (observing its dice, changing nothing). */
function countInjectedFaults(): void {
  const roll = FaultDice.prototype.roll;
  FaultDice.prototype.roll = function (this: FaultDice, rate: number | undefined): boolean {
    const hit = roll.call(this, rate);
    if (hit) {
      const kind = (Object.keys(this.faults) as (keyof Faults)[]).find((k) => k.endsWith("Rate") && this.faults[k] === rate);
      fault(`backend ${kind ?? "fault"}`);
    }
    return hit;
  };
}

/** One backend for the whole run, restarted in place (same data folder and port) as a fault. */
class Server {
  backend!: RunningBackend;
  port = 0;
  readonly dataDir = tempDir();

  async start(): Promise<void> {
    this.port ||= await freePort();
    this.backend = await startBackend({ port: this.port, dataDir: this.dataDir, faults: FAULTS });
  }

  async restart(): Promise<void> {
    const t0 = Date.now();
    await this.backend.restart();
    trace(`  backend restart: up again after ${Date.now() - t0} ms`);
  }
}

/** A VS Code window with the note open: a proxy (its link), a client, and a session. */
interface Window {
  readonly index: number;
  readonly proxy: TcpProxy;
  convex: ConvexClient;
  session: NoteSession;
  offlineUntil: number;
}

const server = new Server();
beforeAll(async () => {
  countInjectedFaults();
  await server.start();
});
afterAll(async () => {
  await server.backend.close();
  await cleanup();
  const { schedules, typed, faults, lost, duplicated } = stats;
  console.log(
    `real-session fuzz: base seed ${BASE_SEED}, ${schedules} schedules, ${typed} characters typed, ` +
      `faults ${JSON.stringify(faults)}, lost ${lost}, duplicated ${duplicated}`,
  );
});

function seeds(): number[] {
  if (process.env.SEED !== undefined) return [Number(process.env.SEED)];
  return [...FUZZ_CASES.map((c) => c.seed), ...Array.from({ length: SCHEDULES }, (_, i) => BASE_SEED + i)];
}

describe("real sessions under faults", () => {
  for (const seed of seeds()) {
    it(`schedule ${seed}: every character typed is in every session and the server exactly once`, async () => {
      try {
        await runSchedule(seed);
      } catch (err) {
        const rerun = `SEED=${seed}${LONG ? " FUZZ_REAL_LONG=1" : ""}`;
        throw new Error(`schedule failed with seed ${seed} (rerun with ${rerun}): ${(err as Error).message}`, { cause: err });
      }
    }, LONG ? 600_000 : 90_000);
  }
});

function fault(name: string): void {
  stats.faults[name] = (stats.faults[name] ?? 0) + 1;
}

async function runSchedule(seed: number): Promise<void> {
  const rng = new Random(seed);
  const url = `http://127.0.0.1:${server.port}`;
  const { creds, noteId } = await retried(() => newSpaceWithNote(url, "Fuzz"));
  // Filler to delete, so deletions never touch typed text.
  const reader = client(url);
  const auth = { spaceId: creds.spaceId as Id<"spaces">, key: creds.key, noteId: noteId as Id<"notes"> };
  const seedWriter = await new Space(reader, creds).open(noteId, { user: { name: "seed", color: "#000000" }, presence: false });
  seedWriter.applyLocal([FILLER.repeat(200)]);
  await seedWriter.flush();
  await seedWriter.close();

  const store = new FilePendingStore(tempDir());
  const expected = new Map<string, number>();
  const typed = (text: string): void => {
    for (const ch of text) expected.set(ch, (expected.get(ch) ?? 0) + 1);
    stats.typed += [...text].length;
  };
  // A definitive rejection is shown to the user with the text not saved: that text is exempt.
  const rejected = (edit: RejectedEdit): void => {
    fault("definitive rejection");
    trace(`  rejected (${edit.code}): ${edit.message}`);
    for (const ch of edit.text) expected.set(ch, (expected.get(ch) ?? 0) - 1);
  };
  const windows: Window[] = [];
  const count = 3 + rng.int(3);
  for (let i = 0; i < count; i++) {
    const proxy = await new TcpProxy({ targetPort: server.port }).start();
    const convex = client(proxy.url);
    const session = await openWindow(convex, creds, noteId, store, i, rejected);
    windows.push({ index: i, proxy, convex, session, offlineUntil: -1 });
  }

  const steps = LONG ? 150 + rng.int(150) : 20 + rng.int(10);
  // The burst costs over a thousand commits (a minute on a busy 2-core machine with faults
  // on), so only the long mode has it.
  const burstAt = LONG && rng.chance(0.5) ? rng.int(steps) : -1;
  const pasteAt = (LONG ? rng.chance(0.3) : seed % 20 === 10) ? rng.int(steps) : -1;
  const restartAt = rng.chance(LONG ? 0.3 : 0.15) ? rng.int(steps) : -1;
  try {
    for (let step = 0; step < steps; step++) {
      for (const w of windows) {
        if (w.offlineUntil === step) {
          w.proxy.restore();
          w.offlineUntil = -1;
        }
      }
      const w = rng.pick(windows);
      const roll = rng.next();
      trace(`step ${step}: w${w.index} roll ${roll.toFixed(2)} text ${w.session.text.length} ${JSON.stringify(w.session.status)}`);
      if (step === burstAt) {
        await burst(rng, windows, { convex: reader, auth, clientId: `burst${seed}`, seq: 0 }, typed);
      } else if (step === pasteAt) {
        fault("paste 500 KB");
        insertAt(w.session, rng, PASTE);
        typed(PASTE);
      } else if (step === restartAt) {
        fault("backend restart");
        await server.restart();
      } else if (roll < 0.62) {
        const piece = typePiece(rng, w.index);
        insertAt(w.session, rng, piece);
        typed(piece);
      } else if (roll < 0.72) {
        deleteFiller(w.session, rng);
      } else if (roll < 0.8) {
        if (w.offlineUntil < 0) {
          fault("offline");
          w.proxy.goDown();
          w.offlineUntil = step + 1 + rng.int(10);
        }
      } else if (roll < 0.87) {
        fault("link cut");
        w.proxy.cut();
      } else if (roll < 0.94) {
        fault("window restart");
        await restartWindow(w, creds, noteId, store, rejected);
      }
      if (rng.chance(0.5)) await sleep(rng.int(8));
    }
    for (const w of windows) w.proxy.restore();
    trace("faults off");
    await converge(windows, () => serverNow(reader, creds, noteId), expected);
  } finally {
    for (const w of windows) {
      await closeWindow(w);
      await w.proxy.close();
    }
    await reader.close();
  }
  stats.schedules += 1;
}

function sessionLog(i: number): (message: string) => void {
  return (message) => trace(`  w${i}: ${message}`);
}

async function openWindow(
  convex: ConvexClient,
  creds: SpaceCredentials,
  noteId: string,
  store: FilePendingStore,
  i: number,
  rejected: (edit: RejectedEdit) => void,
): Promise<NoteSession> {
  const space = new Space(convex, creds);
  space.onOrphanRejected(rejected);
  const session = await space.open(noteId, { user: { name: `w${i}`, color: "#00aaff" }, store, presence: i % 2 === 0, log: sessionLog(i) });
  session.onRejected(rejected);
  return session;
}

/** The window closes (its unconfirmed edits stay in the shared store) and opens again. */
/**
 * Closes the session as a window being closed does: without waiting for the network (a
 * session's close leaves presence, which cannot finish while the link is down).
 */
async function closeWindow(w: Window): Promise<void> {
  await Promise.race([w.session.close(), sleep(200)]);
  await w.convex.close();
}

async function restartWindow(w: Window, creds: SpaceCredentials, noteId: string, store: FilePendingStore, rejected: (edit: RejectedEdit) => void): Promise<void> {
  await closeWindow(w);
  w.convex = client(w.proxy.url);
  // A window opening while its link is down would wait for it, as VS Code does.
  w.proxy.restore();
  w.offlineUntil = -1;
  w.session = await openWindow(w.convex, creds, noteId, store, w.index, rejected);
}

/**
 * One window goes offline with edits pending while a teammate's client makes more than
 * 1,000 revisions: keystrokes sent straight to ops:submit, many at a time, so the burst
 * takes seconds rather than a thousand round trips.
 */
async function burst(rng: Random, windows: Window[], writer: Writer, typed: (text: string) => void): Promise<void> {
  fault("offline through 1,000+ revisions");
  const away = windows[0]!;
  away.proxy.goDown();
  trace(`  burst: w${away.index} offline`);
  await waitFor(() => away.session.status.connection !== "connected", "the offline window to notice");
  for (let i = 0; i < 3; i++) {
    const piece = typePiece(rng, away.index);
    insertAt(away.session, rng, piece);
    typed(piece);
  }
  deleteFiller(away.session, rng);
  for (let batch = 0; batch < BURST_BATCHES; batch++) {
    // Each batch is based on the head when it starts; the server transforms each keystroke
    // past the ones before it, as it does for any client.
    const head = await writer.convex.query(api.notes.open, writer.auth);
    await Promise.all(
      Array.from({ length: BURST_BATCH }, () => {
        writer.seq += 1;
        const op = new OpBuilder().insert(BURST_CHAR).retain(head.text.length).build();
        const args = { ...writer.auth, clientId: writer.clientId, seq: writer.seq, baseRev: head.rev, op: [...op] };
        return retried(() => writer.convex.mutation(api.ops.submit, args));
      }),
    );
    typed(BURST_CHAR.repeat(BURST_BATCH));
    trace(`  burst batch ${batch} done at revision ${head.rev + BURST_BATCH}`);
  }
  away.proxy.restore();
  away.offlineUntil = -1;
}

/** A teammate's client writing straight to the server. */
interface Writer {
  readonly convex: ConvexClient;
  readonly auth: { spaceId: Id<"spaces">; key: string; noteId: Id<"notes"> };
  readonly clientId: string;
  seq: number;
}

/**
 * The test's own setup and burst calls, tried again when the backend injects a failure
 * (a resend of the same submit is deduplicated by the server).
 */
async function retried<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (attempt >= 20) throw err;
      await sleep(20 * attempt);
    }
  }
}

function typePiece(rng: Random, index: number): string {
  const own = [...ALPHABETS[index]!];
  let piece = "";
  const n = 1 + rng.int(4);
  for (let i = 0; i < n; i++) piece += rng.chance(0.8) ? rng.pick(own) : rng.pick(SHARED);
  return piece;
}

function insertAt(session: NoteSession, rng: Random, text: string): void {
  const cuts = boundaries(session.text);
  const at = rng.pick(cuts);
  session.applyLocal(new OpBuilder().retain(at).insert(text).retain(session.text.length - at).build());
}

/** Deletes a short run of filler, if the window still sees some. */
function deleteFiller(session: NoteSession, rng: Random): void {
  const text = session.text;
  const starts: number[] = [];
  for (let i = text.indexOf(FILLER); i >= 0; i = text.indexOf(FILLER, i + 1)) starts.push(i);
  if (starts.length === 0) return;
  const at = rng.pick(starts);
  let n = 1;
  while (n < 5 && text[at + n] === FILLER) n += 1;
  session.applyLocal(new OpBuilder().retain(at).delete(n).retain(text.length - at - n).build());
}

async function serverNow(reader: ConvexClient, creds: SpaceCredentials, noteId: string): Promise<string> {
  const auth = { spaceId: creds.spaceId as Id<"spaces">, key: creds.key, noteId: noteId as Id<"notes"> };
  return (await reader.query(api.notes.open, auth)).text;
}

async function converge(windows: Window[], server: () => Promise<string>, expected: Map<string, number>): Promise<void> {
  const flushed = windows.map((w) => w.session.flush());
  const timeout = sleep(SETTLE_MS).then(() => "timeout" as const);
  if ((await Promise.race([Promise.all(flushed), timeout])) === "timeout") {
    const status = windows.map((w) => `w${w.index}: ${JSON.stringify(w.session.status)}`).join("; ");
    throw new Error(`edits still unconfirmed after ${SETTLE_MS / 1000} s: ${status}`);
  }
  trace("all flushed");
  let text = "";
  await waitFor(
    async () => {
      text = await server();
      return windows.every((w) => w.session.text === text) && countsMatch(countChars(text), expected);
    },
    "every window to show the server's text with every typed character",
    10_000,
  ).catch(() => undefined);
  const counts = countChars(text);
  const problems: string[] = [];
  for (const [ch, want] of expected) {
    const got = counts.get(ch) ?? 0;
    if (got < want) stats.lost += want - got;
    if (got > want) stats.duplicated += got - want;
    if (got !== want) problems.push(`${JSON.stringify(ch)}: typed ${want}, found ${got}`);
  }
  for (const [ch, got] of counts) if (!expected.has(ch) && ch !== FILLER) problems.push(`${JSON.stringify(ch)}: never typed, found ${got}`);
  if ((counts.get(FILLER) ?? 0) > 200) problems.push(`filler grew to ${counts.get(FILLER)}`);
  const differ = windows.filter((w) => w.session.text !== text).map((w) => `w${w.index} (${w.session.text.length} vs ${text.length})`);
  if (differ.length > 0) problems.push(`windows differing from the server: ${differ.join(", ")}`);
  expect(problems).toEqual([]);
}

function countsMatch(counts: Map<string, number>, expected: Map<string, number>): boolean {
  for (const [ch, want] of expected) if ((counts.get(ch) ?? 0) !== want) return false;
  return true;
}
