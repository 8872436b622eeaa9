// Stops a realm entry that runs past its time, without a thread for each entry.
//
// Node's vm `timeout` starts a watchdog thread when an entry begins and joins it when the
// entry ends: ~0.1 ms on an idle machine, ~1 ms when every core is busy (the join waits for
// that thread to get a core), and the server enters its realm hundreds of times a second.
// `breakOnSigint` instead registers the entry with Node's process-wide SIGINT helper, which
// hands a SIGINT to its newest registration and stops that script. The helper's own thread
// starts and stops with its first and last registration, so one worker thread holds a
// registration for the life of the process, parked in a script of its own: an entry's
// registration then costs about a microsecond. The worker also watches the entry the main
// thread publishes in shared memory and, once it is past its deadline, sends the process
// SIGINT, which the entry (the newest registration) receives:
//
//   main thread                           watchdog worker (parked: registered)
//   ENTRY = seq, DEADLINE = t
//   runInContext({ breakOnSigint }) ──┐   sleeps until t (at most POLL_MS at a time)
//                                     │   ENTRY still seq? KILL = seq, kill(SIGINT)
//   interrupted ◀─────────────────────┘
//   KILL was seq: it ran past its time
//
// A SIGINT that lands after its entry returned reaches the worker (then the only
// registration), which parks again and clears KILL; the main thread waits for that before
// entering again, so a late signal never stops another call. A SIGINT from outside (Ctrl-C)
// goes to `onInterrupt`'s handlers. Either way the worker parks again, and registers only
// while no entry is published, so an entry's registration is always newer than its own;
// until then entries carry vm's timeout.
//
// The helper's signal handler and libuv's, which process.on("SIGINT") relies on, displace
// each other, and a SIGINT listener would make vm take it off and put it back around every
// entry. So the watchdog adopts SIGINT listeners: those there when it starts and any added
// later are taken off the process and called from its own dispatch (a `once` listener
// once), and after a late one the worker parks afresh, which puts the helper's handler
// back; entries carry vm's timeout meanwhile. There is one watchdog per process, as there
// is one SIGINT. Windows has no such helper thread to hold, and a nested entry keeps
// `timeout` too.
import vm from "node:vm";
import { Worker } from "node:worker_threads";

/** Int32 slots of the shared state. */
const ENTRY = 0; // the published entry's number, 0 when none
const KILL = 1; // the entry a SIGINT was sent for and not yet received, 0 when none
const PARKED = 2; // 1 while the worker holds its registration
const NAP = 3; // the worker sleeps on it; notified to make it look at once
const REPARK = 4; // raised by the main thread: park afresh (a SIGINT listener displaced the handler)
const PARKED_FOR = 5; // the REPARK count the worker's registration was made after
const SLOTS = 6;
/** Byte offset of the published entry's deadline (ms, on the shared performance clock). */
const DEADLINE_OFFSET = 8 * Math.ceil((SLOTS * 4) / 8);

/** The longest the worker sleeps between looks, so a short limit after a long one is kept. */
const POLL_MS = 100;
/** The longest an entry waits for its late SIGINT to land on the worker. */
const LATE_SIGNAL_WAIT_MS = 2_000;

/** Plain JavaScript: the worker runs from this text (the backend also ships as one file). */
const WORKER_PROGRAM = String.raw`
"use strict";
const { workerData, parentPort } = require("node:worker_threads");
const vm = require("node:vm");
const state = new Int32Array(workerData.buffer, 0, ${SLOTS});
const deadline = new Float64Array(workerData.buffer, ${DEADLINE_OFFSET}, 1);
const now = () => performance.timeOrigin + performance.now();

// One look at the main thread's entry; stops it when it is past its deadline. Returns how
// long to sleep before the next look.
function look() {
  const seq = Atomics.load(state, ${ENTRY});
  if (seq === 0) return ${POLL_MS};
  const left = deadline[0] - now();
  if (Atomics.load(state, ${ENTRY}) !== seq) return 0;
  if (left > 0) return Math.min(left, ${POLL_MS});
  Atomics.store(state, ${KILL}, seq);
  process.kill(process.pid, "SIGINT");
  // Until it lands: on the entry (which clears KILL) or, if the entry ended first, on us.
  while (Atomics.load(state, ${KILL}) === seq) Atomics.wait(state, ${KILL}, seq, ${POLL_MS});
  return 0;
}

// Runs registered with the SIGINT helper (the parked script's breakOnSigint). Gives up the
// registration at once if an entry is published: that entry must be the newer registration.
// Returns when asked to park afresh.
globalThis.parked = () => {
  if (Atomics.load(state, ${ENTRY}) !== 0) return false;
  const asked = Atomics.load(state, ${REPARK});
  Atomics.store(state, ${PARKED_FOR}, asked);
  Atomics.store(state, ${PARKED}, 1);
  if (Atomics.exchange(state, ${KILL}, 0) !== 0) Atomics.notify(state, ${KILL});
  while (Atomics.load(state, ${REPARK}) === asked) Atomics.wait(state, ${NAP}, 0, look());
  Atomics.store(state, ${PARKED}, 0);
  return true;
};
const park = new vm.Script("parked()");

// Watches without a registration, until no entry is published.
function watchUnparked() {
  while (Atomics.load(state, ${ENTRY}) !== 0) Atomics.wait(state, ${NAP}, 0, Math.min(1, look()));
}

for (;;) {
  try {
    if (!park.runInThisContext({ breakOnSigint: true })) watchUnparked();
  } catch (e) {
    if (e.code !== "ERR_SCRIPT_EXECUTION_INTERRUPTED") throw e;
    Atomics.store(state, ${PARKED}, 0);
    // From outside, unless it is our own, landed after its entry returned (parking clears it).
    if (Atomics.load(state, ${KILL}) === 0) parentPort.postMessage("interrupt");
  }
}
`;

const now = (): number => performance.timeOrigin + performance.now();

/** A SIGINT listener, or the wrapper `process.once` made of one. */
type SigintListener = ((signal: NodeJS.Signals) => void) & { listener?: unknown };

class SignalWatchdog {
  private readonly state: Int32Array;
  private readonly deadline: Float64Array;
  private seq = 0;
  private depth = 0;
  /** Set once the worker cannot be relied on. */
  private failed = false;
  /** Called on a SIGINT from outside: `onInterrupt`'s handlers and the adopted listeners. */
  readonly handlers = new Set<SigintListener>();

  constructor() {
    const buffer = new SharedArrayBuffer(DEADLINE_OFFSET + 8);
    this.state = new Int32Array(buffer, 0, SLOTS);
    this.deadline = new Float64Array(buffer, DEADLINE_OFFSET, 1);
    this.adoptListeners();
    const worker = new Worker(WORKER_PROGRAM, { eval: true, workerData: { buffer }, name: "realm watchdog" });
    worker.on("message", () => this.interrupted());
    worker.on("error", (error) => {
      this.failed = true;
      process.emitWarning(`Shared Notes: the realm watchdog failed (${String(error)}); entries use Node's vm timeout from now on.`);
    });
    // After the listeners: a message listener refs the worker again.
    worker.unref();
    process.on("newListener", (event) => {
      if (event !== "SIGINT") return;
      // The listener is added after this returns, and libuv's handler with it: adopted on
      // the next turn, after which the worker parks afresh (`ready` is false until then).
      Atomics.add(this.state, REPARK, 1);
      setImmediate(() => {
        this.adoptListeners();
        Atomics.notify(this.state, NAP);
      });
    });
  }

  /** The worker holds a registration made since the last SIGINT listener was adopted. */
  get ready(): boolean {
    return (
      !this.failed &&
      this.depth === 0 &&
      Atomics.load(this.state, PARKED) === 1 &&
      Atomics.load(this.state, PARKED_FOR) === Atomics.load(this.state, REPARK)
    );
  }

  /** Runs `script` (see `runGuarded`); the caller has checked `ready`. */
  run(script: vm.Script, context: vm.Context, timeoutMs: number): boolean {
    const seq = (this.seq = (this.seq % 0x7fff_ffff) + 1);
    this.deadline[0] = now() + timeoutMs;
    Atomics.store(this.state, ENTRY, seq);
    this.depth++;
    try {
      script.runInContext(context, { breakOnSigint: true });
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ERR_SCRIPT_EXECUTION_INTERRUPTED") throw e;
      if (Atomics.compareExchange(this.state, KILL, seq, 0) === seq) Atomics.notify(this.state, KILL);
      else setImmediate(() => this.interrupted());
      return false;
    } finally {
      this.depth--;
      Atomics.store(this.state, ENTRY, 0);
      this.awaitLateSignal(seq);
    }
  }

  /** Takes the process's SIGINT listeners over (see the header). */
  private adoptListeners(): void {
    for (const listener of process.rawListeners("SIGINT") as SigintListener[]) {
      process.removeListener("SIGINT", listener);
      this.handlers.add(listener);
    }
  }

  /** A SIGINT from outside: what the process's listeners would have heard, or its default. */
  private interrupted(): void {
    // What SIGINT does to a process that does not listen for it.
    if (this.handlers.size === 0) process.exit(130);
    for (const handler of [...this.handlers]) {
      if (typeof handler.listener === "function") this.handlers.delete(handler);
      handler("SIGINT");
    }
  }

  /** A SIGINT sent for entry `seq` that has not landed yet will land on the worker: wait for it. */
  private awaitLateSignal(seq: number): void {
    const until = performance.now() + LATE_SIGNAL_WAIT_MS;
    while (Atomics.load(this.state, KILL) === seq) {
      if (performance.now() > until) {
        this.failed = true;
        process.emitWarning("Shared Notes: the realm watchdog's signal did not land; entries use Node's vm timeout from now on.");
        return;
      }
      Atomics.wait(this.state, KILL, seq, 10);
    }
  }
}

/** One per process, however many copies of this module it loaded: there is one SIGINT. */
const INSTANCE = Symbol.for("shared-notes.realm-watchdog");

function signalWatchdog(): SignalWatchdog | null {
  const holder = globalThis as { [INSTANCE]?: SignalWatchdog | null };
  if (holder[INSTANCE] === undefined) holder[INSTANCE] = process.platform === "win32" ? null : new SignalWatchdog();
  return holder[INSTANCE];
}

/**
 * Runs `script` in `context`, stopping it once it has run `timeoutMs`. True when it ran to
 * its end; false when it was stopped (its time ran out, or the process was interrupted).
 * Anything else it throws is thrown.
 */
export function runGuarded(script: vm.Script, context: vm.Context, timeoutMs: number): boolean {
  const guard = signalWatchdog();
  if (guard?.ready) return guard.run(script, context, timeoutMs);
  try {
    script.runInContext(context, { timeout: timeoutMs });
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ERR_SCRIPT_EXECUTION_TIMEOUT") throw e;
    return false;
  }
}

/**
 * Calls `handler` when the process gets SIGINT; the returned function stops that. (A
 * process.on("SIGINT") listener is called too, once the watchdog has adopted it, but
 * process.off can no longer remove it.)
 */
export function onInterrupt(handler: () => void): () => void {
  const watchdog = signalWatchdog();
  if (!watchdog) {
    process.on("SIGINT", handler);
    return () => process.off("SIGINT", handler);
  }
  watchdog.handlers.add(handler);
  return () => watchdog.handlers.delete(handler);
}

/** How entries are stopped in this process, for tests and benchmarks. */
export function watchdogMode(): "signal" | "timeout" {
  return signalWatchdog()?.ready ? "signal" : "timeout";
}
