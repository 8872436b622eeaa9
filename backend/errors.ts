// How a function call fails, in Convex's words. This module alone builds the
// "[Request ID: …] Server Error" text clients see; everything else carries the bare
// message and the request id side by side, so nothing parses that text back.
import { randomBytes } from "node:crypto";
import type { JSONValue } from "convex/values";
import { userFrames, type SourceMaps } from "./stack.js";

export type Outcome =
  | { ok: true; value: JSONValue; logLines: string[] }
  | {
      ok: false;
      /** The message without the request-id header, e.g. "Uncaught Error: boom". */
      message: string;
      /** Set only for a ConvexError thrown by the function. */
      data?: JSONValue;
      /** A failure of the backend rather than of the function (a conflict, overload): HTTP answers it with this code and status. */
      system?: SystemFailure;
      logLines: string[];
      requestId: string;
    };

export type Failure = Extract<Outcome, { ok: false }>;

export const NOT_SUPPORTED = "not supported by the local backend";

/** A feature this backend does not have: "<feature> is not supported by the local backend: <what was asked>". */
export function unsupported(feature: string, detail: string): string {
  return `${feature} is ${NOT_SUPPORTED}: ${detail}`;
}

/** Components and function handles: calls into them, or by handle, fail with this. */
export const COMPONENTS = "Calling components or function handles";

/** The refusal of a syscall of a feature this backend lacks, named by the feature. */
export function unsupportedSyscall(op: string, args: Record<string, unknown> = {}): string {
  const name = op.replace(/^1\.0\//, "");
  if (/^(storage[A-Z]|storage\/)/.test(name)) return unsupported("File storage", name);
  if (name === "actions/vectorSearch") {
    const index = (args.query as { indexName?: unknown } | undefined)?.indexName;
    return unsupported("Vector search", `index ${String(index)}`);
  }
  if (name === "runUdf") {
    if (typeof args.name !== "string") return unsupported(COMPONENTS, "ctx.runQuery / ctx.runMutation by handle or component reference");
    return unsupported("Calling functions from a query or mutation (ctx.runQuery / ctx.runMutation)", args.name);
  }
  if (name === "createFunctionHandle") return unsupported(COMPONENTS, name);
  return unsupported("This Convex feature", name);
}

/** A call out of a function after it returned: its run refuses it. */
export const AFTER_RETURN_MESSAGE = "A database or auth call was made after its Convex function returned (a missing `await`?).";

/** Convex's limit on user code in a query or mutation (DATABASE_UDF_USER_TIMEOUT: 1 s). */
export const USER_TIMEOUT_MS = 1000;

export const TIMEOUT_MESSAGE = `Function execution timed out (maximum duration: ${USER_TIMEOUT_MS / 1000}s)`;

/** Convex's error after a mutation conflicted on every retry (errors crate, `user_occ`). */
export function conflictMessage(table: string | null): string {
  const what = table ? `the "${table}" table` : "some table";
  return (
    `Documents read from or written to ${what} changed while this mutation was being run ` +
    `and on every subsequent retry. See https://docs.convex.dev/error#1`
  );
}

export type SystemFailure = { code: string; status: number; message: string };

/**
 * What Convex's test syscalls `throwOcc` and `throwOverloaded` raise (its errors crate:
 * `user_occ`, and `overloaded("Busy", "I'm a bit busy.")`), for the function's run to fail with.
 */
export const SYSCALL_FAILURES: Record<string, SystemFailure> = {
  throwOcc: { code: "OptimisticConcurrencyControlFailure", status: 409, message: conflictMessage(null) },
  throwOverloaded: { code: "Busy", status: 503, message: "I'm a bit busy." },
};

/** Convex's answer when it sheds load (ErrorCode::Overloaded). */
export const OVERLOADED_MESSAGE = "Service temporarily unavailable";
/** What Convex says for a transient internal failure the caller should retry. */
export const RETRY_LATER_MESSAGE = "Your request couldn't be completed. Try again later.";

/** Longest error message kept or sent: user errors quoting huge arguments are cut here. */
export const MAX_ERROR_MESSAGE = 8 * 1024;

/** Frames kept for a backend error: ours come first, the user's (which the message shows) after. */
const SYSTEM_ERROR_FRAMES = 40;

/** An error raised by the backend itself (bad id, missing index, limit...) rather than by user code. */
export class SystemError extends Error {
  override name = "Error";
  constructor(message: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = SYSTEM_ERROR_FRAMES;
    super(message);
    Error.stackTraceLimit = limit;
  }
}

export function newRequestId(): string {
  return randomBytes(8).toString("hex");
}

export function bounded(message: string): string {
  if (message.length <= MAX_ERROR_MESSAGE) return message;
  return `${message.slice(0, MAX_ERROR_MESSAGE)}… (${message.length - MAX_ERROR_MESSAGE} more characters)`;
}

export function failure(message: string, logLines: string[] = [], data?: JSONValue, requestId = newRequestId()): Failure {
  const out: Failure = { ok: false, message: bounded(message), logLines, requestId };
  if (data !== undefined) out.data = data;
  return out;
}

/** The text a client receives for a failed call. */
export function serverErrorText(outcome: Failure): string {
  return `[Request ID: ${outcome.requestId}] Server Error\n${outcome.message}`;
}

/**
 * The JSON body of a failed HTTP action, as Convex sends it: `code` the request-id line with
 * the error (without its frames), `trace` the error with its frames, `data` for a ConvexError.
 */
export function httpErrorBody(outcome: Failure): { code: string; trace: string; data?: JSONValue } {
  const frames = outcome.message.indexOf("\n    at ");
  const headline = frames < 0 ? outcome.message : outcome.message.slice(0, frames);
  const body: { code: string; trace: string; data?: JSONValue } = {
    code: `[Request ID: ${outcome.requestId}] Server Error: ${headline}`,
    trace: outcome.message,
  };
  if (outcome.data !== undefined) body.data = outcome.data;
  return body;
}

/** A failed nested call, shaped the way convex's performAsyncSyscall rethrows it (ConvexError when `data` is set). */
export class NestedCallError extends Error {
  constructor(readonly failure: Failure) {
    super(failure.message);
  }
  get data(): JSONValue | undefined {
    return this.failure.data;
  }
}

/**
 * Convex's text for an uncaught error: its name and message, then the user's own stack
 * frames, one per line, and a final newline (a nested call's failure, quoted as the
 * message of the error its caller threw, is thus followed by a blank line).
 */
function uncaught(name: string, message: string, stack: unknown, maps?: SourceMaps): string {
  const frames = typeof stack === "string" ? userFrames(stack, maps) : [];
  return `Uncaught ${name}: ${message}${frames.length > 0 ? `\n${frames.join("\n")}\n` : ""}`;
}

/**
 * Turns whatever a function threw into Convex's message. Thrown values may come from the
 * functions' own realm, so nothing here relies on `instanceof` but NestedCallError (ours).
 */
export function describeThrown(thrown: unknown, logLines: string[], maps?: SourceMaps): Failure {
  if (thrown instanceof NestedCallError) return { ...thrown.failure, logLines };
  if (thrown !== null && typeof thrown === "object") {
    const e = thrown as { name?: unknown; message?: unknown; data?: unknown; stack?: unknown; [k: symbol]: unknown };
    const message = typeof e.message === "string" ? e.message : String(e.message);
    const name = typeof e.name === "string" ? e.name : "Error";
    if (Symbol.for("ConvexError") in e) {
      let data: JSONValue = null;
      if (typeof e.data === "string") {
        try {
          data = JSON.parse(e.data) as JSONValue;
        } catch {
          data = e.data;
        }
      }
      return failure(uncaught(name, message, e.stack, maps), logLines, data);
    }
    if ("message" in e) return failure(uncaught(name, message, e.stack, maps), logLines);
  }
  return failure(`Uncaught ${String(thrown)}`, logLines);
}
