// "use node" actions, run in worker threads: a crash, a hang, a process.exit or a failing npm
// package fails that call (in Convex's words) and never the server. Workers are pooled:
// one runs one action at a time, and one that saw an uncaught exception, ran out of time or
// memory is retired. Calls out of the action (runQuery, runMutation, runAction, scheduler,
// identity) come back as messages and go through the action's FunctionRun like any other.
import { Worker } from "node:worker_threads";
import type { JSONValue } from "convex/values";
import { bundleRealm } from "./bundle.js";
import {
  AFTER_RETURN_MESSAGE,
  describeThrown,
  failure,
  NestedCallError,
  newRequestId,
  NOT_SUPPORTED,
  unsupportedSyscall,
  type Failure,
} from "./errors.js";
import { formatLogArgs, type FunctionRun } from "./function-run.js";
import { actionTimeoutSeconds } from "./limits.js";
import { workerProgram, type FromWorker, type ModuleAnalysis, type ThrownInfo, type ToWorker, type WorkerSetup } from "./node-worker.js";
import { SourceMaps } from "./stack.js";

/** Convex's Node.js actions get 512 MB. */
const MEMORY_MB = 512;

/** Workers kept waiting for the next call; more are started when all are busy, up to MAX_WORKERS. */
const MAX_IDLE = 2;
const MAX_WORKERS = 16;

/** The convex package's synchronous JS syscalls an action may make (file storage's blobs). */
const JS_SYSCALLS = ["storage/storeBlob", "storage/getBlob"];

export type NodeOutcome = { ok: true; value: string } | Failure;

type Call = { id: number; run: FunctionRun; exportName: string; done: (outcome: NodeOutcome) => void; timer: NodeJS.Timeout };

type Pooled = { worker: Worker; call: Call | null; retired: boolean; analyzed?: (modules: Record<string, ModuleAnalysis>) => void };

export class NodeRealm {
  private readonly idle: Pooled[] = [];
  private readonly busy = new Set<Pooled>();
  private readonly queue: Array<() => void> = [];
  private readonly calls = new Map<number, Call>();
  private nextCall = 0;
  private closed = false;
  private readonly timeoutS = actionTimeoutSeconds();
  /** Modules that failed to load (an npm package missing or throwing): their calls fail with this. */
  private readonly loadErrors = new Map<string, string>();

  private constructor(
    private readonly setup: WorkerSetup,
    private readonly maps: SourceMaps,
    private readonly env: Readonly<Record<string, string>>,
    private readonly onStrayError: (error: unknown) => void,
  ) {}

  /**
   * Bundles each "use node" module, loads them all in a first worker and returns the realm
   * with the modules' registered functions as stand-ins (what the server needs: kind,
   * visibility, validators), shaped like a bundle's exports for collectProject.
   */
  static async load(
    functionsDir: string,
    files: string[],
    env: Readonly<Record<string, string>>,
    onStrayError: (error: unknown) => void,
  ): Promise<{ realm: NodeRealm; exports: Record<string, unknown> }> {
    const maps = new SourceMaps();
    const modules: WorkerSetup["modules"] = {};
    await Promise.all(
      files.map(async (file) => {
        const modulePath = file.replace(/\.[a-z]+$/, "");
        const code = await bundleRealm(functionsDir, [file], "node");
        // Where Convex runs a module; stacks the action reads itself show these names.
        const filename = maps.remember(`convex:/user/${modulePath}.js`, code, functionsDir);
        modules[modulePath] = { code, filename };
      }),
    );
    const jsSyscallRefusals = Object.fromEntries(JS_SYSCALLS.map((op) => [op, unsupportedSyscall(op)]));
    const realm = new NodeRealm({ functionsDir, modules, jsSyscallRefusals, notSupported: NOT_SUPPORTED }, maps, env, onStrayError);
    const first = realm.spawn();
    const analysis = await new Promise<Record<string, ModuleAnalysis>>((resolve, reject) => {
      first.analyzed = resolve;
      first.worker.once("exit", (code) => reject(new Error(`The Node.js worker loading the "use node" modules exited (code ${code}).`)));
      realm.post(first, { type: "analyze" });
    });
    // Not kept for calls: it evaluated the modules before the environment was complete
    // (the URLs are known once the server listens), and module code may read it at load.
    realm.retire(first);
    const exports: Record<string, Record<string, unknown>> = {};
    for (const [modulePath, result] of Object.entries(analysis)) {
      if (!result.ok) {
        const message = `Failed to analyze ${modulePath}.js: ${describeThrown(realm.thrown(result.error), [], maps).message}`;
        realm.loadErrors.set(modulePath, message);
        process.stderr.write(`[local backend] ${message.trimEnd()}\n(calls to its functions fail with this error)\n`);
        continue;
      }
      const stubs: Record<string, unknown> = {};
      for (const info of result.exports) {
        if (info.isQuery || info.isMutation) {
          realm.close();
          throw new Error(
            `\`${info.name}\` defined in \`${modulePath}.js\` is a ${info.isQuery ? "Query" : "Mutation"} function. ` +
              `Only actions can be defined in Node.js. See https://docs.convex.dev/functions/actions for more details.`,
          );
        }
        stubs[info.name] = { ...info, exportArgs: () => info.args, exportReturns: () => info.returns };
      }
      exports[modulePath] = stubs;
    }
    return { realm, exports: { modules: exports } };
  }

  /** Why calls to a function of this module fail, if its module could not be loaded. */
  loadError(udfPath: string): string | undefined {
    return this.loadErrors.get(udfPath.split(":")[0] ?? "");
  }

  /** Runs the action `udfPath` ("module:export") with its arguments (JSON text of the args array). */
  invoke(run: FunctionRun, udfPath: string, argsText: string): Promise<NodeOutcome> {
    const [modulePath = "", exportName = "default"] = udfPath.split(":");
    return new Promise((resolve) => {
      const start = () => {
        if (this.closed) return resolve(failure("The local backend is shutting down."));
        const pooled = this.idle.pop() ?? this.spawn();
        pooled.worker.ref();
        this.busy.add(pooled);
        const id = this.nextCall++;
        const call: Call = {
          id,
          run,
          exportName,
          done: resolve,
          timer: setTimeout(() => {
            this.finish(pooled, failure(`Action \`${exportName}\` execution timed out (maximum duration ${this.timeoutS}s)`, run.logLines));
            this.retire(pooled);
          }, this.timeoutS * 1000),
        };
        pooled.call = call;
        this.calls.set(id, call);
        this.post(pooled, { type: "invoke", call: id, module: modulePath, name: exportName, requestId: newRequestId(), args: argsText, env: { ...this.env } });
      };
      if (this.busy.size + this.idle.length < MAX_WORKERS || this.idle.length > 0) start();
      else this.queue.push(start);
    });
  }

  close(): void {
    this.closed = true;
    for (const pooled of [...this.busy, ...this.idle]) {
      this.finish(pooled, failure("The local backend is shutting down."));
      this.retire(pooled);
    }
    for (const start of this.queue.splice(0)) start();
  }

  private spawn(): Pooled {
    const worker = new Worker(workerProgram(formatLogArgs), {
      eval: true,
      workerData: this.setup,
      // Nothing of the server's environment: each call brings the declared variables.
      env: {},
      resourceLimits: { maxOldGenerationSizeMb: MEMORY_MB },
    });
    const pooled: Pooled = { worker, call: null, retired: false };
    worker.on("message", (message: FromWorker) => this.receive(pooled, message));
    worker.on("error", (error: Error) => {
      const memory = (error as { code?: string }).code === "ERR_WORKER_OUT_OF_MEMORY";
      const message = memory ? `JavaScript execution ran out of memory (maximum memory usage: ${MEMORY_MB} MB)` : `The Node.js worker failed: ${error.message}`;
      if (!this.finish(pooled, failure(message, pooled.call?.run.logLines))) this.onStrayError(error);
    });
    worker.on("exit", (code) => {
      this.finish(pooled, failure(`The action's Node.js worker exited (code ${code}) before the action returned.`, pooled.call?.run.logLines));
      this.retire(pooled);
    });
    return pooled;
  }

  private post(pooled: Pooled, message: ToWorker): void {
    pooled.worker.postMessage(message);
  }

  private receive(pooled: Pooled, message: FromWorker): void {
    switch (message.type) {
      case "analyzed":
        return pooled.analyzed?.(message.modules);
      case "log": {
        const call = message.call === null ? undefined : this.calls.get(message.call);
        if (call) call.run.logText(message.level, message.text);
        else this.onStrayError(new Error(`A "use node" action logged after it returned: ${message.text}`));
        return;
      }
      case "syscall":
        return void this.syscall(pooled, message);
      case "done": {
        const call = this.calls.get(message.call);
        if (!call || pooled.call !== call) return;
        this.finish(pooled, message.ok ? { ok: true, value: message.value } : this.describe(message.error, call.run.logLines));
        if (pooled.retired) return;
        this.release(pooled);
        return;
      }
      case "stray": {
        // As Convex's Node.js runtime: the call running when it happened fails with it, and
        // this worker (whose state is now unknown) takes no more calls.
        const info: ThrownInfo = message.error.kind === "error" ? { ...message.error, message: `${message.kind}: ${message.error.message}` } : { kind: "value", text: `${message.kind}: ${message.error.text}` };
        if (!this.finish(pooled, this.describe(info, pooled.call?.run.logLines ?? []))) this.onStrayError(this.thrown(info));
        this.retire(pooled);
        return;
      }
      default:
        return message satisfies never;
    }
  }

  /** Answers one call out of the action through its run (which refuses calls once the action returned). */
  private async syscall(pooled: Pooled, message: Extract<FromWorker, { type: "syscall" }>): Promise<void> {
    const call = message.call === null ? undefined : this.calls.get(message.call);
    let answer: ToWorker;
    try {
      if (!call || !call.run.active) throw new Error(AFTER_RETURN_MESSAGE);
      const value = await call.run.asyncSyscall(message.op, JSON.parse(message.json) as Record<string, JSONValue>);
      answer = { type: "answer", id: message.id, ok: true, value: JSON.stringify(value) };
    } catch (e) {
      const data = e instanceof NestedCallError ? e.data : undefined;
      answer = { type: "answer", id: message.id, ok: false, message: (e as Error).message, ...(data !== undefined ? { data } : {}) };
    }
    if (!pooled.retired) this.post(pooled, answer);
  }

  /** Settles the worker's current call, if any; false when there was none. */
  private finish(pooled: Pooled, outcome: NodeOutcome): boolean {
    const call = pooled.call;
    if (!call) return false;
    pooled.call = null;
    clearTimeout(call.timer);
    this.calls.delete(call.id);
    call.run.active = false;
    call.done(outcome);
    return true;
  }

  /** Back to the pool (or retired when enough wait); a queued call takes its place. */
  private release(pooled: Pooled): void {
    this.busy.delete(pooled);
    if (this.closed || this.idle.length >= MAX_IDLE) return this.retire(pooled);
    pooled.worker.unref();
    this.idle.push(pooled);
    this.queue.shift()?.();
  }

  private retire(pooled: Pooled): void {
    if (pooled.retired) return;
    pooled.retired = true;
    this.busy.delete(pooled);
    const at = this.idle.indexOf(pooled);
    if (at >= 0) this.idle.splice(at, 1);
    void pooled.worker.terminate();
    this.queue.shift()?.();
  }

  /** A thrown value rebuilt for describeThrown (which reads name, message, stack, data and the ConvexError mark). */
  private thrown(info: ThrownInfo): unknown {
    if (info.kind === "value") return info.text;
    const error: Record<string | symbol, unknown> = { name: info.name, message: info.message, stack: info.stack, data: info.data };
    if (info.convexError) error[Symbol.for("ConvexError")] = true;
    return error;
  }

  private describe(info: ThrownInfo, logLines: string[]): Failure {
    return describeThrown(this.thrown(info), logLines, this.maps);
  }
}
