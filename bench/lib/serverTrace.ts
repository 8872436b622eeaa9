/**
 * Timestamps inside a running local backend, taken without changing it: the trace wraps
 * what every keystroke passes through — the `ws` socket (frames in and out), the function
 * runtime (each query/mutation run), SQLite (each COMMIT), the storage's sync of each
 * commit to disk and entries into a node:vm realm — and keeps a log on the shared
 * monotonic clock. Benchmarks only: it costs time.
 */
import vm from "node:vm";
import { WebSocket } from "ws";
import { monoMs } from "./clock";
import { insertedText, type TextOp } from "../../sync/textOp";
import { benchCodesIn } from "./workerProtocol";

export type Frame = {
  at: number;
  conn: number;
  dir: "in" | "out";
  type: string;
  /** Mutation frames: the function called. */
  udfPath?: string;
  /** ModifyQuerySet frames: the queries added. Transition frames: the queries updated (with their function, once known). */
  queries?: Array<{ queryId: number; udfPath?: string }>;
  /** Bench keys (private-use characters) the frame carries. */
  codes: number[];
  /** ops:submit frames: the text the op inserts (bench:e2e follows ordinary keys by it). */
  inserted?: string;
};
export type Run = { udfPath: string; kind: string; start: number; end: number; codes: number[]; inserted?: string };
export type Commit = { start: number; end: number };
/** A commit's sync to disk (the storage's `durable()`), which runs beside the query re-runs. */
export type Sync = { start: number; end: number };
/** Entries into a node:vm context (the backend's function realm, if it has one): how many, how long in all. */
export type RealmEntries = { count: number; ms: number };
export type ServerTrace = { frames: Frame[]; runs: Run[]; commits: Commit[]; syncs: Sync[]; realm: RealmEntries };

type Invoke = (this: unknown, udfPath: string, kind: string, args: unknown, ...rest: unknown[]) => Promise<unknown>;
type InvokeWith = (this: unknown, udfPath: string, kind: string, args: unknown, ...rest: unknown[]) => void;

const trace: ServerTrace = { frames: [], runs: [], commits: [], syncs: [], realm: { count: 0, ms: 0 } };
const connIds = new WeakMap<object, number>();
/** Each subscribed query's function, by connection and query id; kept across takeServerTrace. */
const queryFunctions = new Map<string, string>();
let nextConn = 1;

function connOf(socket: object): number {
  let id = connIds.get(socket);
  if (id === undefined) connIds.set(socket, (id = nextConn++));
  return id;
}

export const SUBMIT = /^ops(\.js)?:submit$/;

/** The text an ops:submit call's op inserts; its args as the wire (an array) or the runtime (JSON text or an object) has them. */
function insertedBy(args: unknown): string {
  const parsed: unknown = typeof args === "string" ? JSON.parse(args) : args;
  const first: unknown = Array.isArray(parsed) ? parsed[0] : parsed;
  const op = (first as { op?: unknown } | null)?.op;
  return Array.isArray(op) ? insertedText(op as TextOp) : "";
}

function describe(text: string, dir: "in" | "out", conn: number): Frame {
  const frame: Frame = { at: monoMs(), conn, dir, type: /"type":"(\w+)"/.exec(text)?.[1] ?? "?", codes: benchCodesIn(text) };
  if (frame.type === "Mutation") {
    frame.udfPath = /"udfPath":"([^"]+)"/.exec(text)?.[1];
    if (frame.udfPath && SUBMIT.test(frame.udfPath)) frame.inserted = insertedBy((JSON.parse(text) as { args: unknown }).args);
  }
  if (frame.type === "ModifyQuerySet" || frame.type === "Transition") {
    const parsed = JSON.parse(text) as { modifications: Array<{ type: string; queryId: number; udfPath?: string }> };
    frame.queries = parsed.modifications
      .filter((m) => m.type === "Add" || m.type === "QueryUpdated")
      .map((m) => {
        if (m.udfPath) queryFunctions.set(`${conn}:${m.queryId}`, m.udfPath);
        const udfPath = m.udfPath ?? queryFunctions.get(`${conn}:${m.queryId}`);
        return udfPath ? { queryId: m.queryId, udfPath } : { queryId: m.queryId };
      });
  }
  return frame;
}

/**
 * Installs the wrappers. `runtimePrototype` is the backend's Runtime.prototype from the
 * same bundle as the backend that will run (a copy from another bundle would not be the
 * one called); when it has neither `invokeWith` nor `invoke`, function runs are not timed.
 * `storagePrototype` likewise, for the COMMITs and the syncs to disk (each not timed
 * without `commit` or `durable`).
 */
export function installServerTrace(runtimePrototype: object | undefined, storagePrototype?: object): ServerTrace {
  const wsProto = WebSocket.prototype as unknown as {
    send: (data: unknown, ...rest: unknown[]) => void;
    emit: (event: string | symbol, ...args: unknown[]) => boolean;
  };
  const send = wsProto.send;
  wsProto.send = function (this: object, data: unknown, ...rest: unknown[]) {
    if (typeof data === "string") trace.frames.push(describe(data, "out", connOf(this)));
    return send.call(this, data, ...rest);
  };
  const emit = wsProto.emit;
  wsProto.emit = function (this: object, event: string | symbol, ...args: unknown[]) {
    if (event === "message" && args[1] === false) trace.frames.push(describe(String(args[0]), "in", connOf(this)));
    return emit.call(this, event, ...args);
  };
  const storage = storagePrototype as { commit?: (this: unknown) => void; durable?: (this: unknown) => Promise<void> } | undefined;
  const commit = storage?.commit;
  if (storage && commit) {
    storage.commit = function (this: unknown) {
      const start = monoMs();
      commit.call(this);
      trace.commits.push({ start, end: monoMs() });
    };
  }
  const durable = storage?.durable;
  if (storage && durable) {
    storage.durable = function (this: unknown) {
      const start = monoMs();
      return durable.call(this).finally(() => trace.syncs.push({ start, end: monoMs() }));
    };
  }
  const scriptProto = vm.Script.prototype as unknown as { runInContext: (...args: unknown[]) => unknown };
  const runInContext = scriptProto.runInContext;
  scriptProto.runInContext = function (this: unknown, ...args: unknown[]) {
    const start = monoMs();
    try {
      return runInContext.apply(this, args);
    } finally {
      trace.realm.count++;
      trace.realm.ms += monoMs() - start;
    }
  };
  // The runtime's callback entry point when it has one (its promise form calls it), else the promise form.
  const runtime = runtimePrototype as { invokeWith?: InvokeWith; invoke?: Invoke } | undefined;
  const codesOf = (kind: string, args: unknown): number[] =>
    kind === "mutation" ? benchCodesIn(typeof args === "string" ? args : JSON.stringify(args)) : [];
  const described = (udfPath: string, kind: string, args: unknown, start: number): Run => {
    const run: Run = { udfPath, kind, start, end: monoMs(), codes: codesOf(kind, args) };
    if (SUBMIT.test(udfPath)) run.inserted = insertedBy(args);
    return run;
  };
  const invokeWith = runtime?.invokeWith;
  const invoke = runtime?.invoke;
  if (runtime && invokeWith) {
    runtime.invokeWith = function (this: unknown, udfPath, kind, args, ...rest) {
      const start = monoMs();
      const done = rest[rest.length - 1] as (result: unknown) => void;
      const timed = (result: unknown): void => {
        trace.runs.push(described(udfPath, kind, args, start));
        done(result);
      };
      return invokeWith.call(this, udfPath, kind, args, ...rest.slice(0, -1), timed);
    };
  } else if (runtime && invoke) {
    runtime.invoke = async function (this: unknown, udfPath, kind, args, ...rest) {
      const start = monoMs();
      try {
        return await invoke.call(this, udfPath, kind, args, ...rest);
      } finally {
        trace.runs.push(described(udfPath, kind, args, start));
      }
    };
  }
  return trace;
}

/** Hands out what was logged so far and starts afresh. */
export function takeServerTrace(): ServerTrace {
  const taken = { frames: trace.frames, runs: trace.runs, commits: trace.commits, syncs: trace.syncs, realm: trace.realm };
  trace.frames = [];
  trace.runs = [];
  trace.commits = [];
  trace.syncs = [];
  trace.realm = { count: 0, ms: 0 };
  return taken;
}
