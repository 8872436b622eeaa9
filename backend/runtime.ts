// Runs Convex functions against the storage layer. Each invocation is a FunctionRun:
// it answers the functions' syscalls (reads, writes, query streams, identity), records
// the index ranges it read (for reactivity) and the index keys it wrote (to invalidate
// other runs' reads). The engine decides when runs happen and commits them.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { format } from "node:util";
import {
  convexToJson,
  getDocumentSize,
  jsonToConvex,
  type JSONValue,
  type Value,
} from "convex/values";
import { canonicalUdfPath, loadProject, type ConvexGlobal, type FunctionKind, type LoadedFunction } from "./bundle.js";
import { Catalog, indexKey, type Doc, type IndexDef } from "./catalog.js";
import { matches } from "./filter.js";
import { idTableNumber, makeId } from "./ids.js";
import { afterPrefix, encodeKey, successor, type KeyRange } from "./keys.js";
import type { Storage } from "./storage.js";
import { checkValue, type ValidatorJson } from "./validate.js";

export type UserIdentity = { tokenIdentifier: string; subject: string; issuer: string; [claim: string]: JSONValue };

/** Index ranges a run read, by index name; a write of a key inside one invalidates it. */
export type ReadSet = Map<string, KeyRange[]>;
/** Keys a run wrote (before and after images), by index name. */
export type WriteSet = Map<string, Buffer[]>;

export type Outcome =
  | { ok: true; value: JSONValue; logLines: string[] }
  | { ok: false; message: string; data?: JSONValue; logLines: string[] };

export const NOT_SUPPORTED = "not supported by the local backend";

/** How an action reaches queries and mutations: through the engine, like a client would. */
export interface ActionBridge {
  query(udfPath: string, args: JSONValue, identity: UserIdentity | null): Promise<Outcome>;
  mutation(udfPath: string, args: JSONValue, identity: UserIdentity | null): Promise<Outcome>;
  action(udfPath: string, args: JSONValue, identity: UserIdentity | null): Promise<Outcome>;
}

/** A failed nested call, shaped the way convex's performAsyncSyscall rethrows it (ConvexError when `data` is set). */
class NestedCallError extends Error {
  constructor(
    message: string,
    readonly data?: JSONValue,
  ) {
    super(message);
  }
}

const MAX_DOCUMENT_SIZE = 1 << 20;
const MAX_NESTING = 16;
const MAX_FIELD_NAME = 1024;
const TABLE_NAME = /^[a-zA-Z][a-zA-Z0-9_]{0,63}$/;

/** An error raised by the backend itself (bad id, missing index, unsupported call...) rather than by user code. */
class SystemError extends Error {}

type RangeExpr = { type: "Eq" | "Gt" | "Gte" | "Lt" | "Lte"; fieldPath: string; value: JSONValue };
type SerializedQuery = {
  source:
    | { type: "FullTableScan"; tableName: string; order: "asc" | "desc" | null }
    | { type: "IndexRange"; indexName: string; range: RangeExpr[]; order: "asc" | "desc" | null }
    | { type: "Search"; indexName: string };
  operators: Array<{ filter: JSONValue } | { limit: number }>;
};

function parseDoc(json: string): Doc {
  return jsonToConvex(JSON.parse(json) as JSONValue) as Doc;
}

/** Turns an index range expression into a byte range over the index's keys. */
function keyRange(index: IndexDef, range: RangeExpr[]): KeyRange {
  const eqValues: Array<Value | undefined> = [];
  let i = 0;
  for (; i < range.length && range[i]!.type === "Eq"; i++) {
    const expr = range[i]!;
    if (expr.fieldPath !== index.fields[eqValues.length]) {
      throw new SystemError(
        `Index range for ${index.name} must use the index's fields in order: expected ` +
          `"${index.fields[eqValues.length] ?? "(none)"}" but got "${expr.fieldPath}".`,
      );
    }
    eqValues.push(toValue(expr.value));
  }
  const prefix = encodeKey(eqValues);
  let lo = prefix;
  let hi = afterPrefix(prefix);
  const boundField = index.fields[eqValues.length];
  let seenLower = false;
  let seenUpper = false;
  for (; i < range.length; i++) {
    const expr = range[i]!;
    if (expr.type === "Eq" || expr.fieldPath !== boundField) {
      throw new SystemError(
        `Index range for ${index.name} is not a valid range: after the equalities, only ` +
          `one lower and one upper bound on "${boundField ?? "(none)"}" may follow.`,
      );
    }
    const bound = Buffer.concat([prefix, encodeKey([toValue(expr.value)])]);
    const isLower = expr.type === "Gt" || expr.type === "Gte";
    if (isLower ? seenLower : seenUpper) {
      throw new SystemError(`Index range for ${index.name} has two ${isLower ? "lower" : "upper"} bounds.`);
    }
    if (isLower) {
      seenLower = true;
      lo = expr.type === "Gte" ? bound : afterPrefix(bound);
    } else {
      seenUpper = true;
      hi = expr.type === "Lt" ? bound : afterPrefix(bound);
    }
  }
  return { lo, hi };
}

function toValue(json: JSONValue): Value | undefined {
  if (json !== null && typeof json === "object" && !Array.isArray(json) && "$undefined" in json) return undefined;
  return jsonToConvex(json);
}

function addRange(set: ReadSet, index: string, range: KeyRange): void {
  const list = set.get(index);
  if (list) list.push(range);
  else set.set(index, [range]);
}

/** Iterates one index range in order, applying filter/limit operators lazily. */
class QueryStream {
  private buffered: Array<{ key: Buffer; json: string }> = [];
  private position: KeyRange;
  private lastKey: Buffer | null = null;
  private exhausted = false;
  private done = false;
  private batch = 8;
  private limitCounts: number[];
  private recorded = false;

  constructor(
    private readonly run: FunctionRun,
    private readonly index: IndexDef,
    private readonly range: KeyRange,
    private readonly order: "asc" | "desc",
    private readonly operators: SerializedQuery["operators"],
  ) {
    this.position = { ...range };
    this.limitCounts = operators.map(() => 0);
    if (operators.some((op) => "limit" in op && op.limit <= 0)) this.done = true;
  }

  /** The next matching document, or null at the end. */
  next(): Doc | null {
    while (!this.done) {
      const row = this.nextRow();
      if (!row) {
        this.finish();
        return null;
      }
      const doc = parseDoc(row.json);
      let passes = true;
      for (let i = 0; i < this.operators.length && passes; i++) {
        const op = this.operators[i]!;
        if ("filter" in op) {
          passes = matches(op.filter, doc);
        } else {
          this.limitCounts[i]!++;
          // Once a limit is full nothing further can pass it, so the stream ends here
          // and the read set stops at this key.
          if (this.limitCounts[i]! >= op.limit) this.done = true;
        }
      }
      if (this.done) this.finish();
      if (passes) return doc;
    }
    return null;
  }

  private nextRow(): { key: Buffer; json: string } | null {
    if (this.buffered.length === 0 && !this.exhausted) {
      const want = this.batch;
      const rows = this.run.storage.scan(this.index.name, this.position.lo, this.position.hi, this.order, want);
      this.batch = Math.min(want * 4, 512);
      if (rows.length < want) this.exhausted = true;
      this.buffered = rows;
      const last = rows[rows.length - 1];
      if (last) {
        if (this.order === "asc") this.position.lo = successor(last.key);
        else this.position.hi = last.key;
      }
    }
    const row = this.buffered.shift() ?? null;
    if (row) this.lastKey = row.key;
    return row;
  }

  /** Records the part of the range this stream actually covered. */
  finish(): void {
    if (this.recorded) return;
    this.recorded = true;
    this.done = true;
    const fullyRead = this.exhausted && this.buffered.length === 0;
    let covered = this.range;
    if (!fullyRead && this.lastKey) {
      covered =
        this.order === "asc"
          ? { lo: this.range.lo, hi: successor(this.lastKey) }
          : { lo: this.lastKey, hi: this.range.hi };
    } else if (!fullyRead) {
      return; // Nothing read yet.
    }
    addRange(this.run.readSet, this.index.name, covered);
  }
}

export class FunctionRun {
  readonly readSet: ReadSet = new Map();
  readonly writeSet: WriteSet = new Map();
  readonly logLines: string[] = [];
  readonly createdTables: string[] = [];
  private streams = new Map<number, QueryStream>();
  private nextStreamId = 0;
  active = true;

  constructor(
    readonly runtime: Runtime,
    readonly storage: Storage,
    readonly kind: FunctionKind,
    readonly identity: UserIdentity | null,
    /** Commit timestamp of a mutation (nanoseconds); also the source of _creationTime. */
    readonly ts: bigint,
    private readonly bridge: ActionBridge | null = null,
  ) {}

  async asyncSyscall(op: string, args: Record<string, JSONValue>): Promise<JSONValue> {
    const call =
      op === "1.0/actions/query" ? "query" : op === "1.0/actions/mutation" ? "mutation" : op === "1.0/actions/action" ? "action" : null;
    if (call === null) return this.syscall(op, args);
    if (!this.bridge) throw new SystemError(`${op} can only be called from an action.`);
    if (typeof args.name !== "string") {
      throw new SystemError(`Calling functions by handle or component reference is ${NOT_SUPPORTED}.`);
    }
    const outcome = await this.bridge[call](args.name, args.args ?? {}, this.identity);
    if (!outcome.ok) throw new NestedCallError(outcome.message.replace(/^\[Request ID: [0-9a-f]+\] Server Error\n/, ""), outcome.data);
    return outcome.value;
  }

  syscall(op: string, args: Record<string, JSONValue>): JSONValue {
    switch (op) {
      case "1.0/get":
        return this.get(args);
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
        return this.queryPage(args);
      case "1.0/db/normalizeId": {
        const table = String(args.table);
        const id = String(args.idString);
        return { id: this.runtime.isIdOf(id, table) ? id : null };
      }
      case "1.0/getUserIdentity":
        return this.identity;
      case "1.0/count": {
        const table = String(args.table);
        const index = this.runtime.catalog.indexesOf(table)[0]!;
        addRange(this.readSet, index.name, { lo: Buffer.alloc(0), hi: Buffer.from([0xff]) });
        return this.storage.countEntries(index.name);
      }
      default:
        throw new SystemError(`${op.replace(/^1\.0\//, "")} is ${NOT_SUPPORTED}.`);
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
    const key = encodeKey([id]);
    addRange(this.readSet, `${table}.by_id`, { lo: key, hi: afterPrefix(key) });
    const row = this.storage.getDocument(id);
    return row ? parseDoc(row.json) : null;
  }

  private get(args: Record<string, JSONValue>): JSONValue {
    const loc = this.locate(args.id!, args.table);
    if (!loc) return null;
    const doc = this.readById(loc.id, loc.table);
    return doc ? convexToJson(doc) : null;
  }

  private insert(table: string, valueJson: JSONValue | undefined): JSONValue {
    this.requireWrite("insert");
    if (!TABLE_NAME.test(table)) throw new SystemError(`Invalid table name "${table}".`);
    const value = jsonToConvex(valueJson ?? null);
    if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof ArrayBuffer) {
      throw new SystemError("insert expects an object.");
    }
    for (const field of ["_id", "_creationTime"]) {
      if (field in value) throw new SystemError(`System field \`${field}\` cannot be set on insert.`);
    }
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
    return { _id: id };
  }

  private update(args: Record<string, JSONValue>, mode: "merge" | "replace"): JSONValue {
    this.requireWrite(mode === "merge" ? "patch" : "replace");
    const loc = this.locate(args.id!, args.table);
    const old = loc && this.readById(loc.id, loc.table);
    if (!loc || !old) {
      throw new SystemError(`${mode === "merge" ? "Update" : "Replace"} on nonexistent document ID ${String(args.id)}`);
    }
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
    this.write(loc.table, loc.id, old, null);
    return null;
  }

  private write(table: string, id: string, before: Doc | null, after: Doc | null): void {
    if (after) this.runtime.checkDocument(table, after);
    for (const index of this.runtime.catalog.indexesOf(table)) {
      const keys = this.writeSet.get(index.name) ?? [];
      this.writeSet.set(index.name, keys);
      if (before) {
        const key = indexKey(index, before);
        this.storage.removeIndexEntry({ index: index.name, key });
        keys.push(key);
      }
      if (after) {
        const key = indexKey(index, after);
        this.storage.addIndexEntry({ index: index.name, key }, id);
        keys.push(key);
      }
    }
    if (after) this.storage.putDocument(id, this.storage.tableNumber(table)!, JSON.stringify(convexToJson(after)));
    else this.storage.deleteDocument(id);
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
          throw new SystemError(`Index ${source.indexName} not found.`);
        }
        void name;
        return { index, range: keyRange(index, source.range), order: source.order ?? "asc" };
      }
      case "Search":
        throw new SystemError(`Search indexes are ${NOT_SUPPORTED} (${source.indexName}).`);
      default:
        return source satisfies never;
    }
  }

  private queryStream(query: SerializedQuery): JSONValue {
    const { index, range, order } = this.resolveSource(query);
    const id = this.nextStreamId++;
    this.streams.set(id, new QueryStream(this, index, range, order, query.operators));
    return { queryId: id };
  }

  private queryStreamNext(queryId: number): JSONValue {
    const stream = this.streams.get(queryId);
    if (!stream) throw new SystemError("This query is closed and can't emit any more values.");
    const doc = stream.next();
    if (!doc) {
      this.streams.delete(queryId);
      return { value: null, done: true };
    }
    return { value: convexToJson(doc), done: false };
  }

  private queryPage(args: Record<string, JSONValue>): JSONValue {
    const query = args.query as unknown as SerializedQuery;
    const { index, range, order } = this.resolveSource(query);
    const pageSize = Number(args.pageSize);
    const start = decodeCursor(args.cursor);
    const end = decodeCursor(args.endCursor);
    const narrowed = { ...range };
    if (start === "end") return { page: [], isDone: true, continueCursor: END_CURSOR, splitCursor: null, pageStatus: null };
    if (start) {
      if (order === "asc") narrowed.lo = successor(start);
      else narrowed.hi = start;
    }
    if (end && end !== "end") {
      if (order === "asc") narrowed.hi = successor(end);
      else narrowed.lo = end;
    }
    const limitless = query.operators;
    const stream = new QueryStream(this, index, narrowed, order, limitless);
    const page: JSONValue[] = [];
    let lastKey: Buffer | null = null;
    // With an endCursor the page is pinned to it (a reactive re-run of the same page);
    // otherwise it is the next pageSize matching documents.
    while (end !== null || page.length < pageSize) {
      const doc = stream.next();
      if (!doc) break;
      page.push(convexToJson(doc));
      lastKey = indexKey(index, doc);
    }
    const more = end === null && page.length >= pageSize ? stream.next() !== null : false;
    stream.finish();
    const isDone = !more && (end === null || end === "end");
    return {
      page,
      isDone,
      continueCursor: isDone && end === null ? END_CURSOR : lastKey ? encodeCursor(lastKey) : (args.cursor ?? END_CURSOR),
      splitCursor: null,
      pageStatus: null,
    };
  }

  log(level: string, args: unknown[]): void {
    const text = args.map((a) => (typeof a === "string" ? `'${a}'` : format("%o", a))).join(" ");
    this.logLines.push(`[${level.toUpperCase()}] ${text}`);
  }
}

const END_CURSOR = "_end_cursor";

function encodeCursor(key: Buffer): string {
  return key.toString("base64url");
}

function decodeCursor(cursor: JSONValue | undefined): Buffer | "end" | null {
  if (cursor === null || cursor === undefined) return null;
  if (cursor === END_CURSOR) return "end";
  if (typeof cursor !== "string") throw new SystemError("Invalid pagination cursor.");
  return Buffer.from(cursor, "base64url");
}

function requestId(): string {
  return randomBytes(8).toString("hex");
}

function errorOutcome(run: FunctionRun | null, message: string, data?: JSONValue): Outcome {
  const logLines = run?.logLines ?? [];
  const full = `[Request ID: ${requestId()}] Server Error\n${message}`;
  return data === undefined ? { ok: false, message: full, logLines } : { ok: false, message: full, data, logLines };
}

type Validators = { args: ValidatorJson | null; returns: ValidatorJson | null };

export class Runtime {
  private validators = new Map<string, Validators>();
  private runs = new AsyncLocalStorage<FunctionRun>();

  private constructor(
    readonly storage: Storage,
    readonly catalog: Catalog,
    private readonly functions: Map<string, LoadedFunction>,
  ) {}

  static async load(storage: Storage, functionsDir: string): Promise<Runtime> {
    let self: Runtime | null = null;
    const current = (): FunctionRun => {
      const run = self?.runs.getStore();
      if (!run || !run.active) {
        throw new Error("A database or auth call was made after its Convex function returned (a missing `await`?).");
      }
      return run;
    };
    const convex: ConvexGlobal = {
      syscall: (op, json) => JSON.stringify(current().syscall(op, JSON.parse(json) as Record<string, JSONValue>)),
      asyncSyscall: async (op, json) => JSON.stringify(await current().asyncSyscall(op, JSON.parse(json) as Record<string, JSONValue>)),
      jsSyscall: (op) => {
        throw new Error(`${op} is ${NOT_SUPPORTED}.`);
      },
    };
    const project = await loadProject(functionsDir, convex, {
      log: (level, args) => self?.runs.getStore()?.log(level, args),
    });
    const tables: string[] = [];
    for (let n = 0; ; n++) {
      // Table numbers are dense from 10001; collect the names the data dir already has.
      const name = storage.tableName(10001 + n);
      if (name === undefined) break;
      tables.push(name);
    }
    self = new Runtime(storage, new Catalog(project.schema, tables), project.functions);
    self.syncIndexes();
    return self;
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

  /** Convex's document limits and, when the schema asks for it, the table's validator. */
  checkDocument(table: string, doc: Doc): void {
    const size = getDocumentSize(doc);
    if (size > MAX_DOCUMENT_SIZE) {
      throw new SystemError(`Value is too large (${size} bytes > maximum size ${MAX_DOCUMENT_SIZE} bytes)`);
    }
    checkFields(doc, 1, true);
    if (!this.catalog.validatesSchema) return;
    const type = this.catalog.documentType(table);
    const failure = (detail: string) =>
      new SystemError(
        `Failed to insert or update a document in table "${table}" because it does not match the schema: ${detail}`,
      );
    if (!type) throw failure(`Table "${table}" is not defined in the schema.`);
    const { _id, _creationTime, ...userFields } = doc;
    void _id;
    void _creationTime;
    const err = checkValue(type, userFields, (id, t) => this.isIdOf(id, t));
    if (err) throw failure(err);
  }

  lookup(udfPath: string, kind: FunctionKind, allowInternal = false): LoadedFunction | string {
    const path = canonicalUdfPath(udfPath);
    const fn = this.functions.get(path);
    if (!fn || (!fn.isPublic && !allowInternal)) {
      return `Could not find public function for '${path.replace(/:default$/, "")}'. Did you forget to run \`npx convex dev\` or \`npx convex deploy\`?`;
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

  /**
   * Runs one query or mutation to completion. The caller owns the transaction (for a
   * mutation: a savepoint it releases or rolls back depending on `outcome.ok`).
   */
  async invoke(
    udfPath: string,
    kind: FunctionKind,
    argsJson: JSONValue,
    identity: UserIdentity | null,
    ts: bigint,
    options: { allowInternal?: boolean; bridge?: ActionBridge } = {},
  ): Promise<{ outcome: Outcome; run: FunctionRun }> {
    const run = new FunctionRun(this, this.storage, kind, identity, ts, options.bridge ?? null);
    const found = this.lookup(udfPath, kind, options.allowInternal);
    if (typeof found === "string") return { outcome: errorOutcome(run, found), run };
    const validators = this.validatorsOf(found);
    const isId = (id: string, table: string) => this.isIdOf(id, table);
    let args: Value;
    try {
      args = jsonToConvex(argsJson);
    } catch (e) {
      return { outcome: errorOutcome(run, `ArgumentValidationError: ${(e as Error).message}`), run };
    }
    if (validators.args) {
      const err = checkValue(validators.args, args, isId);
      if (err) return { outcome: errorOutcome(run, `ArgumentValidationError: ${err}`), run };
    }
    try {
      const argsText = JSON.stringify([argsJson]);
      const { invokeQuery, invokeMutation, invokeAction } = found.fn;
      const invoke =
        kind === "query" && invokeQuery
          ? () => invokeQuery(argsText)
          : kind === "mutation" && invokeMutation
            ? () => invokeMutation(argsText)
            : kind === "action" && invokeAction
              ? () => invokeAction(requestId(), argsText)
              : null;
      if (!invoke) throw new SystemError(`${found.udfPath} cannot be invoked as a ${kind}.`);
      const resultJson = await this.runs.run(run, invoke);
      const value = JSON.parse(resultJson) as JSONValue;
      if (validators.returns) {
        const err = checkValue(validators.returns, jsonToConvex(value), isId);
        if (err) return { outcome: errorOutcome(run, `ReturnsValidationError: ${err}`), run };
      }
      return { outcome: { ok: true, value, logLines: run.logLines }, run };
    } catch (thrown) {
      return { outcome: describeThrown(run, thrown), run };
    } finally {
      run.active = false;
    }
  }
}

function describeThrown(run: FunctionRun, thrown: unknown): Outcome {
  if (thrown instanceof SystemError) return errorOutcome(run, `Uncaught Error: ${thrown.message}`);
  if (thrown instanceof NestedCallError) {
    // Already a full server error from the nested call: pass it on unwrapped.
    const outcome: Outcome = { ok: false, message: thrown.message, logLines: run.logLines };
    return thrown.data === undefined ? outcome : { ...outcome, data: thrown.data };
  }
  if (thrown !== null && typeof thrown === "object" && Symbol.for("ConvexError") in thrown) {
    const e = thrown as { message: string; data?: unknown };
    const data = typeof e.data === "string" ? (JSON.parse(e.data) as JSONValue) : null;
    return errorOutcome(run, `Uncaught ConvexError: ${e.message}`, data);
  }
  if (thrown instanceof Error) return errorOutcome(run, `Uncaught ${thrown.name}: ${thrown.message}`);
  return errorOutcome(run, `Uncaught ${String(thrown)}`);
}

function checkFields(value: Value, depth: number, topLevel: boolean): void {
  if (depth > MAX_NESTING) {
    throw new SystemError(`Document is too nested (nested depth > maximum nesting ${MAX_NESTING}).`);
  }
  if (Array.isArray(value)) {
    for (const item of value) checkFields(item, depth + 1, false);
    return;
  }
  if (value === null || typeof value !== "object" || value instanceof ArrayBuffer) return;
  for (const [key, field] of Object.entries(value)) {
    if (key.length === 0) throw new SystemError("Empty field names are disallowed.");
    if (key.length > MAX_FIELD_NAME) {
      throw new SystemError(`Field name ${key} exceeds maximum field name length ${MAX_FIELD_NAME}.`);
    }
    if (key.startsWith("$")) throw new SystemError(`Field name ${key} starts with a '$', which is reserved.`);
    if (topLevel && key.startsWith("_") && key !== "_id" && key !== "_creationTime") {
      throw new SystemError(`Field name ${key} starts with a '_', which is reserved for system fields.`);
    }
    checkFields(field, depth + 1, false);
  }
}
