// Convex's limits on documents and transactions, with its wording
// (https://docs.convex.dev/production/state/limits).
import { getDocumentSize, type Value } from "convex/values";
import { SystemError } from "./errors.js";

export const MAX_DOCUMENT_SIZE = 1 << 20;
export const MAX_NESTING = 16;
export const MAX_FIELDS = 1024;
export const MAX_FIELD_NAME = 64;
/** Per transaction. */
export const MAX_READ_BYTES = 16 << 20;
export const MAX_DOCUMENTS_READ = 32_000;
export const MAX_WRITE_BYTES = 16 << 20;
export const MAX_DOCUMENTS_WRITTEN = 16_000;
/** Convex's advice appended to its read-limit errors. */
export const OVER_LIMIT_HELP =
  "Consider using smaller limits in your queries, paginating your queries, or using indexed queries with a selective index range expressions.";
/** A function's return value. */
export const MAX_RESULT_SIZE = 16 << 20;

/** Convex's limit on an action (10 minutes). */
const ACTION_TIMEOUT_S = 600;

/** An action's time limit; Convex's knob ACTIONS_USER_TIMEOUT_SECS (its own test setup uses 20) overrides it. */
export function actionTimeoutSeconds(): number {
  const knob = Number(process.env.ACTIONS_USER_TIMEOUT_SECS);
  return Number.isFinite(knob) && knob > 0 ? knob : ACTION_TIMEOUT_S;
}

const TABLE_NAME = /^[a-zA-Z][a-zA-Z0-9_]{0,63}$/;

export function checkTableName(table: string): void {
  if (!TABLE_NAME.test(table)) throw new SystemError(`Invalid table name "${table}".`);
}

/** Size, nesting, field count and field names of a document about to be written. */
export function checkDocumentShape(doc: Record<string, Value>): number {
  const size = getDocumentSize(doc);
  if (size > MAX_DOCUMENT_SIZE) {
    throw new SystemError(`Value is too large (${size} bytes > maximum size ${MAX_DOCUMENT_SIZE} bytes)`);
  }
  const fields = checkFields(doc, 1, true);
  if (fields > MAX_FIELDS) {
    throw new SystemError(`Object has too many fields (${fields} > maximum number ${MAX_FIELDS})`);
  }
  return size;
}

/** Returns the number of fields in the value (objects at every depth). */
function checkFields(value: Value, depth: number, topLevel: boolean): number {
  if (depth > MAX_NESTING) {
    throw new SystemError(`Document is too nested (nested depth > maximum nesting ${MAX_NESTING}).`);
  }
  if (Array.isArray(value)) {
    let n = 0;
    for (const item of value) n += checkFields(item, depth + 1, false);
    return n;
  }
  if (value === null || typeof value !== "object" || value instanceof ArrayBuffer) return 0;
  let n = 0;
  for (const [key, field] of Object.entries(value)) {
    // The system fields are not the user's to count.
    if (!(topLevel && (key === "_id" || key === "_creationTime"))) n++;
    if (key.length === 0) throw new SystemError("Empty field names are disallowed.");
    if (key.length > MAX_FIELD_NAME) {
      throw new SystemError(`Field name ${key} exceeds maximum field name length ${MAX_FIELD_NAME}.`);
    }
    if (key.startsWith("$")) throw new SystemError(`Field name ${key} starts with a '$', which is reserved.`);
    if (topLevel && key.startsWith("_") && key !== "_id" && key !== "_creationTime") {
      throw new SystemError(`Field name ${key} starts with a '_', which is reserved for system fields.`);
    }
    n += checkFields(field, depth + 1, false);
  }
  return n;
}
