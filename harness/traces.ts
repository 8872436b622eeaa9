/**
 * Loads the editing traces in ../shared/traces (see its README) and turns their patches
 * into edits in UTF-16 code units. Trace positions count Unicode code points; JS strings
 * and our ops count code units, which differ once a text holds astral characters (emoji).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { OpBuilder, type TextOp } from "../sync/textOp";

/** [position, code points to delete, text to insert], positions in code points. */
export type Patch = readonly [number, number, string];

export interface SequentialTrace {
  readonly startContent: string;
  readonly endContent: string;
  readonly txns: readonly { readonly patches: readonly Patch[] }[];
}

export interface ConcurrentTxn {
  readonly parents: readonly number[];
  readonly agent: number;
  readonly patches: readonly Patch[];
}

export interface ConcurrentTrace {
  readonly kind: "concurrent";
  readonly endContent: string;
  readonly numAgents: number;
  readonly txns: readonly ConcurrentTxn[];
}

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The shared traces folder: $TRACES_DIR, or ../shared/traces next to the repository
 * (found from this file, or from the working directory when this file was bundled elsewhere).
 */
export function tracesDir(): string {
  if (process.env.TRACES_DIR) return process.env.TRACES_DIR;
  const candidates = [resolve(here, "..", "..", "shared", "traces"), resolve(process.cwd(), "..", "shared", "traces")];
  return candidates.find((dir) => existsSync(dir)) ?? (candidates[0] as string);
}

/**
 * Why the trace tests cannot run here (the traces live beside the repository, not in it),
 * or undefined when they can. Tests put it in their title so the skip says why.
 */
export function tracesMissing(): string | undefined {
  const dir = tracesDir();
  return existsSync(dir) ? undefined : `skipped: no editing traces at ${dir} (set TRACES_DIR)`;
}

export function tracePath(name: string): string {
  return name.includes("/") ? name : join(tracesDir(), name.endsWith(".json.gz") ? name : `${name}.json.gz`);
}

export function loadTrace(name: string): SequentialTrace | ConcurrentTrace {
  const raw = readFileSync(tracePath(name));
  const json: unknown = JSON.parse((name.endsWith(".gz") || raw[0] === 0x1f ? gunzipSync(raw) : raw).toString("utf8"));
  if (typeof json !== "object" || json === null || !Array.isArray((json as { txns?: unknown }).txns)) {
    throw new Error(`${name} is not an editing trace: it has no txns list`);
  }
  return json as SequentialTrace | ConcurrentTrace;
}

export function isConcurrent(trace: SequentialTrace | ConcurrentTrace): trace is ConcurrentTrace {
  return (trace as ConcurrentTrace).kind === "concurrent";
}

export function loadSequentialTrace(name: string): SequentialTrace {
  const t = loadTrace(name);
  if (isConcurrent(t)) throw new Error(`${name} is a concurrent trace`);
  return t;
}

/** True when some text holds a character outside the BMP, so code points ≠ code units. */
export function hasAstral(texts: Iterable<string>): boolean {
  for (const s of texts) if (/[\ud800-\udbff]/.test(s)) return true;
  return false;
}

/** Offset in code units of code point `cp` in `text` (a linear scan: only for texts with astral characters). */
export function codeUnitOffset(text: string, cp: number, from = 0, fromCp = 0): number {
  let at = from;
  for (let k = fromCp; k < cp; k++) {
    const c = text.charCodeAt(at);
    at += c >= 0xd800 && c <= 0xdbff && at + 1 < text.length ? 2 : 1;
  }
  return at;
}

/**
 * A sequential trace's patches as ops on the text in code units, in order, one per patch.
 * When nothing in the trace is astral the positions are taken as they are; otherwise each
 * patch is converted against the text so far (slower, but exact).
 */
export function sequentialOps(trace: SequentialTrace): TextOp[] {
  const texts = function* () {
    yield trace.startContent;
    for (const txn of trace.txns) for (const p of txn.patches) yield p[2];
  };
  const ops: TextOp[] = [];
  let length = trace.startContent.length;
  if (!hasAstral(texts())) {
    for (const txn of trace.txns) {
      for (const [pos, del, ins] of txn.patches) {
        ops.push(new OpBuilder().retain(pos).insert(ins).delete(del).retain(length - pos - del).build());
        length += ins.length - del;
      }
    }
    return ops;
  }
  let text = trace.startContent;
  for (const txn of trace.txns) {
    for (const [pos, del, ins] of txn.patches) {
      const from = codeUnitOffset(text, pos);
      const to = codeUnitOffset(text, pos + del, from, pos);
      ops.push(new OpBuilder().retain(from).insert(ins).delete(to - from).retain(text.length - to).build());
      text = text.slice(0, from) + ins + text.slice(to);
    }
  }
  return ops;
}
