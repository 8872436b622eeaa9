// One invocation of a Convex function: it answers the function's syscalls (reads, writes,
// query streams, identity), records the index ranges it read (for reactivity and
// conflict checks) and the index keys it wrote. The engine decides when runs happen and
// commits them.
import { format } from "node:util";
import { convexToJson, jsonToConvex, type JSONValue } from "convex/values";
import type { UserIdentity } from "./auth.js";
import { indexKey, type Catalog, type Doc, type IndexDef } from "./catalog.js";
import {
  COMPONENTS,
  NestedCallError,
  SYSCALL_FAILURES,
  SystemError,
  unsupported,
  unsupportedSyscall,
  type Outcome,
  type SystemFailure,
} from "./errors.js";
import { idTableNumber, makeId } from "./ids.js";
import type { GuestRun, RunKind } from "./isolate.js";
import { afterPrefix, encodeKey, type KeyRange } from "./keys.js";
import {
  checkTableName,
  MAX_DOCUMENTS_READ,
  MAX_DOCUMENTS_WRITTEN,
  MAX_READ_BYTES,
  MAX_WRITE_BYTES,
  OVER_LIMIT_HELP,
} from "./limits.js";
import { historyOf, readerAt, type Reader, type WriteHistory } from "./history.js";
import { checkPageRequest, decodeCursor, encodeCursor, readPage, type QueryJournal } from "./pages.js";
import { addRange, keyRange, parseDoc, QueryStream, type ReadSet, type SerializedQuery, type WriteSet } from "./reads.js";
import type { Storage } from "./storage.js";

/** What a run asks of the runtime that started it (runtime.ts): the schema and its checks. */
export interface RunHost {
  readonly catalog: Catalog;
  isIdOf(id: string, table: string): boolean;
  /** The document's size; throws when it breaks the schema or a limit. */
  checkDocument(table: string, doc: Doc): number;
  exists(udfPath: string): boolean;
}

/** How an action reaches queries and mutations: through the engine, like a client would. */
export interface ActionBridge {
  query(udfPath: string, args: JSONValue, identity: UserIdentity | null): Promise<Outcome>;
  mutation(udfPath: string, args: JSONValue, identity: UserIdentity | null): Promise<Outcome>;
  action(udfPath: string, args: JSONValue, identity: UserIdentity | null): Promise<Outcome>;
  /** `1.0/schedule` or `1.0/cancel_job` in a transaction of its own (an action's scheduler calls). */
  schedule(op: "1.0/schedule" | "1.0/cancel_job", args: Record<string, JSONValue>): Promise<JSONValue>;
}

/** Convex's system table of scheduled functions (runAfter, runAt, crons). */
export const SCHEDULED_TABLE = "_scheduled_functions";

/** A small seeded generator (xorshift128+), so Math.random in a query or mutation is deterministic per run. */
function seededRandom(seed: bigint): () => number {
  let s0 = seed | 1n;
  let s1 = (seed * 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
  const mask = 0xffffffffffffffffn;
  return () => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= (x << 23n) & mask;
    s1 = x ^ y ^ (x >> 17n) ^ (y >> 26n);
    return Number(((s1 + y) & mask) >> 11n) / 2 ** 53;
  };
}

/**
 * A console call's arguments as one log line: strings quoted, other values inspected.
 * Self-contained (no outside names): "use node" workers run it from its source text.
 */
export function formatLogArgs(args: unknown[], format: (f: string, ...a: unknown[]) => string): string {
  return args.map((a) => (typeof a === "string" ? `'${a}'` : format("%o", a))).join(" ");
}

export class FunctionRun implements GuestRun {
  readonly readSet: ReadSet = new Map();
  readonly writeSet: WriteSet = new Map();
  readonly logLines: string[] = [];
  readonly createdTables: string[] = [];
  private streams = new Map<number, QueryStream>();
  private nextStreamId = 0;
  active = true;
  readonly startedAt = Date.now();
  /** For Convex's user-time limit, which does not count time spent in the database. */
  readonly startedPerf = performance.now();
  syscallMs = 0;
  /** Set when the backend failed this run (see Failure.system): its outcome is this failure. */
  systemFailure: SystemFailure | null = null;
  /** An HTTP action whose Authorization header held no valid token: asking for the identity fails with this. */
  identityRefusal: Error | null = null;
  readonly random: () => number;
  /** The journal of this run, for its next one: set by its paginate. */
  journal: QueryJournal = null;
  /** Recent writes' before-images (reads at earlier timestamps); none for actions. */
  private history: WriteHistory | null = null;
  /** Documents this mutation read by id or wrote, as stored (their before-images if it writes them). */
  private readonly storedJson = new Map<string, string | null>();
  private snapshot: Reader | null = null;

  constructor(
    readonly runtime: RunHost,
    readonly storage: Storage,
    readonly kind: RunKind,
    readonly identity: UserIdentity | null,
    /** Commit timestamp of a mutation (nanoseconds); also the source of _creationTime. */
    readonly ts: bigint,
    private readonly bridge: ActionBridge | null = null,
    /** The journal of the run this one repeats (a subscription's re-run or resubscription). */
    private readonly previousJournal: QueryJournal = null,
    /** A query reading at an earlier timestamp than the latest (`ts`): consistentQuery. */
    private readonly readAt: bigint | null = null,
  ) {
    this.random = seededRandom(ts ^ BigInt(this.startedAt));
    // Actions have no timestamp of their own; queries and mutations start the history at theirs.
    if (kind !== "action") this.history = historyOf(storage, kind === "mutation" ? ts - 1n : ts);
  }

  /** Where reads go: the latest state, or the state at `readAt`. */
  private get reader(): Reader {
    if (this.readAt === null || !this.history) return this.storage;
    if (this.readAt > this.ts) throw new SystemError(`Cannot read at timestamp ${this.readAt}: it is later than the latest commit.`);
    this.snapshot ??= readerAt(this.storage, this.runtime.catalog, this.history, this.readAt);
    return this.snapshot;
  }

  async asyncSyscall(op: string, args: Record<string, JSONValue>): Promise<JSONValue> {
    if (op === "1.0/actions/schedule" || op === "1.0/actions/cancel_job") {
      if (!this.bridge) throw new SystemError(`${op} can only be called from an action.`);
      return this.bridge.schedule(op === "1.0/actions/schedule" ? "1.0/schedule" : "1.0/cancel_job", args);
    }
    const call =
      op === "1.0/actions/query" ? "query" : op === "1.0/actions/mutation" ? "mutation" : op === "1.0/actions/action" ? "action" : null;
    if (call === null) return this.syscall(op, args);
    if (!this.bridge) throw new SystemError(`${op} can only be called from an action.`);
    if (typeof args.name !== "string") {
      throw new SystemError(unsupported(COMPONENTS, `ctx.${call === "query" ? "runQuery" : call === "mutation" ? "runMutation" : "runAction"} by handle or component reference`));
    }
    const outcome = await this.bridge[call](args.name, args.args ?? {}, this.identity);
    if (!outcome.ok) throw new NestedCallError(outcome);
    return outcome.value;
  }

  /** A syscall's answer as the JSON text the function's side parses. */
  syscallJson(op: string, args: Record<string, JSONValue>): string {
    // The hottest reads: a stored document is already its Convex JSON.
    if (op === "1.0/queryStreamNext") return this.queryStreamNextJson(Number(args.queryId));
    if (op === "1.0/queryPage") return this.queryPageJson(args);
    if (op === "1.0/get") return this.getJson(args);
    return JSON.stringify(this.syscall(op, args));
  }

  syscall(op: string, args: Record<string, JSONValue>): JSONValue {
    switch (op) {
      case "1.0/get":
        return JSON.parse(this.getJson(args)) as JSONValue;
      case "1.0/insert":
        return this.insert(String(args.table), args.value);
      case "1.0/shallowMerge":
        return this.update(args, "merge");
      case "1.0/replace":
        return this.update(args, "replace");
      case "1.0/remove":
        return this.remove(args);
      case "1.0/queryStream":
        return this.queryStream(args.query as unknown as SerializedQuery);
      case "1.0/queryStreamNext":
        return this.queryStreamNext(Number(args.queryId));
      case "1.0/queryCleanup": {
        const stream = this.streams.get(Number(args.queryId));
        stream?.finish();
        this.streams.delete(Number(args.queryId));
        return true;
      }
      case "1.0/queryPage":
        return JSON.parse(this.queryPageJson(args)) as JSONValue;
      case "1.0/db/normalizeId": {
        const table = String(args.table);
        const id = String(args.idString);
        return { id: this.runtime.isIdOf(id, table) ? id : null };
      }
      case "1.0/getUserIdentity":
        if (this.identityRefusal) throw new SystemError(this.identityRefusal.message);
        return this.identity;
      case "1.0/schedule":
        return this.schedule(args);
      case "1.0/cancel_job":
        return this.cancelJob(args);
      case "1.0/count": {
        const table = String(args.table);
        const index = this.runtime.catalog.indexesOf(table)[0]!;
        addRange(this.readSet, index.name, { lo: Buffer.alloc(0), hi: Buffer.from([0xff]) });
        return this.reader.countEntries(index.name);
      }
      case "throwOcc":
      case "throwOverloaded": {
        // The run fails with it whatever the function does with the throw.
        this.systemFailure = SYSCALL_FAILURES[op]!;
        throw new SystemError(this.systemFailure.message);
      }
      case "1.0/actions/vectorSearch": {
        const indexName = String((args.query as { indexName?: unknown } | undefined)?.indexName);
        // A staged index is refused as Convex does; any other, because vector search is missing here.
        throw new SystemError(this.runtime.catalog.stagedIndexError(indexName) ?? unsupportedSyscall(op, args));
      }
      default:
        throw new SystemError(unsupportedSyscall(op, args));
    }
  }

  private requireWrite(what: string): void {
    if (this.kind !== "mutation") {
      throw new SystemError(`${what} is not allowed in a ${this.kind}: only mutations can write.`);
    }
  }

  private locate(idJson: JSONValue, tableHint: JSONValue | undefined): { id: string; table: string } | null {
    if (typeof idJson !== "string") throw new SystemError(`Invalid id: ${JSON.stringify(idJson)}`);
    const num = idTableNumber(idJson);
    const table = num === null ? undefined : this.storage.tableName(num);
    if (table === undefined) {
      if (typeof tableHint === "string") {
        throw new SystemError(`Invalid argument \`id\`: "${idJson}" is not an ID of table "${tableHint}".`);
      }
      // An id of a table that was never written: well-formed, but nothing can be there.
      if (num !== null) return null;
      throw new SystemError(`Invalid argument \`id\`: "${idJson}" is not a valid ID.`);
    }
    if (typeof tableHint === "string" && tableHint !== table) {
      throw new SystemError(`Invalid argument \`id\`: "${idJson}" is an ID of table "${table}", not "${tableHint}".`);
    }
    return { id: idJson, table };
  }

  private readById(id: string, table: string): Doc | null {
    const json = this.readJsonById(id, table);
    return json === null ? null : parseDoc(json);
  }

  /** A document as stored (its Convex JSON), recorded as read. */
  private readJsonById(id: string, table: string): string | null {
    const key = encodeKey([id]);
    addRange(this.readSet, `${table}.by_id`, { lo: key, hi: afterPrefix(key) });
    const row = this.reader.getDocument(id);
    if (!row) return null;
    if (this.history && this.kind === "mutation") this.storedJson.set(id, row.json);
    this.meterRead(row.json.length);
    return row.json;
  }

  private docsRead = 0;
  private bytesRead = 0;
  private docsWritten = 0;
  private bytesWritten = 0;

  /** Convex's per-transaction read limits, with its wording. */
  private readonly meterRead = (bytes: number): void => {
    this.docsRead++;
    this.bytesRead += bytes;
    if (this.docsRead > MAX_DOCUMENTS_READ) {
      throw new SystemError(`Too many documents read in a single function execution (limit: ${MAX_DOCUMENTS_READ}). ${OVER_LIMIT_HELP}`);
    }
    if (this.bytesRead > MAX_READ_BYTES) {
      throw new SystemError(`Too many bytes read in a single function execution (limit: ${MAX_READ_BYTES} bytes). ${OVER_LIMIT_HELP}`);
    }
  };

  private meterWrite(bytes: number): void {
    this.docsWritten++;
    this.bytesWritten += bytes;
    if (this.docsWritten > MAX_DOCUMENTS_WRITTEN) {
      throw new SystemError(`Too many writes in a single function execution (limit: ${MAX_DOCUMENTS_WRITTEN})`);
    }
    if (this.bytesWritten > MAX_WRITE_BYTES) {
      throw new SystemError(`Too many bytes written in a single function execution (limit: ${MAX_WRITE_BYTES / (1 << 20)} MiB)`);
    }
  }

  /** The document, as JSON text: as stored, as a stream hands it out. */
  private getJson(args: Record<string, JSONValue>): string {
    const loc = this.locate(args.id!, args.table);
    if (!loc) return "null";
    // db.get reads user tables, db.system.get system ones (the client checks only db.query's table name).
    const systemTable = loc.table.startsWith("_");
    if (systemTable !== (args.isSystem === true)) {
      throw new SystemError(`${systemTable ? "System" : "User"} tables can only be accessed from db.${systemTable ? "system." : ""}get().`);
    }
    return this.readJsonById(loc.id, loc.table) ?? "null";
  }

  /** Functions this run scheduled, to hand to the scheduler once it commits. */
  readonly scheduled: Array<{ id: string; at: number }> = [];

  private schedule(args: Record<string, JSONValue>): JSONValue {
    this.requireWrite("Scheduling");
    if (typeof args.name !== "string") throw new SystemError(unsupported(COMPONENTS, "ctx.scheduler by handle or component reference"));
    const name = args.name.replace(/\.js:/, ":");
    if (!this.runtime.exists(name)) throw new SystemError(`Attempted to schedule function at nonexistent path: ${args.name}`);
    const at = Number(args.ts) * 1000;
    if (!Number.isFinite(at)) throw new SystemError("The scheduled time must be a finite number.");
    const id = this.insertRow(SCHEDULED_TABLE, { name, args: [jsonToConvex(args.args ?? {})], scheduledTime: at, state: { kind: "pending" } });
    this.scheduled.push({ id, at });
    return id;
  }

  private cancelJob(args: Record<string, JSONValue>): JSONValue {
    this.requireWrite("Canceling a scheduled function");
    const loc = this.locate(args.id!, SCHEDULED_TABLE);
    const doc = loc && this.readById(loc.id, loc.table);
    const kind = (doc?.state as { kind?: string } | undefined)?.kind;
    // A running action goes on, but its job is marked canceled (Convex's rule).
    if (loc && doc && (kind === "pending" || kind === "inProgress")) {
      this.write(loc.table, loc.id, doc, { ...doc, state: { kind: "canceled" }, completedTime: Date.now() });
    }
    return null;
  }

  /** Marks a scheduled job's outcome (the engine calls this around the job's own run). */
  setJobState(id: string, state: Doc["state"], completed: boolean): void {
    const old = this.readById(id, SCHEDULED_TABLE);
    if (!old) return;
    // A mutation that canceled its own job leaves it canceled, as on Convex.
    if ((old.state as { kind?: string } | undefined)?.kind === "canceled") return;
    this.write(SCHEDULED_TABLE, id, old, { ...old, state, ...(completed ? { completedTime: Date.now() } : {}) });
  }

  private insert(table: string, valueJson: JSONValue | undefined): JSONValue {
    this.requireWrite("insert");
    checkTableName(table);
    const value = jsonToConvex(valueJson ?? null);
    if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof ArrayBuffer) {
      throw new SystemError("insert expects an object.");
    }
    for (const field of ["_id", "_creationTime"]) {
      if (field in value) throw new SystemError(`System field \`${field}\` cannot be set on insert.`);
    }
    return { _id: this.insertRow(table, value as Doc) };
  }

  private insertRow(table: string, value: Doc): string {
    let num = this.storage.tableNumber(table);
    if (num === undefined) {
      num = this.storage.createTable(table);
      this.createdTables.push(table);
      // Record the new table's indexes so the next start does not rebuild them.
      for (const index of this.runtime.catalog.indexesOf(table)) this.storage.defineIndex(index.name, JSON.stringify(index.fields));
    }
    const id = makeId(num);
    const doc: Doc = { _id: id, _creationTime: Number(this.ts / 1000n) / 1000, ...value };
    this.write(table, id, null, doc);
    return id;
  }

  private update(args: Record<string, JSONValue>, mode: "merge" | "replace"): JSONValue {
    this.requireWrite(mode === "merge" ? "patch" : "replace");
    const loc = this.locate(args.id!, args.table);
    const old = loc && this.readById(loc.id, loc.table);
    if (!loc || !old) {
      throw new SystemError(`${mode === "merge" ? "Update" : "Replace"} on nonexistent document ID ${String(args.id)}`);
    }
    if (loc.table.startsWith("_")) throw new SystemError(`System tables (${loc.table}) can only be written by the system.`);
    const raw = args.value;
    if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
      throw new SystemError(`${mode === "merge" ? "patch" : "replace"} expects an object.`);
    }
    const next: Doc = mode === "merge" ? { ...old } : { _id: old._id!, _creationTime: old._creationTime! };
    for (const [field, json] of Object.entries(raw)) {
      const isUnset = json !== null && typeof json === "object" && !Array.isArray(json) && "$undefined" in json;
      const value = isUnset ? undefined : jsonToConvex(json);
      if (field === "_id" || field === "_creationTime") {
        if (value !== undefined && value !== old[field]) {
          throw new SystemError(`System field \`${field}\` cannot be modified.`);
        }
        continue;
      }
      if (value === undefined) delete next[field];
      else next[field] = value;
    }
    this.write(loc.table, loc.id, old, next);
    return null;
  }

  private remove(args: Record<string, JSONValue>): JSONValue {
    this.requireWrite("delete");
    const loc = this.locate(args.id!, args.table);
    const old = loc && this.readById(loc.id, loc.table);
    if (!loc || !old) throw new SystemError(`Delete on nonexistent document ID ${String(args.id)}`);
    if (loc.table.startsWith("_")) throw new SystemError(`System tables (${loc.table}) can only be written by the system.`);
    this.write(loc.table, loc.id, old, null);
    return null;
  }

  private write(table: string, id: string, before: Doc | null, after: Doc | null): void {
    this.meterWrite(after ? this.runtime.checkDocument(table, after) : 0);
    // The document as stored before this write, for reads at earlier timestamps.
    const beforeJson = before ? (this.storedJson.get(id) ?? JSON.stringify(convexToJson(before))) : null;
    this.history?.record(this.ts, id, table, beforeJson);
    for (const index of this.runtime.catalog.indexesOf(table)) {
      const keys = this.writeSet.get(index.name) ?? [];
      this.writeSet.set(index.name, keys);
      const beforeKey = before && indexKey(index, before);
      const afterKey = after && indexKey(index, after);
      // An update that leaves a key as it was leaves its entry as it was (a note's head is
      // patched on every keystroke, its index fields never); readers of that key still
      // see a new document, so the key stays in the write set.
      if (beforeKey && afterKey && beforeKey.equals(afterKey)) {
        keys.push(afterKey);
        continue;
      }
      if (beforeKey) {
        this.storage.removeIndexEntry({ index: index.name, key: beforeKey });
        keys.push(beforeKey);
      }
      if (afterKey) {
        this.storage.addIndexEntry({ index: index.name, key: afterKey }, id);
        keys.push(afterKey);
      }
    }
    const afterJson = after ? JSON.stringify(convexToJson(after)) : null;
    if (afterJson !== null) this.storage.putDocument(id, this.storage.tableNumber(table)!, afterJson);
    else this.storage.deleteDocument(id);
    if (this.history) this.storedJson.set(id, afterJson);
  }

  private resolveSource(query: SerializedQuery): { index: IndexDef; range: KeyRange; order: "asc" | "desc" } {
    const source = query.source;
    switch (source.type) {
      case "FullTableScan": {
        const index = this.runtime.catalog.indexesOf(source.tableName)[1]!;
        return { index, range: { lo: Buffer.alloc(0), hi: Buffer.from([0xff]) }, order: source.order ?? "asc" };
      }
      case "IndexRange": {
        const [table = "", name = ""] = source.indexName.split(".");
        const index = this.runtime.catalog.index(source.indexName);
        if (!index || !this.runtime.catalog.indexesOf(table).includes(index)) {
          throw new SystemError(this.runtime.catalog.stagedIndexError(source.indexName) ?? `Index ${source.indexName} not found.`);
        }
        void name;
        return { index, range: keyRange(index, source.range), order: source.order ?? "asc" };
      }
      case "Search":
        throw new SystemError(this.runtime.catalog.stagedIndexError(source.indexName) ?? unsupported("Text search", `index ${source.indexName}`));
      default:
        return source satisfies never;
    }
  }

  private queryStream(query: SerializedQuery): JSONValue {
    const { index, range, order } = this.resolveSource(query);
    const id = this.nextStreamId++;
    this.streams.set(id, new QueryStream(this.reader, this.readSet, index, range, order, query.operators, this.meterRead));
    return { queryId: id };
  }

  private queryStreamNext(queryId: number): JSONValue {
    return JSON.parse(this.queryStreamNextJson(queryId)) as JSONValue;
  }

  private queryStreamNextJson(queryId: number): string {
    const stream = this.streams.get(queryId);
    if (!stream) throw new SystemError("This query is closed and can't emit any more values.");
    const json = stream.nextJson();
    if (json === null) {
      this.streams.delete(queryId);
      return '{"value":null,"done":true}';
    }
    return `{"value":${json},"done":false}`;
  }

  /** A page, as JSON text: its documents go in as stored, as a stream's do. */
  private queryPageJson(args: Record<string, JSONValue>): string {
    const query = args.query as unknown as SerializedQuery;
    const { index, range, order } = this.resolveSource(query);
    checkPageRequest(args.pageSize, args.maximumRowsRead, args.maximumBytesRead);
    // The journal holds one end cursor, so a run may paginate once (Convex's rule too).
    if (this.journal !== null) {
      throw new SystemError(
        "This query or mutation function ran multiple paginated queries. Convex only supports a single paginated query in each function.",
      );
    }
    const start = decodeCursor(args.cursor, index.name, order);
    // An explicit end cursor (a split page) wins; otherwise a re-run ends where the first run did.
    const explicitEnd = args.endCursor ?? null;
    const end = decodeCursor(explicitEnd ?? this.previousJournal, index.name, order);
    const limit = (v: JSONValue | undefined) => (typeof v === "number" ? v : null);
    const page = readPage(this.reader, this.readSet, index, range, order, query.operators, this.meterRead, {
      start,
      end,
      pageSize: args.pageSize as number,
      maximumRowsRead: limit(args.maximumRowsRead),
      maximumBytesRead: limit(args.maximumBytesRead),
    });
    const continueCursor = encodeCursor(index.name, order, page.end);
    this.journal = continueCursor;
    const rest = JSON.stringify({
      isDone: page.end === "end",
      continueCursor,
      splitCursor: page.split ? encodeCursor(index.name, order, page.split) : null,
      pageStatus: page.status,
    });
    return `{"page":[${page.docs.join(",")}],${rest.slice(1)}`;
  }

  log(level: string, args: unknown[]): void {
    this.logText(level, formatLogArgs(args, format));
  }

  logText(level: string, text: string): void {
    this.logLines.push(`[${level.toUpperCase()}] ${text}`);
  }
}
