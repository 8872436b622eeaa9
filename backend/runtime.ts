// The project's functions, loaded and callable: finds a function by path, validates its
// arguments and result, and runs it as a FunctionRun in its realm (the isolate for the
// default runtime, worker threads for "use node" files). The engine decides when runs
// happen and commits them.
import { existsSync } from "node:fs";
import path from "node:path";
import type vm from "node:vm";
import { format } from "node:util";
import { jsonToConvex, type JSONValue, type Value } from "convex/values";
import { Authenticator, parseAuthConfig, refusedTokens, type UserIdentity } from "./auth.js";
import {
  bundleRealm,
  canonicalUdfPath,
  collectProject,
  projectFiles,
  type FunctionKind,
  type LoadedFunction,
  type LoadedProject,
  type Realm,
} from "./bundle.js";
import { Catalog, indexKey, type Doc } from "./catalog.js";
import {
  AFTER_RETURN_MESSAGE,
  describeThrown,
  failure,
  httpErrorBody,
  newRequestId,
  SystemError,
  TIMEOUT_MESSAGE,
  unsupported,
  USER_TIMEOUT_MS,
  type Failure,
  type Outcome,
} from "./errors.js";
import { FunctionRun, type ActionBridge } from "./function-run.js";
import { idTableNumber } from "./ids.js";
import { Isolate, SliceTimeout } from "./isolate.js";
import { NodeRealm } from "./node-realm.js";
import { actionTimeoutSeconds, checkDocumentShape, MAX_RESULT_SIZE } from "./limits.js";
import type { QueryJournal } from "./pages.js";
import { parseDoc } from "./reads.js";
import { deepenStacks, rememberBundle } from "./stack.js";
import type { Storage } from "./storage.js";
import { checkValue, type ValidatorJson } from "./validate.js";

export type { Outcome } from "./errors.js";
export { NOT_SUPPORTED } from "./errors.js";
export type { UserIdentity } from "./auth.js";
export type { ActionBridge } from "./function-run.js";
export type { ReadSet, WriteSet } from "./reads.js";

export type Invoked = { outcome: Outcome; run: FunctionRun };

/** A run's result before it is checked: a success carries whatever the function returned. */
type RawOutcome = { ok: true; value: unknown } | Failure;

type Validators = { args: ValidatorJson | null; returns: ValidatorJson | null };

/**
 * How long an action's code may run without awaiting. Convex gives actions 10 minutes in
 * all, in their own isolate; here they share one thread with everything else, so one
 * synchronous stretch is bounded (the longest the server can be held up by an action).
 */
const ACTION_SLICE_MS = 5 * USER_TIMEOUT_MS;

/**
 * Convex limits a query or mutation to 1 s of user time, not counting database calls:
 * that is checked when it finishes. A run that never finishes (a runaway loop) is
 * stopped by the watchdog at this wall-clock time, database time included.
 */
const UDF_WATCHDOG_MS = 3 * USER_TIMEOUT_MS;

/** How long a query or mutation may wait for outside promises before it is failed as timed out. */
const UDF_WAIT_LIMIT_MS = 10_000;

const ACTION_CALLS = new Set(["1.0/actions/query", "1.0/actions/mutation", "1.0/actions/action", "1.0/actions/schedule", "1.0/actions/cancel_job"]);

export type RuntimeOptions = {
  /** Environment variables the functions may read (`process.env`); nothing else of the server's is visible. */
  env: Record<string, string>;
  /** Where errors go that belong to no call any more (a timer of a finished action, an unhandled rejection). */
  onStrayError?: (error: unknown) => void;
};

type Host = { syscall(op: string, json: string): string; asyncSyscall(op: string, json: string): string | Promise<string> };

/** The syscalls of whichever run `getRun` names; calls after that run returned are refused. */
function hostFor(getRun: () => FunctionRun | undefined): Host {
  const current = (): FunctionRun => {
    const run = getRun();
    if (!run || !run.active) {
      throw new Error(AFTER_RETURN_MESSAGE);
    }
    return run;
  };
  const parse = (json: string) => JSON.parse(json) as Record<string, JSONValue>;
  const timed = (run: FunctionRun, op: string, json: string): string => {
    const t = performance.now();
    try {
      return run.syscallJson(op, parse(json));
    } finally {
      run.syscallMs += performance.now() - t;
    }
  };
  return {
    syscall: (op, json) => timed(current(), op, json),
    asyncSyscall: (op, json) => {
      const run = current();
      // Calls out of an action go through the engine; start them on a later turn so the
      // engine never runs a function while the action's code is still on the stack.
      if (ACTION_CALLS.has(op)) return Promise.resolve().then(async () => JSON.stringify(await run.asyncSyscall(op, parse(json))));
      return timed(run, op, json);
    },
  };
}

export class Runtime {
  private validators = new Map<string, Validators>();
  /** The query or mutation running in the shared realm (the engine runs them one at a time). */
  private udfRun: FunctionRun | undefined;
  private udfRealm!: Isolate;
  private defaultBundle: vm.Script | null = null;
  /** Read once, when the project loads (as the node realm does). */
  private readonly actionTimeoutS = actionTimeoutSeconds();
  /** "use node" actions, in worker threads. */
  private nodeRealm: NodeRealm | null = null;

  private constructor(
    readonly storage: Storage,
    private readonly options: Required<RuntimeOptions>,
  ) {}

  readonly catalog!: Catalog;
  /** Verifies clients' JWTs against convex/auth.config.ts (no providers: every token is refused, as on Convex). */
  authenticator = new Authenticator([]);
  readonly project!: LoadedProject;

  static async load(storage: Storage, functionsDir: string, options: RuntimeOptions): Promise<Runtime> {
    const stray =
      options.onStrayError ??
      ((error: unknown) => process.stderr.write(`[local backend] error outside any call: ${format("%o", error)}\n`));
    const runtime = new Runtime(storage, { env: options.env, onStrayError: stray });
    runtime.udfRealm = new Isolate(() => runtime.udfRun, hostFor(() => runtime.udfRun), options.env, stray, UDF_WATCHDOG_MS);
    deepenStacks(runtime.udfRealm.context);
    try {
      const files = projectFiles(functionsDir);
      const bundles: Array<{ realm: Realm; exports: Record<string, unknown> }> = [];
      if (files.isolate.length > 0) {
        const code = await bundleRealm(functionsDir, files.isolate, "isolate");
        runtime.defaultBundle = Isolate.compile(code, rememberBundle(path.join(functionsDir, "functions.js"), code, functionsDir));
        bundles.push({ realm: "isolate", exports: runtime.udfRealm.evaluate(runtime.defaultBundle) });
      }
      if (files.node.length > 0) {
        const node = await NodeRealm.load(functionsDir, files.node, options.env, stray);
        runtime.nodeRealm = node.realm;
        bundles.push({ realm: "node", exports: node.exports });
      }
      const project = collectProject(bundles);
      const authFile = ["auth.config.ts", "auth.config.js"].find((f) => existsSync(path.join(functionsDir, f)));
      if (authFile) {
        const script = Isolate.compile(await bundleRealm(functionsDir, [authFile], "isolate"), authFile);
        const modules = runtime.udfRealm.evaluate(script).modules as Record<string, Record<string, unknown>>;
        runtime.authenticator = new Authenticator(parseAuthConfig(modules["auth.config"]?.default));
      }
      const tables: string[] = [];
      for (let n = 0; ; n++) {
        // Table numbers are dense from 10001; collect the names the data dir already has.
        const name = storage.tableName(10001 + n);
        if (name === undefined) break;
        tables.push(name);
      }
      Object.assign(runtime, { project, catalog: new Catalog(project.schema, tables) });
      // Declarations this backend cannot honour: said once here, and again by each call that uses them.
      const lacking = [
        ...(runtime.catalog.searchIndexes.length > 0 ? [`search and vector indexes (${runtime.catalog.searchIndexes.join(", ")})`] : []),
        ...(["convex.config.ts", "convex.config.js"].some((f) => existsSync(path.join(functionsDir, f))) ? ["components (convex.config.ts)"] : []),
      ];
      if (lacking.length > 0) process.stderr.write(`[local backend] ${unsupported("Part of this project", lacking.join("; "))}; calls that use them fail.\n`);
      runtime.syncIndexes();
      return runtime;
    } catch (e) {
      runtime.close();
      throw e;
    }
  }

  close(): void {
    this.udfRealm.close();
    this.nodeRealm?.close();
  }

  /** Builds indexes that are new or whose fields changed since the data dir was last used. */
  private syncIndexes(): void {
    const stored = this.storage.storedIndexes();
    const wanted = this.catalog.allIndexes();
    this.storage.transaction(() => {
      for (const index of wanted) {
        const fields = JSON.stringify(index.fields);
        if (stored.get(index.name) === fields) continue;
        this.storage.defineIndex(index.name, fields);
        const num = this.storage.tableNumber(index.table);
        if (num === undefined) continue;
        for (const json of this.storage.documentsOfTable(num)) {
          const doc = parseDoc(json);
          this.storage.addIndexEntry({ index: index.name, key: indexKey(index, doc) }, String(doc._id));
        }
      }
      const names = new Set(wanted.map((i) => i.name));
      for (const name of stored.keys()) if (!names.has(name)) this.storage.dropIndex(name);
    });
  }

  isIdOf(id: string, table: string): boolean {
    const num = idTableNumber(id);
    return num !== null && this.storage.tableName(num) === table;
  }

  /** Convex's document limits and, when the schema asks for it, the table's validator. Returns the size. */
  checkDocument(table: string, doc: Doc): number {
    const size = checkDocumentShape(doc);
    if (!this.catalog.validatesSchema || table.startsWith("_")) return size;
    const type = this.catalog.documentType(table);
    const fail = (detail: string) =>
      new SystemError(`Failed to insert or update a document in table "${table}" because it does not match the schema: ${detail}`);
    if (!type) throw fail(`Table "${table}" is not defined in the schema.`);
    const { _id, _creationTime, ...userFields } = doc;
    void _id;
    void _creationTime;
    const err = checkValue(type, userFields, (id, t) => this.isIdOf(id, t));
    if (err) throw fail(err);
    return size;
  }

  /** Whether the project has a function at this path (any kind, public or internal). */
  exists(udfPath: string): boolean {
    return this.project.functions.has(canonicalUdfPath(udfPath));
  }

  /** The kind of the function at this path, if there is one. */
  kindOf(udfPath: string): FunctionKind | undefined {
    return this.project.functions.get(canonicalUdfPath(udfPath))?.kind;
  }

  /** A run for the system's own writes (scheduler bookkeeping), inside the caller's transaction. */
  systemRun(ts: bigint): FunctionRun {
    return new FunctionRun(this, this.storage, "mutation", null, ts, null);
  }

  lookup(udfPath: string, kind: FunctionKind, allowInternal = false): LoadedFunction | string {
    const path = canonicalUdfPath(udfPath);
    const fn = this.project.functions.get(path);
    const broken = fn ? undefined : this.nodeRealm?.loadError(path);
    if (broken) return broken;
    if (!fn || (!fn.isPublic && !allowInternal)) {
      return `Could not find public function for '${path.replace(/:default$/, "")}'. Did you forget to run \`npx convex dev\`?`;
    }
    if (fn.kind !== kind) {
      const cap = (k: string) => k[0]!.toUpperCase() + k.slice(1);
      return `Trying to execute ${path} as ${cap(kind)}, but it is defined as ${cap(fn.kind)}.`;
    }
    return fn;
  }

  private validatorsOf(fn: LoadedFunction): Validators {
    let found = this.validators.get(fn.udfPath);
    if (!found) {
      const args = JSON.parse(fn.fn.exportArgs()) as ValidatorJson;
      found = {
        args: args.type === "any" ? null : args,
        returns: JSON.parse(fn.fn.exportReturns()) as ValidatorJson | null,
      };
      this.validators.set(fn.udfPath, found);
    }
    return found;
  }

  /** Runs one function to completion; see invokeWith. */
  invoke(
    udfPath: string,
    kind: FunctionKind,
    argsJson: JSONValue,
    identity: UserIdentity | null,
    ts: bigint,
    options: { allowInternal?: boolean; bridge?: ActionBridge; journal?: QueryJournal; readAt?: bigint } = {},
  ): Promise<Invoked> {
    return new Promise((resolve) => this.invokeWith(udfPath, kind, argsJson, identity, ts, options, resolve));
  }

  /**
   * Runs one function and calls `done` when it finished: for a query or mutation that
   * needs nothing from outside, before this returns when inside a session. The caller
   * owns the transaction (for a mutation: a savepoint it releases or rolls back depending
   * on `outcome.ok`).
   */
  invokeWith(
    udfPath: string,
    kind: FunctionKind,
    argsJson: JSONValue,
    identity: UserIdentity | null,
    ts: bigint,
    options: { allowInternal?: boolean; bridge?: ActionBridge; journal?: QueryJournal; readAt?: bigint },
    done: (invoked: Invoked) => void,
  ): void {
    const run = new FunctionRun(this, this.storage, kind, identity, ts, options.bridge ?? null, options.journal ?? null, options.readAt ?? null);
    const found = this.lookup(udfPath, kind, options.allowInternal);
    if (typeof found === "string") return done({ outcome: failure(found), run });
    const validators = this.validatorsOf(found);
    let args: Value;
    try {
      args = jsonToConvex(argsJson);
    } catch (e) {
      return done({ outcome: failure(`ArgumentValidationError: ${(e as Error).message}`), run });
    }
    if (validators.args) {
      const err = checkValue(validators.args, args, (id, table) => this.isIdOf(id, table));
      if (err) return done({ outcome: failure(`ArgumentValidationError: ${err}`), run });
    }
    const argsText = JSON.stringify([argsJson]);
    const finish = (raw: RawOutcome) => done({ outcome: this.checkResult(found, validators, run, raw), run });
    if (found.realm === "node") {
      void this.nodeRealm!.invoke(run, found.udfPath, argsText).then(finish);
      return;
    }
    const { invokeQuery, invokeMutation, invokeAction } = found.fn;
    const start =
      kind === "query" && invokeQuery
        ? () => invokeQuery(argsText)
        : kind === "mutation" && invokeMutation
          ? () => invokeMutation(argsText)
          : kind === "action" && invokeAction
            ? () => invokeAction(newRequestId(), argsText)
            : null;
    if (!start) return done({ outcome: failure(`${found.udfPath} cannot be invoked as a ${kind}.`), run });
    if (kind === "action") {
      void this.runAction(run, (exports) => {
        const fn = exportOf(exports, found.udfPath) as typeof found.fn | undefined;
        if (!fn?.invokeAction) throw new SystemError(`${found.udfPath} is not an action.`);
        return fn.invokeAction(newRequestId(), argsText);
      }).then(finish);
    } else {
      this.runUdf(run, start, finish);
    }
  }

  private checkResult(found: LoadedFunction, validators: Validators, run: FunctionRun, outcome: RawOutcome): Outcome {
    run.active = false;
    if (run.systemFailure) return { ...failure(run.systemFailure.message, run.logLines), system: run.systemFailure };
    if (!outcome.ok) return { ...outcome, logLines: run.logLines };
    const text = outcome.value as string;
    if (text.length > MAX_RESULT_SIZE) {
      return failure(`Function ${found.udfPath} return value is too large (${text.length} bytes > maximum size ${MAX_RESULT_SIZE} bytes)`, run.logLines);
    }
    const value = JSON.parse(text) as JSONValue;
    if (validators.returns) {
      const err = checkValue(validators.returns, jsonToConvex(value), (id, table) => this.isIdOf(id, table));
      if (err) return failure(`ReturnsValidationError: ${err}`, run.logLines);
    }
    return { ok: true, value, logLines: run.logLines };
  }

  /**
   * Runs a route of convex/http.ts as an HTTP action. Unknown routes get Convex's 404
   * text; a failed action a 500 with its error.
   */
  async invokeHttp(request: Request, identity: UserIdentity | null, bridge: ActionBridge): Promise<Response> {
    type Router = { lookup?: (path: string, method: string) => [{ invokeHttpAction?: (r: Request) => Promise<Response> }, string, string] | null };
    const path = new URL(request.url).pathname;
    const known = (this.project.http as Router | null)?.lookup?.(path, request.method);
    if (!known) return new Response(`No HttpAction routed for ${path}`, { status: 404 });
    const run = new FunctionRun(this, this.storage, "action", identity, 0n, bridge);
    run.identityRefusal = refusedTokens.get(request) ?? null;
    const outcome = await this.runAction(run, (exports) => {
      const router = ((exports.modules as Record<string, Record<string, unknown>>).http?.default ?? null) as Router | null;
      const handler = router?.lookup?.(path, request.method)?.[0];
      if (!handler?.invokeHttpAction) throw new SystemError(`No HttpAction routed for ${path}`);
      return handler.invokeHttpAction(request);
    });
    if (!outcome.ok) return Response.json(httpErrorBody(outcome), { status: 500 });
    return outcome.value instanceof Response ? outcome.value : new Response(String(outcome.value));
  }

  /** A query or mutation, in the shared realm. */
  private runUdf(run: FunctionRun, start: () => Promise<unknown>, done: (outcome: RawOutcome) => void): void {
    this.udfRun = run;
    this.startIn(this.udfRealm, run, start, UDF_WATCHDOG_MS, (outcome) => {
      if (this.udfRun === run) this.udfRun = undefined;
      done(outcome);
    });
  }

  /** An action (or HTTP action), in a realm of its own that is dropped when it returns, timers and all. */
  private async runAction(run: FunctionRun, start: (exports: Record<string, unknown>) => Promise<unknown>): Promise<RawOutcome> {
    if (!this.defaultBundle) return failure("The project has no functions for the default runtime.");
    const realm = new Isolate(() => run, hostFor(() => run), this.options.env, this.options.onStrayError, ACTION_SLICE_MS);
    deepenStacks(realm.context);
    const limitS = this.actionTimeoutS;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<RawOutcome>((resolve) => {
      timer = setTimeout(() => resolve(failure(`Function execution timed out (maximum duration: ${limitS}s)`, run.logLines)), limitS * 1000);
    });
    try {
      const exports = realm.evaluate(this.defaultBundle);
      return await Promise.race([this.runIn(realm, run, () => start(exports), ACTION_SLICE_MS), timedOut]);
    } finally {
      clearTimeout(timer);
      // Past its time the action is cut off: its calls out are refused, its timers dropped with the realm.
      run.active = false;
      realm.close();
    }
  }

  private runIn(realm: Isolate, run: FunctionRun, start: () => Promise<unknown>, limit: number): Promise<RawOutcome> {
    return new Promise((resolve) => this.startIn(realm, run, start, limit, resolve));
  }

  private startIn(realm: Isolate, run: FunctionRun, start: () => Promise<unknown>, limit: number, done: (outcome: RawOutcome) => void): void {
    let settled = false;
    realm.start(
      start,
      (ok, value) => {
        if (settled) return;
        settled = true;
        run.active = false;
        const userMs = performance.now() - run.startedPerf - run.syscallMs;
        const overTime = run.kind !== "action" && userMs > USER_TIMEOUT_MS;
        done(
          ok && !overTime
            ? { ok: true, value }
            : overTime || value instanceof SliceTimeout
              ? failure(TIMEOUT_MESSAGE, run.logLines)
              : describeThrown(value, run.logLines),
        );
      },
      limit,
      // A query or mutation holds up the engine while it waits for outside work: bounded.
      run.kind === "action" ? undefined : UDF_WAIT_LIMIT_MS,
    );
  }

  /**
   * Hands mutations' outside answers to `gate` (optimistic execution), or delivers them at
   * once (null: a waiting mutation holds up the engine). A resumed call is the realm's current run.
   */
  setOutsideGate(gate: { waiting(run: FunctionRun): void; answered(run: FunctionRun, resume: () => void): void } | null): void {
    this.udfRealm.outsideGate = gate && {
      waiting: (run) => gate.waiting(run as FunctionRun),
      answered: (run, resume) =>
        gate.answered(run as FunctionRun, () => {
          this.udfRun = run as FunctionRun;
          resume();
        }),
    };
  }

  /** Entries into the queries' and mutations' realm so far (see Isolate.entries). */
  get realmEntries(): number {
    return this.udfRealm.entries;
  }

  /** Runs `body`, and the queries and mutations it starts one after another, in one realm entry. */
  session(body: () => void): void {
    this.udfRealm.runSession(body, UDF_WATCHDOG_MS);
  }
}

/** The export `name` of module `path` in a bundle's `modules`, for "path:name". */
function exportOf(bundleExports: Record<string, unknown>, udfPath: string): unknown {
  const [modulePath = "", name = "default"] = udfPath.split(":");
  const modules = bundleExports.modules as Record<string, Record<string, unknown>> | undefined;
  return modules?.[modulePath]?.[name];
}
