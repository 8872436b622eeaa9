// Runs one scripted sequence of function calls against two backends and normalizes the
// answers so they can be compared: ids become "#1", "#2"… in order of first appearance,
// top-level string results count as ids (mutations here return ids), pagination cursors
// (opaque, backend-specific) become "<cursor>", _creationTime is dropped, and an error
// becomes its ConvexError data (convex-test words messages differently).
import type { FunctionReference } from "convex/server";

export type Call = { kind: "query" | "mutation"; fn: FunctionReference<"query" | "mutation">; args: Record<string, unknown> };
export type Step = (saved: Record<string, unknown>) => Call & { save?: string };

export interface Target {
  query(fn: FunctionReference<"query">, args: Record<string, unknown>): Promise<unknown>;
  mutation(fn: FunctionReference<"mutation">, args: Record<string, unknown>): Promise<unknown>;
}

export async function runScript(target: Target, steps: Step[]): Promise<unknown[]> {
  const saved: Record<string, unknown> = {};
  const raw: unknown[] = [];
  for (const step of steps) {
    const call = step(saved);
    let result: unknown;
    try {
      result =
        call.kind === "query"
          ? await target.query(call.fn as FunctionReference<"query">, call.args)
          : await target.mutation(call.fn as FunctionReference<"mutation">, call.args);
    } catch (e) {
      const data = (e as { data?: unknown }).data;
      result = { error: data === undefined ? true : data };
    }
    if (call.save) saved[call.save] = result;
    raw.push(result);
  }
  return normalize(raw);
}

function normalize(results: unknown[]): unknown[] {
  const ids = new Map<string, string>();
  const looksLikeId = (s: string, key: string | null) => key === "_id" || ids.has(s) || (key !== null && /Id$/.test(key));
  const walk = (value: unknown, key: string | null, topLevel = false): unknown => {
    if (typeof value === "string" && (key === "continueCursor" || key === "splitCursor")) return "<cursor>";
    if (typeof value === "string" && (topLevel || looksLikeId(value, key))) {
      if (!ids.has(value)) ids.set(value, `#${ids.size + 1}`);
      return ids.get(value);
    }
    if (Array.isArray(value)) return value.map((v) => walk(v, null));
    if (value !== null && typeof value === "object") {
      return Object.fromEntries(
        Object.entries(value)
          .filter(([k]) => k !== "_creationTime")
          .map(([k, v]) => [k, walk(v, k)]),
      );
    }
    return value;
  };
  return results.map((r) => walk(r, null, true));
}
