// Checks Convex values against validator JSON (from exportArgs/exportReturns and the
// schema's documentType) and words failures the way the Convex backend does, so a
// client sees the same message on either backend.
import type { Value } from "convex/values";
import { jsonToConvex, type JSONValue } from "convex/values";

export type ValidatorJson =
  | { type: "null" | "number" | "bigint" | "boolean" | "string" | "bytes" | "any" | "commitTs" }
  | { type: "literal"; value: JSONValue }
  | { type: "id"; tableName: string }
  | { type: "array"; value: ValidatorJson }
  | { type: "record"; keys: ValidatorJson; values: FieldJson }
  | { type: "object"; value: Record<string, FieldJson> }
  | { type: "union"; value: ValidatorJson[] };

export type FieldJson = { fieldType: ValidatorJson; optional: boolean };

/** Answers whether `id` is a well-formed id of `table` (validators can't tell alone). */
export type IdChecker = (id: string, table: string) => boolean;

export function printValue(value: Value | undefined): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (typeof value === "bigint") return `${value}n`;
  if (typeof value === "number") return Number.isInteger(value) && !Object.is(value, -0) ? `${value}.0` : String(value);
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "boolean") return String(value);
  if (value instanceof ArrayBuffer) return `Bytes(${value.byteLength})`;
  if (Array.isArray(value)) return `[${value.map(printValue).join(", ")}]`;
  const fields = Object.entries(value).filter(([, v]) => v !== undefined);
  return `{${fields.map(([k, v]) => `${k}: ${printValue(v)}`).join(", ")}}`;
}

export function printValidator(v: ValidatorJson): string {
  switch (v.type) {
    case "null":
    case "boolean":
    case "string":
    case "bytes":
    case "any":
      return `v.${v.type}()`;
    case "number":
      return "v.float64()";
    case "bigint":
      return "v.int64()";
    case "commitTs":
      return "v.commitTs()";
    case "literal":
      return `v.literal(${printValue(jsonToConvex(v.value))})`;
    case "id":
      return `v.id(${JSON.stringify(v.tableName)})`;
    case "array":
      return `v.array(${printValidator(v.value)})`;
    case "record":
      return `v.record(${printValidator(v.keys)}, ${printField(v.values)})`;
    case "object":
      return `v.object({${Object.entries(v.value)
        .map(([k, f]) => `${k}: ${printField(f)}`)
        .join(", ")}})`;
    case "union":
      return `v.union(${v.value.map(printValidator).join(", ")})`;
    default:
      return v satisfies never;
  }
}

function printField(f: FieldJson): string {
  return f.optional ? `v.optional(${printValidator(f.fieldType)})` : printValidator(f.fieldType);
}

function isPlainObject(value: Value): value is { [key: string]: Value } {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof ArrayBuffer);
}

/** Returns a description of the first mismatch, or null when the value conforms. */
export function checkValue(validator: ValidatorJson, value: Value | undefined, isId: IdChecker): string | null {
  return check(validator, value, "", isId);
}

function mismatch(path: string, value: Value | undefined, validator: ValidatorJson): string {
  const pathLine = path ? `Path: ${path}\n` : "";
  return `Value does not match validator.\n${pathLine}Value: ${printValue(value)}\nValidator: ${printValidator(validator)}`;
}

function check(validator: ValidatorJson, value: Value | undefined, path: string, isId: IdChecker): string | null {
  const fail = () => mismatch(path, value, validator);
  switch (validator.type) {
    case "any":
      return value === undefined ? fail() : null;
    case "null":
      return value === null ? null : fail();
    case "number":
      return typeof value === "number" ? null : fail();
    case "bigint":
    case "commitTs":
      return typeof value === "bigint" ? null : fail();
    case "boolean":
      return typeof value === "boolean" ? null : fail();
    case "string":
      return typeof value === "string" ? null : fail();
    case "bytes":
      return value instanceof ArrayBuffer ? null : fail();
    case "literal": {
      const expected = jsonToConvex(validator.value);
      return value === expected ? null : fail();
    }
    case "id":
      return typeof value === "string" && isId(value, validator.tableName) ? null : fail();
    case "array": {
      if (!Array.isArray(value)) return fail();
      for (let i = 0; i < value.length; i++) {
        const err = check(validator.value, value[i], `${path}[${i}]`, isId);
        if (err) return err;
      }
      return null;
    }
    case "record": {
      if (value === undefined || value === null || !isPlainObject(value)) return fail();
      for (const [k, field] of Object.entries(value)) {
        const keyErr = check(validator.keys, k, path, isId);
        if (keyErr) return keyErr;
        const err = check(validator.values.fieldType, field, `${path}.${k}`, isId);
        if (err) return err;
      }
      return null;
    }
    case "object": {
      if (value === undefined || value === null || !isPlainObject(value)) return fail();
      // Printed only for a failure: printing every object checked made a check O(size²).
      const context = () => `${path ? `Path: ${path}\n` : ""}Object: ${printValue(value)}\nValidator: ${printValidator(validator)}`;
      for (const [k, field] of Object.entries(validator.value)) {
        if (value[k] === undefined) {
          if (field.optional) continue;
          return (
            `Object is missing the required field \`${k}\`. Consider wrapping the field validator in ` +
            `\`v.optional(...)\` if this is expected.\n\n${context()}`
          );
        }
        const err = check(field.fieldType, value[k], `${path}.${k}`, isId);
        if (err) return err;
      }
      for (const k of Object.keys(value)) {
        if (value[k] !== undefined && !(k in validator.value)) {
          return `Object contains extra field \`${k}\` that is not in the validator.\n\n${context()}`;
        }
      }
      return null;
    }
    case "union":
      return validator.value.some((member) => check(member, value, path, isId) === null) ? null : fail();
    default:
      return validator satisfies never;
  }
}
