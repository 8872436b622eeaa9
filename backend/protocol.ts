// The sync protocol's wire messages (see convex/src/browser/sync/protocol.ts), decoded
// at the edge: anything that is not exactly a message we understand becomes a
// ProtocolError with a reason, and the connection that sent it is closed.
import type { JSONValue } from "convex/values";
import type { QueryJournal } from "./pages.js";

export class ProtocolError extends Error {}

/** `journal`: the one the client last received for this query (it resends it on reconnect). */
export type AddQuery = { type: "Add"; queryId: number; udfPath: string; args: JSONValue[]; journal: QueryJournal };
export type RemoveQuery = { type: "Remove"; queryId: number };

export type ClientMessage =
  | {
      type: "Connect";
      sessionId: string;
      connectionCount: number;
      lastCloseReason: string | null;
      maxObservedTimestamp: bigint | null;
    }
  | { type: "ModifyQuerySet"; baseVersion: number; newVersion: number; modifications: Array<AddQuery | RemoveQuery> }
  | { type: "Mutation"; requestId: number; udfPath: string; args: JSONValue[] }
  | { type: "Action"; requestId: number; udfPath: string; args: JSONValue[] }
  | {
      type: "Authenticate";
      tokenType: "Admin" | "User" | "None";
      value: string | null;
      baseVersion: number;
      /** With an admin key: the user identity attributes to act as (ConvexClient.setAdminAuth). */
      impersonating?: Record<string, JSONValue>;
    }
  | { type: "Event"; eventType: string };

export type StateVersion = { querySet: number; ts: bigint; identity: number };

export type StateModification =
  | { type: "QueryUpdated"; queryId: number; value: JSONValue; logLines: string[]; journal: QueryJournal }
  | {
      type: "QueryFailed";
      queryId: number;
      errorMessage: string;
      logLines: string[];
      /** Only for a ConvexError: the client turns a failure with errorData into one. */
      errorData?: JSONValue;
      journal: QueryJournal;
    }
  | { type: "QueryRemoved"; queryId: number };

export type ServerMessage =
  | { type: "Transition"; startVersion: StateVersion; endVersion: StateVersion; modifications: StateModification[] }
  | { type: "MutationResponse"; requestId: number; success: true; result: JSONValue; ts: bigint; logLines: string[] }
  | { type: "MutationResponse"; requestId: number; success: false; result: string; logLines: string[]; errorData?: JSONValue }
  | { type: "ActionResponse"; requestId: number; success: true; result: JSONValue; logLines: string[] }
  | { type: "ActionResponse"; requestId: number; success: false; result: string; logLines: string[]; errorData?: JSONValue }
  | { type: "AuthError"; error: string; baseVersion: number; authUpdateAttempted: boolean }
  | { type: "FatalError"; error: string }
  | { type: "Ping" };

/** u64 on the wire: base64 of 8 little-endian bytes. */
export function encodeTs(ts: bigint): string {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(ts);
  return buf.toString("base64");
}

export function decodeTs(text: string): bigint {
  const buf = Buffer.from(text, "base64");
  if (buf.length !== 8) throw new ProtocolError(`Invalid timestamp ${JSON.stringify(text)}: expected 8 bytes`);
  return buf.readBigUInt64LE();
}

function encodeVersion(v: StateVersion): JSONValue {
  return { querySet: v.querySet, ts: encodeTs(v.ts), identity: v.identity };
}

/**
 * A query result's JSON text. One re-run's result goes to every client watching the query
 * (a whole team following a note), each in a Transition of its own: it is encoded once and
 * spliced into each. Results are not changed after their run made them, so the text is
 * kept with the object.
 */
const encodedResults = new WeakMap<object, string>();
export function encodeResult(value: JSONValue): string {
  if (typeof value !== "object" || value === null) return JSON.stringify(value);
  let text = encodedResults.get(value);
  if (text === undefined) encodedResults.set(value, (text = JSON.stringify(value)));
  return text;
}

function encodeModification(modification: StateModification): string {
  if (modification.type !== "QueryUpdated") return JSON.stringify(modification);
  const { value, ...rest } = modification;
  return `${JSON.stringify(rest).slice(0, -1)},"value":${encodeResult(value)}}`;
}

export function encodeServerMessage(message: ServerMessage): string {
  switch (message.type) {
    case "Transition": {
      const start = JSON.stringify(encodeVersion(message.startVersion));
      const end = JSON.stringify(encodeVersion(message.endVersion));
      const modifications = message.modifications.map(encodeModification).join(",");
      return `{"type":"Transition","startVersion":${start},"endVersion":${end},"modifications":[${modifications}]}`;
    }
    case "MutationResponse":
      return JSON.stringify(message.success ? { ...message, ts: encodeTs(message.ts) } : message);
    case "ActionResponse":
    case "AuthError":
    case "FatalError":
    case "Ping":
      return JSON.stringify(message);
    default:
      return message satisfies never;
  }
}

type Obj = Record<string, unknown>;

function field<T>(obj: Obj, name: string, kind: string, ok: (v: unknown) => v is T): T {
  const v = obj[name];
  if (!ok(v)) throw new ProtocolError(`${String(obj.type)}.${name} must be ${kind}`);
  return v;
}
const isNat = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;
const isString = (v: unknown): v is string => typeof v === "string";
const isArgs = (v: unknown): v is JSONValue[] => Array.isArray(v);
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
/** Our journals are one cursor: far below this. */
const MAX_JOURNAL = 4096;

function decodeJournal(m: Obj): QueryJournal {
  const journal = m.journal;
  if (journal === undefined || journal === null) return null;
  if (typeof journal !== "string" || journal.length > MAX_JOURNAL) {
    throw new ProtocolError(`Add.journal must be null or a string of at most ${MAX_JOURNAL} characters`);
  }
  return journal;
}

export function decodeClientMessage(text: string): ClientMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ProtocolError("Invalid message: not JSON");
  }
  if (!isObj(raw)) throw new ProtocolError("Invalid message: not an object");
  const type = raw.type;
  switch (type) {
    case "Connect": {
      const ts = raw.maxObservedTimestamp;
      if (ts !== undefined && ts !== null && typeof ts !== "string") {
        throw new ProtocolError("Connect.maxObservedTimestamp must be an encoded u64");
      }
      const reason = raw.lastCloseReason;
      return {
        type,
        sessionId: field(raw, "sessionId", "a string", isString),
        connectionCount: field(raw, "connectionCount", "a non-negative integer", isNat),
        lastCloseReason: typeof reason === "string" ? reason : null,
        maxObservedTimestamp: typeof ts === "string" ? decodeTs(ts) : null,
      };
    }
    case "ModifyQuerySet": {
      const mods = field(raw, "modifications", "an array", Array.isArray);
      return {
        type,
        baseVersion: field(raw, "baseVersion", "a non-negative integer", isNat),
        newVersion: field(raw, "newVersion", "a non-negative integer", isNat),
        modifications: mods.map((m: unknown): AddQuery | RemoveQuery => {
          if (!isObj(m)) throw new ProtocolError("ModifyQuerySet.modifications must hold objects");
          if (m.type === "Add") {
            return {
              type: "Add",
              queryId: field(m, "queryId", "a non-negative integer", isNat),
              udfPath: field(m, "udfPath", "a string", isString),
              args: field(m, "args", "an array", isArgs),
              journal: decodeJournal(m),
            };
          }
          if (m.type === "Remove") return { type: "Remove", queryId: field(m, "queryId", "a non-negative integer", isNat) };
          throw new ProtocolError(`Unknown query set modification ${JSON.stringify(m.type)}`);
        }),
      };
    }
    case "Mutation":
    case "Action":
      return {
        type,
        requestId: field(raw, "requestId", "a non-negative integer", isNat),
        udfPath: field(raw, "udfPath", "a string", isString),
        args: field(raw, "args", "an array", isArgs),
      };
    case "Authenticate": {
      const tokenType = raw.tokenType;
      if (tokenType !== "Admin" && tokenType !== "User" && tokenType !== "None") {
        throw new ProtocolError(`Authenticate.tokenType must be Admin, User or None`);
      }
      const value = tokenType === "None" ? null : field(raw, "value", "a string", isString);
      const baseVersion = field(raw, "baseVersion", "a non-negative integer", isNat);
      const acting = tokenType === "Admin" ? raw.impersonating : undefined;
      if (acting != null && !isObj(acting)) throw new ProtocolError("Authenticate.impersonating must be an object");
      return { type, tokenType, value, baseVersion, ...(acting != null ? { impersonating: acting as Record<string, JSONValue> } : {}) };
    }
    case "Event":
      return { type, eventType: field(raw, "eventType", "a string", isString) };
    default:
      throw new ProtocolError(`Unknown message type ${JSON.stringify(type)}`);
  }
}
