// What a "use node" worker thread runs, and the messages between it and the server.
// Each worker evaluates the project's Node.js modules (one bundle per module, npm packages
// loaded from node_modules) and runs one action at a time; everything the action asks of
// the backend (runQuery, runMutation, scheduler, identity) is a message to the server, which
// answers it through the engine. The program is plain JavaScript text because it runs from
// that text (`new Worker(code, { eval: true })`): the backend also ships bundled into one
// file, where no separate worker file exists.
import type { JSONValue } from "convex/values";

/** A thrown value as the worker saw it: enough for the server to word it as Convex does. */
export type ThrownInfo =
  | { kind: "error"; name: string; message: string; stack?: string; data?: string; convexError: boolean }
  | { kind: "value"; text: string };

/** An export of a module that may be a registered function (the server decides, as for any bundle). */
export type ExportInfo = {
  name: string;
  isQuery: boolean;
  isMutation: boolean;
  isAction: boolean;
  isPublic: boolean;
  args: string;
  returns: string;
};

export type ModuleAnalysis = { ok: true; exports: ExportInfo[] } | { ok: false; error: ThrownInfo };

export type ToWorker =
  | { type: "analyze" }
  | { type: "invoke"; call: number; module: string; name: string; requestId: string; args: string; env: Record<string, string> }
  | { type: "answer"; id: number; ok: true; value: string }
  | { type: "answer"; id: number; ok: false; message: string; data?: JSONValue };

export type FromWorker =
  | { type: "analyzed"; modules: Record<string, ModuleAnalysis> }
  | { type: "log"; call: number | null; level: string; text: string }
  | { type: "syscall"; call: number | null; id: number; op: string; json: string }
  | { type: "done"; call: number; ok: true; value: string }
  | { type: "done"; call: number; ok: false; error: ThrownInfo }
  /** An uncaught exception or unhandled rejection: the worker is not trusted with another call. */
  | { type: "stray"; kind: "uncaughtException" | "unhandledRejection"; error: ThrownInfo };

/** What the worker is started with (workerData). */
export type WorkerSetup = {
  functionsDir: string;
  /** Module path (no extension) → its bundle and the file name its frames carry. */
  modules: Record<string, { code: string; filename: string }>;
  /** The refusal of each JS syscall (file storage's blobs), by name. */
  jsSyscallRefusals: Record<string, string>;
  notSupported: string;
};

/**
 * The worker's program. `formatLogArgs` is the server's own log formatting, passed in as
 * source so console output reads the same in both runtimes.
 */
export function workerProgram(formatLogArgs: (args: unknown[], format: (f: string, ...a: unknown[]) => string) => string): string {
  return `"use strict";\nconst formatLogArgs = ${formatLogArgs.toString()};\n${PROGRAM}`;
}

const PROGRAM = String.raw`
const { parentPort, workerData } = require("node:worker_threads");
const { AsyncLocalStorage } = require("node:async_hooks");
const { createRequire } = require("node:module");
const path = require("node:path");
const util = require("node:util");
const vm = require("node:vm");

const { functionsDir, modules, jsSyscallRefusals, notSupported } = workerData;
const post = (message) => parentPort.postMessage(message);
// The call a syscall or log line belongs to, followed through timers and callbacks, so
// code an action left running cannot act for the next call.
const calls = new AsyncLocalStorage();
const answers = new Map();
let nextId = 0;

globalThis.Convex = {
  syscall: (op) => {
    throw new Error(op + " cannot be called synchronously from an action.");
  },
  asyncSyscall: (op, json) =>
    new Promise((resolve, reject) => {
      const id = nextId++;
      answers.set(id, { resolve, reject });
      post({ type: "syscall", call: calls.getStore() ?? null, id, op, json });
    }),
  jsSyscall: (op) => {
    throw new Error(jsSyscallRefusals[op] ?? op + " is " + notSupported + ".");
  },
};

// Convex's console: lines go to the call's log; timers are per call.
const timers = new Map();
const log = (level, args) => post({ type: "log", call: calls.getStore() ?? null, level, text: formatLogArgs(args, util.format) });
const timersOfCall = () => {
  const call = calls.getStore() ?? null;
  if (!timers.has(call)) timers.set(call, new Map());
  return timers.get(call);
};
const timerLabel = (label) => (label === undefined ? "default" : String(label));
const elapsed = (label, started, data, level) => log(level, [label + ": " + (Date.now() - started) + "ms", ...data]);
globalThis.console = {
  log: (...args) => log("log", args),
  info: (...args) => log("info", args),
  warn: (...args) => log("warn", args),
  error: (...args) => log("error", args),
  debug: (...args) => log("debug", args),
  trace: (...args) => log("error", [...args, new Error().stack]),
  time: (label) => {
    const name = timerLabel(label);
    const own = timersOfCall();
    if (own.has(name)) log("warn", ["Timer '" + name + "' already exists"]);
    else own.set(name, Date.now());
  },
  timeLog: (label, ...data) => {
    const name = timerLabel(label);
    const started = timersOfCall().get(name);
    if (started === undefined) log("warn", ["Timer '" + name + "' does not exist"]);
    else elapsed(name, started, data, "info");
  },
  timeEnd: (label) => {
    const name = timerLabel(label);
    const own = timersOfCall();
    const started = own.get(name);
    if (started === undefined) return log("warn", ["Timer '" + name + "' does not exist"]);
    own.delete(name);
    elapsed(name, started, [], "info");
  },
};

function thrownInfo(e) {
  if (e !== null && typeof e === "object" && "message" in e) {
    let stack;
    try {
      stack = typeof e.stack === "string" ? e.stack : undefined;
    } catch {}
    return {
      kind: "error",
      name: typeof e.name === "string" ? e.name : "Error",
      message: typeof e.message === "string" ? e.message : String(e.message),
      stack,
      data: typeof e.data === "string" ? e.data : undefined,
      convexError: Symbol.for("ConvexError") in e,
    };
  }
  let text;
  try {
    text = String(e);
  } catch {
    text = Object.prototype.toString.call(e);
  }
  return { kind: "value", text };
}

process.on("uncaughtException", (e) => post({ type: "stray", kind: "uncaughtException", error: thrownInfo(e) }));
process.on("unhandledRejection", (e) => post({ type: "stray", kind: "unhandledRejection", error: thrownInfo(e) }));

// Each module is evaluated once per worker, on first use; a failure is kept and rethrown.
const loaded = new Map();
function load(modulePath) {
  if (!loaded.has(modulePath)) {
    const source = modules[modulePath];
    try {
      if (!source) throw new Error("Couldn't find module source for " + modulePath + ".js");
      const file = path.join(functionsDir, modulePath + ".js");
      const wrapper = vm.runInThisContext("(function (exports, require, module, __filename, __dirname) {" + source.code + "\n})", { filename: source.filename });
      const mod = { exports: {} };
      wrapper(mod.exports, createRequire(file), mod, file, path.dirname(file));
      loaded.set(modulePath, { ok: true, exports: mod.exports.modules[modulePath] });
    } catch (e) {
      loaded.set(modulePath, { ok: false, error: e });
    }
  }
  const entry = loaded.get(modulePath);
  if (!entry.ok) throw entry.error;
  return entry.exports;
}

function analyze() {
  const out = {};
  for (const modulePath of Object.keys(modules)) {
    try {
      const exports = [];
      for (const [name, value] of Object.entries(load(modulePath))) {
        if (value === null || (typeof value !== "object" && typeof value !== "function") || typeof value.exportArgs !== "function") continue;
        exports.push({
          name,
          isQuery: value.isQuery === true,
          isMutation: value.isMutation === true,
          isAction: value.isAction === true,
          isPublic: value.isPublic === true,
          args: value.exportArgs(),
          returns: typeof value.exportReturns === "function" ? value.exportReturns() : "null",
        });
      }
      out[modulePath] = { ok: true, exports };
    } catch (e) {
      out[modulePath] = { ok: false, error: thrownInfo(e) };
    }
  }
  post({ type: "analyzed", modules: out });
}

async function invoke(message) {
  // The declared environment variables, as of this call (as Convex sets them per request).
  for (const name of Object.keys(process.env)) delete process.env[name];
  Object.assign(process.env, message.env);
  const fn = load(message.module)[message.name];
  if (!fn || typeof fn.invokeAction !== "function") {
    throw new Error("Couldn't find action \u0060" + message.name + "\u0060 in \u0060" + message.module + ".js\u0060");
  }
  return await fn.invokeAction(message.requestId, message.args);
}

parentPort.on("message", (message) => {
  switch (message.type) {
    case "analyze":
      return analyze();
    case "invoke":
      return calls.run(message.call, () =>
        invoke(message)
          .then(
            (value) => post({ type: "done", call: message.call, ok: true, value }),
            (e) => post({ type: "done", call: message.call, ok: false, error: thrownInfo(e) }),
          )
          .finally(() => timers.delete(message.call)),
      );
    case "answer": {
      const waiting = answers.get(message.id);
      answers.delete(message.id);
      if (!waiting) return;
      if (message.ok) return waiting.resolve(message.value);
      const error = new Error(message.message);
      if (message.data !== undefined) error.data = message.data;
      return waiting.reject(error);
    }
  }
});
`;
