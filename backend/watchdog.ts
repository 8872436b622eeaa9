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
//   DEADLINE = t, ENTRY = seq
//   runInContext({ breakOnSigint }) ──┐   sleeps until t (at most POLL_MS at a time)
//                                     │   ENTRY seq → -seq (claimed), kill(SIGINT)
//   interrupted ◀─────────────────────┘
//   ENTRY → 0 was -seq: it ran past its time; LANDED = seq
//
// The claim and the main thread's exit both swap ENTRY, so exactly one of them happens
// first: an entry that ended first is not signalled. A signal claimed for an entry that
// returned before it landed reaches the worker (then the only registration), which sets
// LANDED; the main thread waits for that before entering again, so a late signal never
// stops another call. A SIGINT from outside (Ctrl-C) goes to `onInterrupt`'s handlers.
// Either way the worker parks again, and registers only while no entry is published, so
// an entry's registration is always newer than its own; until then entries carry vm's
// timeout.
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
const ENTRY = 0; // the published entry's number; its negative once a SIGINT is sent for it; 0 when none
const LANDED = 1; // the last entry whose SIGINT was received, by it or by the worker
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
let sent = 0; // the entry whose SIGINT has not landed yet
function look() {
  const seq = Atomics.load(state, ${ENTRY});
  if (seq <= 0) return ${POLL_MS};
  const left = deadline[0] - now();
  if (Atomics.load(state, ${ENTRY}) !== seq) return 0;
  if (left > 0) return Math.min(left, ${POLL_MS});
  if (Atomics.compareExchange(state, ${ENTRY}, seq, -seq) !== seq) return 0; // it just ended
  sent = seq;
  process.kill(process.pid, "SIGINT");
  // Until it lands: on the entry or, if the entry returned first, on us.
  for (let landed; (landed = Atomics.load(state, ${LANDED})) !== seq; ) Atomics.wait(state, ${LANDED}, landed, ${POLL_MS});
  sent = 0;
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
    if (sent !== 0 && Atomics.load(state, ${LANDED}) !== sent) {
      // Our own, landed after its entry returned: the main thread waits for this.
      Atomics.store(state, ${LANDED}, sent);
      Atomics.notify(state, ${LANDED});
      sent = 0;
    } else {
      parentPort.postMessage("interrupt");
    }
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
  /** SIGINT listeners added and not adopted yet. */
  private adopting = 0;
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
      // the next turn, and only then is the worker asked to park afresh, so that its new
      // registration comes after libuv's handler is gone (`ready` is false until then).
      this.adopting++;
      setImmediate(() => {
        this.adoptListeners();
        Atomics.add(this.state, REPARK, 1);
        Atomics.notify(this.state, NAP);
        this.adopting--;
      });
    });
  }

  /** The worker holds a registration made since the last SIGINT listener was adopted. */
  get ready(): boolean {
    return (
      !this.failed &&
      this.adopting === 0 &&
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
    let stopped = false;
    let claimed: boolean;
    try {
      script.runInContext(context, { breakOnSigint: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ERR_SCRIPT_EXECUTION_INTERRUPTED") throw e;
      stopped = true;
    } finally {
      this.depth--;
      claimed = Atomics.exchange(this.state, ENTRY, 0) === -seq;
      if (claimed && stopped) {
        Atomics.store(this.state, LANDED, seq);
        Atomics.notify(this.state, LANDED);
      } else if (claimed) {
        this.awaitLanding(seq);
      }
    }
    // Stopped by a SIGINT the worker did not send: from outside.
    if (stopped && !claimed) setImmediate(() => this.interrupted());
    return !stopped;
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

  /** The SIGINT sent for entry `seq`, which returned first, lands on the worker: wait for it. */
  private awaitLanding(seq: number): void {
    const until = performance.now() + LATE_SIGNAL_WAIT_MS;
    for (let landed; (landed = Atomics.load(this.state, LANDED)) !== seq; ) {
      if (performance.now() > until) {
        this.failed = true;
        process.emitWarning("Shared Notes: the realm watchdog's signal did not land; entries use Node's vm timeout from now on.");
        return;
      }
      Atomics.wait(this.state, LANDED, landed, 10);
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
