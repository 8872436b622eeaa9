// Evaluates serialized filter expressions (`q.eq(q.field("x"), 1)` etc.) against a
// document, with Convex's value ordering for comparisons.
import { compareValues, jsonToConvex, type JSONValue, type Value } from "convex/values";

type Doc = Record<string, Value>;
type Evaluated = Value | undefined;

function fieldAt(doc: Doc, fieldPath: string): Evaluated {
  let current: Evaluated = doc;
  for (const part of fieldPath.split(".")) {
    if (current === null || typeof current !== "object" || Array.isArray(current) || current instanceof ArrayBuffer) {
      return undefined;
    }
    current = (current as Record<string, Value>)[part];
  }
  return current;
}

function arithmetic(op: string, l: Evaluated, r: Evaluated): Value {
  if (typeof l === "number" && typeof r === "number") {
    switch (op) {
      case "$add": return l + r;
      case "$sub": return l - r;
      case "$mul": return l * r;
      case "$div": return l / r;
      case "$mod": return l % r;
    }
  }
  if (typeof l === "bigint" && typeof r === "bigint") {
    switch (op) {
      case "$add": return BigInt.asIntN(64, l + r);
      case "$sub": return BigInt.asIntN(64, l - r);
      case "$mul": return BigInt.asIntN(64, l * r);
      case "$div": if (r === 0n) throw new Error("Division by zero"); return l / r;
      case "$mod": if (r === 0n) throw new Error("Division by zero"); return l % r;
    }
  }
  throw new Error(`Cannot apply ${op.slice(1)} to ${typeof l} and ${typeof r}`);
}

function binary(expr: { [op: string]: JSONValue }, op: string): [JSONValue, JSONValue] {
  const operands = expr[op];
  if (!Array.isArray(operands) || operands.length !== 2) throw new Error(`Malformed filter expression ${op}`);
  return [operands[0]!, operands[1]!];
}

export function evaluate(expr: JSONValue, doc: Doc): Evaluated {
  if (expr === null || typeof expr !== "object" || Array.isArray(expr)) {
    throw new Error(`Malformed filter expression: ${JSON.stringify(expr)}`);
  }
  const [op] = Object.keys(expr);
  switch (op) {
    case "$literal": {
      const lit = expr.$literal;
      return lit !== null && typeof lit === "object" && !Array.isArray(lit) && "$undefined" in lit
        ? undefined
        : jsonToConvex(lit as JSONValue);
    }
    case "$field":
      return fieldAt(doc, String(expr.$field));
    case "$eq":
    case "$neq":
    case "$lt":
    case "$lte":
    case "$gt":
    case "$gte": {
      const [a, b] = binary(expr, op);
      const c = compareValues(evaluate(a, doc), evaluate(b, doc));
      return op === "$eq" ? c === 0 : op === "$neq" ? c !== 0 : op === "$lt" ? c < 0 : op === "$lte" ? c <= 0 : op === "$gt" ? c > 0 : c >= 0;
    }
    case "$add":
    case "$sub":
    case "$mul":
    case "$div":
    case "$mod": {
      const [a, b] = binary(expr, op);
      return arithmetic(op, evaluate(a, doc), evaluate(b, doc));
    }
    case "$neg": {
      const x = evaluate(expr.$neg as JSONValue, doc);
      if (typeof x === "number") return -x;
      if (typeof x === "bigint") return BigInt.asIntN(64, -x);
      throw new Error(`Cannot negate ${typeof x}`);
    }
    case "$and":
    case "$or": {
      const items = expr[op];
      if (!Array.isArray(items)) throw new Error(`Malformed filter expression ${op}`);
      return op === "$and"
        ? items.every((e) => evaluate(e, doc) === true)
        : items.some((e) => evaluate(e, doc) === true);
    }
    case "$not":
      return evaluate(expr.$not as JSONValue, doc) !== true;
    default:
      throw new Error(`Unsupported filter expression ${op ?? "{}"}`);
  }
}

export function matches(expr: JSONValue, doc: Doc): boolean {
  return evaluate(expr, doc) === true;
}
