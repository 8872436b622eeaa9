// The realm the default-runtime functions run in: a node:vm context whose promise jobs
// run only while we are inside it (microtaskMode "afterEvaluate"), and every entry into
// it is watched (watchdog.ts). So a runaway loop, a query that never settles, or a throw
// in a timer fails that call instead of stalling or killing the server, and Convex's runtime
// rules hold: Date.now() frozen and Math.random seeded in queries and mutations, no
// timers or fetch there, no Node built-ins, only declared environment variables.
//
// This is fault isolation, not a security boundary: the functions are the project's own.
// No AsyncLocalStorage here or in its callers: with promise hooks on, a watchdog that
// stops code inside a promise job leaves Node's async-id stack unbalanced, and Node aborts.
// Queries and mutations run one at a time (the engine's worker), so their realm knows its
// current run from a variable (a mutation resumed after an outside wait is made current
// again, see OutsideGate); each action gets a realm of its own.
import { createHash } from "node:crypto";
import { types } from "node:util";
import vm from "node:vm";
import { unsupportedSyscall } from "./errors.js";
import { runGuarded } from "./watchdog.js";

export type RunKind = "query" | "mutation" | "action";

/**
 * Host bookkeeping (a commit and its query re-runs) joins the realm entry it follows only
 * while that entry has run at most this long: far from its watchdog, which would cut host
 * code anywhere. Later work waits for a turn of its own.
 */
export const YOUNG_ENTRY_MS = 100;

/** What the realm needs to know about the call it is running. */
export interface GuestRun {
  readonly kind: RunKind;
  /** Frozen Date.now() for queries and mutations. */
  readonly startedAt: number;
  random(): number;
  log(level: string, args: unknown[]): void;
  /** Still running: syscalls after it returned are refused. */
  active: boolean;
}

export interface HostSyscalls {
  syscall(op: string, json: string): string;
  /** A string when the answer is ready now; a promise when it needs the engine (actions). */
  asyncSyscall(op: string, json: string): string | Promise<string>;
}

const NOT_IN_UDF = (what: string) =>
  `Can't use ${what} in queries and mutations. Please consider using an action. See https://docs.convex.dev/functions/actions for more details.`;

type Job = { start: () => unknown; settle: (ok: boolean, value: unknown) => void; settled?: boolean };

/**
 * Lets the engine run mutations optimistically: a mutation waiting for something outside
 * the realm is told about, and its answer is handed over rather than delivered at once, so
 * the engine resumes the call when it has put the call's own writes back (engine.ts).
 */
export interface OutsideGate {
  /** `run` (a mutation) started waiting for an outside answer. */
  waiting(run: GuestRun): void;
  /** That answer exists: `resume` delivers it and lets the call go on (inside a session: in its entry). */
  answered(run: GuestRun, resume: () => void): void;
}

/**
 * Calls started inside a session run in its one entry (one watchdog), each started from
 * the previous one's settle; a call starting later than this into the session waits for
 * an entry of its own, so every call gets its full time limit.
 */
const SESSION_INLINE_MS = 250;

/**
 * Rejections nobody handled, from any of our realms (even one already dropped: Node
 * reports them a turn later): logged, never fatal. Realms are known by their Promise
 * prototype, held weakly.
 */
const realmReporters = new WeakMap<object, (reason: unknown) => void>();
let listening = false;
function onUnhandledRejection(reason: unknown, promise: Promise<unknown>): void {
  const report = realmReporters.get(Object.getPrototypeOf(promise) as object);
  if (report) {
    report(reason);
    return;
  }
  // Not ours: keep Node's default (a crash) unless someone else is listening.
  if (process.listenerCount("unhandledRejection") === 1) throw reason;
}

export class Isolate {
  readonly context: vm.Context;
  private readonly enterScript = new vm.Script("globalThis.__sharedNotesEnter()");
  private readonly drainScript = new vm.Script("void 0");
  private nextJob: Job | null = null;
  private entered = 0;
  private session: { started: number; current: Job | null; jobs: Array<{ job: Job; waitLimitMs?: number }> } | null = null;
  private readonly runInRealm: (job: Job) => void;
  private timers = new Map<GuestRun, Set<NodeJS.Timeout>>();
  /** Calls that went on waiting for something outside the realm after their entry returned. */
  private waiting = new Set<Job>();
  /** Outside promises handed in through `watch` and not settled yet. */
  private watched = 0;
  private poller: NodeJS.Timeout | NodeJS.Immediate | null = null;
  private pollDelay = 0;
  /** When set, outside answers for mutations go through it (see OutsideGate). */
  outsideGate: OutsideGate | null = null;
  /** Each unsettled mutation's call, to name the victim when a resumed call runs away. */
  private jobs = new Map<GuestRun, Job>();
  /** Calls parked by the gate: nothing of theirs runs until it resumes them. */
  private held = new Set<Job>();

  constructor(
    private readonly current: () => GuestRun | undefined,
    host: HostSyscalls,
    env: Readonly<Record<string, string>>,
    private readonly onTimerError: (error: unknown) => void,
    readonly sliceMs: number,
  ) {
    const bridge = {
      syscall: (op: string, json: string) => host.syscall(op, json),
      asyncSyscall: (op: string, json: string, resolve: (v: string) => void, reject: (e: unknown) => void): string | undefined => {
        const answer = host.asyncSyscall(op, json);
        if (typeof answer === "string") return answer;
        this.watch(answer, (value) => resolve(value as string), reject);
        return undefined;
      },
      watch: (promise: Promise<unknown>, resolve: (v: unknown) => void, reject: (e: unknown) => void) => this.watch(promise, resolve, reject),
      now: () => {
        const run = this.current();
        return run && run.kind !== "action" ? run.startedAt : Date.now();
      },
      random: () => {
        const run = this.current();
        return run && run.kind !== "action" ? run.random() : Math.random();
      },
      log: (level: string, args: unknown[]) => this.current()?.log(level, args),
      env: (name: string) => (Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined),
      envNames: () => Object.keys(env),
      refuseJsSyscall: (op: string) => unsupportedSyscall(op),
      refuseInUdf: (what: string) => {
        const run = this.current();
        if (run && run.kind !== "action") throw new Error(NOT_IN_UDF(what));
      },
      setTimer: (callback: (...a: unknown[]) => void, ms: number, args: unknown[], repeat: boolean) => this.setTimer(callback, ms, args, repeat),
      clearTimer: (handle: unknown) => this.clearTimer(handle),
      takeJob: () => {
        const job = this.nextJob;
        this.nextJob = null;
        return job;
      },
      fetch: (...args: Parameters<typeof fetch>) => fetch(...args),
      digestNow,
      webGlobals: {
        TextEncoder,
        TextDecoder,
        URL,
        URLSearchParams,
        atob,
        btoa,
        Headers,
        Request,
        Response,
        Blob,
        FormData,
        AbortController,
        AbortSignal,
        ReadableStream,
        WritableStream,
        TransformStream,
        structuredClone,
        crypto: globalThis.crypto,
        Event,
        EventTarget,
      },
    };
    // An ordinary global object, as in Convex's own isolates: a contextified one answers
    // every global lookup (JSON, Object, Promise…) through a host interceptor, which made a
    // submit 8% slower per op read (Node 20.18+; older versions get a contextified one).
    this.context = vm.createContext(vm.constants?.DONT_CONTEXTIFY, { microtaskMode: "afterEvaluate", name: "convex functions" });
    (this.context as { __sharedNotesHost?: unknown }).__sharedNotesHost = bridge;
    vm.runInContext(BOOTSTRAP, this.context);
    realmReporters.set(vm.runInContext("Promise.prototype", this.context) as object, onTimerError);
    this.runInRealm = vm.runInContext("__sharedNotesRun", this.context) as (job: Job) => void;
    if (!listening) {
      listening = true;
      process.on("unhandledRejection", onUnhandledRejection);
    }
  }

  /** Compiles bundled CommonJS code once, for evaluation in any number of realms. */
  static compile(code: string, filename: string): vm.Script {
    return new vm.Script(`(function (module, exports, require) {${code}\n})`, { filename });
  }

  /** Evaluates compiled bundle code in the realm and returns its exports. */
  evaluate(script: vm.Script): Record<string, unknown> {
    const wrapper = script.runInContext(this.context) as (module: object, exports: object, require: (name: string) => never) => void;
    const mod = { exports: {} as Record<string, unknown> };
    const require = (name: string): never => {
      throw new Error(
        `The module "${name}" can only be imported by files that start with "use node" (Node.js built-ins and ` +
          `external packages are ${"not available in the default Convex runtime"}).`,
      );
    };
    this.enter({ start: () => wrapper(mod, mod.exports, require), settle: () => {} }, 10_000);
    return mod.exports;
  }

  /** Entries so far (each is watched: see watchdog.ts). */
  get entries(): number {
    return this.entered;
  }

  /**
   * Starts `start` inside the realm and lets it go as far as it can; whatever it waits for
   * later settles it through `settle` (resumed when the outside answer settles, and after
   * `waitLimitMs` failed with a SliceTimeout). A run past `timeoutMs` is stopped and settled with a SliceTimeout.
   */
  start(start: () => unknown, settle: (ok: boolean, value: unknown) => void, timeoutMs: number, waitLimitMs?: number): void {
    const run = this.outsideGate ? this.current() : undefined;
    const job: Job = {
      start,
      settle: (ok, value) => {
        if (job.settled) return;
        job.settled = true;
        this.held.delete(job);
        if (run) this.jobs.delete(run);
        if (this.session?.current === job) this.session.current = null;
        settle(ok, value);
      },
    };
    if (run?.kind === "mutation") this.jobs.set(run, job);
    const session = this.session;
    if (session) {
      if (performance.now() - session.started > SESSION_INLINE_MS) {
        setImmediate(() => this.start(start, settle, timeoutMs, waitLimitMs));
        return;
      }
      session.current = job;
      session.jobs.push({ job, ...(waitLimitMs !== undefined ? { waitLimitMs } : {}) });
      this.runInRealm(job);
      return;
    }
    this.enter(job, timeoutMs);
    if (!job.settled) this.awaitOutside(job, waitLimitMs);
  }

  /**
   * Runs `body` inside the realm with one watchdog for everything it starts (see
   * SESSION_INLINE_MS): a realm entry costs its watching, a call only microseconds.
   */
  runSession(body: () => void, timeoutMs: number): void {
    if (this.session) {
      body();
      return;
    }
    const session: NonNullable<Isolate["session"]> = { started: performance.now(), current: null, jobs: [] };
    this.session = session;
    try {
      this.enter({ start: body, settle: () => {} }, timeoutMs + SESSION_INLINE_MS);
    } finally {
      if (this.session === session) this.session = null;
    }
    for (const { job, waitLimitMs } of session.jobs) if (!job.settled) this.awaitOutside(job, waitLimitMs);
  }

  private awaitOutside(job: Job, waitLimitMs: number | undefined): void {
    this.waiting.add(job);
    this.pollIfUnwatched();
    if (waitLimitMs === undefined) return;
    const timer = setTimeout(() => job.settle(false, new SliceTimeout()), waitLimitMs);
    timer.unref();
  }

  /**
   * An outside promise (Web Crypto, fetch, an async syscall) settles on Node's own queue and
   * only queues the realm's reaction in the realm, where nothing runs it unless we enter.
   * So the realm is given a promise of its own, settled (and its jobs run, once, within the
   * slice limit) from the host's reaction to the outside one: the waiting call resumes as
   * soon as its answer exists, with no polling.
   */
  private watch(promise: Promise<unknown>, resolve: (v: unknown) => void, reject: (e: unknown) => void): void {
    this.watched++;
    const run = this.current();
    const gate = run?.kind === "mutation" ? this.outsideGate : null;
    const job = gate && run ? this.jobs.get(run) : undefined;
    if (job) this.held.add(job);
    if (run && gate) gate.waiting(run);
    const settle = (deliver: () => void) => {
      this.watched--;
      if (!run || !gate) return this.reenter(deliver);
      gate.answered(run, () => {
        if (job) this.held.delete(job);
        if (!this.session) return this.reenter(deliver);
        // The resumed call runs next in this entry: it is the one a watchdog firing now stops.
        this.session.current = job ?? null;
        deliver();
      });
    };
    promise.then(
      (value) => settle(() => resolve(value)),
      (error: unknown) => settle(() => reject(error)),
    );
  }

  /**
   * The fallback for a call left waiting on an outside promise that did not come through
   * `watch` (e.g. a body read in an action): poll the realm, backing off to 10 ms, while
   * no watched promise is pending (each of those drains the realm when it settles anyway).
   */
  private pollIfUnwatched(): void {
    for (const job of this.waiting) if (job.settled) this.waiting.delete(job);
    // Held calls wait for the engine, not for an answer the realm could pick up.
    if ([...this.waiting].every((job) => this.held.has(job)) || this.watched > 0) {
      this.pollDelay = 0;
      return;
    }
    if (this.poller) return;
    const tick = () => {
      this.poller = null;
      this.drain();
      this.pollDelay = Math.min(10, this.pollDelay === 0 ? 1 : this.pollDelay * 2);
      this.pollIfUnwatched();
    };
    this.poller = this.pollDelay === 0 ? setImmediate(tick) : setTimeout(tick, this.pollDelay);
  }

  private drain(): void {
    this.entered++;
    let error: unknown;
    try {
      if (runGuarded(this.drainScript, this.context, this.sliceMs)) return;
      error = new SliceTimeout();
    } catch (e) {
      error = e;
    }
    // What ran was the rest of a call that waited on the outside (queries and mutations
    // run one at a time; an action has its realm to itself): that call fails now.
    const victims = [...this.waiting].filter((job) => !job.settled && !this.held.has(job));
    if (victims.length === 0) this.onTimerError(error);
    for (const job of victims) job.settle(false, error);
  }

  private enter(job: Job, timeoutMs: number): void {
    this.entered++;
    this.nextJob = job;
    let timedOut: boolean;
    try {
      timedOut = !runGuarded(this.enterScript, this.context, timeoutMs);
    } finally {
      this.nextJob = null;
    }
    if (timedOut) {
      // The call that was running when the watchdog fired is the one that ran too long.
      const victim = this.session?.current ?? job;
      this.session = null;
      victim.settle(false, new SliceTimeout());
    }
  }

  /** Delivers an outside answer and runs the promise jobs it unblocks, within the slice limit. */
  private reenter(deliver: () => void): void {
    deliver();
    this.drain();
    this.pollIfUnwatched();
  }

  private setTimer(callback: (...a: unknown[]) => void, ms: number, args: unknown[], repeat: boolean): NodeJS.Timeout {
    const run = this.current();
    if (!run || !run.active) throw new Error("Timers can only be set while an action is running.");
    let timers = this.timers.get(run);
    if (!timers) this.timers.set(run, (timers = new Set()));
    const fire = () => {
      if (!repeat) timers.delete(handle);
      try {
        this.start(() => callback(...args), (ok, value) => ok || this.onTimerError(value), this.sliceMs);
      } catch (e) {
        this.onTimerError(e);
      }
    };
    const delay = Math.max(0, Number(ms) || 0);
    const handle = repeat ? setInterval(fire, delay) : setTimeout(fire, delay);
    timers.add(handle);
    return handle;
  }

  private clearTimer(handle: unknown): void {
    for (const timers of this.timers.values()) {
      if (timers.delete(handle as NodeJS.Timeout)) clearTimeout(handle as NodeJS.Timeout);
    }
  }

  close(): void {
    this.waiting.clear();
    if (this.poller) {
      clearTimeout(this.poller as NodeJS.Timeout);
      clearImmediate(this.poller as NodeJS.Immediate);
    }
    for (const timers of this.timers.values()) for (const t of timers) clearTimeout(t);
    this.timers.clear();
  }
}

/** Web Crypto's digest names, as node:crypto knows them. */
const DIGESTS: Readonly<Record<string, string>> = { "SHA-1": "sha1", "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512" };
/** Above this, hashing waits for the thread pool rather than holding up the server. */
const DIGEST_NOW_MAX_BYTES = 64 * 1024;

/**
 * crypto.subtle.digest of a small input, computed at once: the same bytes Web Crypto gives,
 * without a trip through the thread pool and a second entry into the realm (every note
 * function hashes the space key). Undefined when Web Crypto itself should answer (other
 * algorithms, large or malformed input, and so its exact errors).
 */
export function digestNow(algorithm: unknown, data: unknown): ArrayBuffer | undefined {
  const name = typeof algorithm === "string" ? algorithm : (algorithm as { name?: unknown } | null)?.name;
  const hash = typeof name === "string" ? DIGESTS[name.toUpperCase()] : undefined;
  if (!hash) return undefined;
  let bytes: Uint8Array;
  if (ArrayBuffer.isView(data)) bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  else if (types.isAnyArrayBuffer(data)) bytes = new Uint8Array(data);
  else return undefined;
  if (bytes.byteLength > DIGEST_NOW_MAX_BYTES) return undefined;
  const out = createHash(hash).update(bytes).digest();
  return out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength);
}

/** A slice of user code ran past its limit and was stopped. */
export class SliceTimeout extends Error {
  constructor() {
    super("the function ran past its time limit");
  }
}

// Runs once inside the realm. Written as plain JavaScript because it is the realm's own code.
const BOOTSTRAP = String.raw`
(function (host) {
  "use strict";
  delete globalThis.__sharedNotesHost;
  const define = (name, value) => Object.defineProperty(globalThis, name, { value, writable: true, configurable: true, enumerable: false });

  define("Convex", {
    syscall: (op, json) => host.syscall(op, json),
    asyncSyscall: (op, json) => {
      let resolve, reject;
      const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
      try {
        const answer = host.asyncSyscall(op, json, resolve, reject);
        if (answer !== undefined) resolve(answer);
      } catch (e) {
        reject(e);
      }
      return promise;
    },
    jsSyscall: (op) => { throw new Error(host.refuseJsSyscall(op)); },
  });

  const OriginalDate = Date;
  function FrozenDate(...args) {
    if (!new.target) return new OriginalDate(host.now()).toString();
    return args.length === 0 ? new OriginalDate(host.now()) : new OriginalDate(...args);
  }
  FrozenDate.now = () => host.now();
  FrozenDate.parse = OriginalDate.parse;
  FrozenDate.UTC = OriginalDate.UTC;
  FrozenDate.prototype = OriginalDate.prototype;
  OriginalDate.prototype.constructor = FrozenDate;
  define("Date", FrozenDate);
  Math.random = () => host.random();

  const levels = ["log", "info", "warn", "error", "debug"];
  const con = {};
  for (const level of levels) con[level] = (...args) => host.log(level, args);
  define("console", con);

  const timer = (name, repeat) => (callback, ms, ...args) => {
    host.refuseInUdf(name);
    if (typeof callback !== "function") throw new TypeError(name + " expects a function");
    return host.setTimer(callback, ms, args, repeat);
  };
  define("setTimeout", timer("setTimeout", false));
  define("setInterval", timer("setInterval", true));
  define("clearTimeout", (handle) => host.clearTimer(handle));
  define("clearInterval", (handle) => host.clearTimer(handle));
  define("queueMicrotask", (callback) => { Promise.resolve().then(() => callback()); });
  // Outside promises the realm awaits come back as its own, settled through host.watch.
  const adopt = (promise) => new Promise((resolve, reject) => host.watch(promise, resolve, reject));
  define("fetch", (...args) => { host.refuseInUdf("fetch()"); return adopt(host.fetch(...args)); });

  const { crypto: hostCrypto, ...webGlobals } = host.webGlobals;
  for (const [name, value] of Object.entries(webGlobals)) define(name, value);
  const subtle = {};
  for (const name of ["encrypt", "decrypt", "sign", "verify", "digest", "generateKey", "deriveKey", "deriveBits", "importKey", "exportKey", "wrapKey", "unwrapKey"]) {
    subtle[name] = (...args) => {
      try {
        const now = name === "digest" ? host.digestNow(args[0], args[1]) : undefined;
        if (now !== undefined) return Promise.resolve(now);
        return adopt(hostCrypto.subtle[name](...args));
      } catch (e) {
        return Promise.reject(e);
      }
    };
  }
  define("crypto", Object.freeze({
    subtle: Object.freeze(subtle),
    getRandomValues: (array) => hostCrypto.getRandomValues(array),
    randomUUID: () => hostCrypto.randomUUID(),
  }));
  define("self", globalThis);
  define("global", undefined);

  const env = new Proxy({}, {
    get: (_t, name) => (typeof name === "string" ? host.env(name) : undefined),
    has: (_t, name) => typeof name === "string" && host.env(name) !== undefined,
    ownKeys: () => host.envNames(),
    getOwnPropertyDescriptor: (_t, name) => {
      const value = typeof name === "string" ? host.env(name) : undefined;
      return value === undefined ? undefined : { value, enumerable: true, configurable: true, writable: false };
    },
    set: () => false,
  });
  define("process", { env });

  define("__sharedNotesEnter", () => {
    const job = host.takeJob();
    if (job) globalThis.__sharedNotesRun(job);
  });
  define("__sharedNotesRun", (job) => {
    let result;
    try {
      result = job.start();
    } catch (e) {
      job.settle(false, e);
      return;
    }
    Promise.resolve(result).then((v) => job.settle(true, v), (e) => job.settle(false, e));
  });
})(globalThis.__sharedNotesHost);
`;
