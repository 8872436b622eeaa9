/**
 * The edit that turns one version of a note into another, line by line: lines both have
 * are kept, so restoring an old version changes only what differs and leaves the text in
 * between (and whatever a teammate is doing there) alone. Myers' O((N+M)·D) diff over
 * lines (E. W. Myers, "An O(ND) Difference Algorithm and Its Variations", 1986), after
 * trimming the lines both ends share; past `maxEdits` differing lines it falls back to one
 * replacement of the middle (sync/diff.ts), which is still correct, only coarser.
 */
import { replacementOp } from "./diff";
import { OpBuilder, type TextOp } from "./textOp";

/** Differing lines beyond which the diff is not worth its time and memory. */
export const MAX_DIFF_EDITS = 2000;

function lines(text: string): string[] {
  return text === "" ? [] : text.split(/(?<=\n)/);
}

interface Step {
  readonly kind: "keep" | "delete" | "insert";
  readonly line: string;
}

/** The shortest edit script from `a` to `b`, or null when it needs more than `maxEdits` steps. */
function script(a: readonly string[], b: readonly string[], maxEdits: number): Step[] | null {
  const n = a.length;
  const m = b.length;
  const max = n + m;
  const off = max + 1;
  const v = new Int32Array(2 * max + 3);
  const trace: Int32Array[] = [];
  for (let d = 0; d <= Math.min(max, maxEdits); d++) {
    trace.push(v.slice());
    for (let k = -d; k <= d; k += 2) {
      let x = k === -d || (k !== d && (v[off + k - 1] as number) < (v[off + k + 1] as number)) ? (v[off + k + 1] as number) : (v[off + k - 1] as number) + 1;
      let y = x - k;
      while (x < n && y < m && a[x] === b[y]) {
        x++;
        y++;
      }
      v[off + k] = x;
      if (x >= n && y >= m) return backtrack(a, b, trace, d, off);
    }
  }
  return null;
}

function backtrack(a: readonly string[], b: readonly string[], trace: readonly Int32Array[], depth: number, off: number): Step[] {
  const steps: Step[] = [];
  let x = a.length;
  let y = b.length;
  for (let d = depth; d > 0; d--) {
    const v = trace[d] as Int32Array;
    const k = x - y;
    const prevK = k === -d || (k !== d && (v[off + k - 1] as number) < (v[off + k + 1] as number)) ? k + 1 : k - 1;
    const prevX = v[off + prevK] as number;
    const prevY = prevX - prevK;
    while (x > prevX && y > prevY) {
      x--;
      y--;
      steps.push({ kind: "keep", line: a[x] as string });
    }
    if (x === prevX) steps.push({ kind: "insert", line: b[--y] as string });
    else steps.push({ kind: "delete", line: a[--x] as string });
  }
  while (x > 0 && y > 0) {
    x--;
    y--;
    steps.push({ kind: "keep", line: a[x] as string });
  }
  return steps.reverse();
}

/** An op turning `from` into `to` that keeps every line they share in order (as many as a shortest diff keeps). */
export function versionOp(from: string, to: string, maxEdits = MAX_DIFF_EDITS): TextOp {
  const a = lines(from);
  const b = lines(to);
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  const steps = script(a.slice(head, a.length - tail), b.slice(head, b.length - tail), maxEdits);
  if (steps === null) return replacementOp(from, to);
  const op = new OpBuilder();
  for (let i = 0; i < head; i++) op.retain((a[i] as string).length);
  for (const s of steps) {
    if (s.kind === "keep") op.retain(s.line.length);
    else if (s.kind === "insert") op.insert(s.line);
    else op.delete(s.line.length);
  }
  for (let i = a.length - tail; i < a.length; i++) op.retain((a[i] as string).length);
  return op.build();
}
