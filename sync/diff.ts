import { OpBuilder, type TextOp } from "./textOp";

/**
 * The smallest single replacement turning `from` into `to`: keep the common prefix and
 * suffix, replace the middle. Used to repair a copy that drifted, where a precise diff
 * buys nothing. Never cuts a surrogate pair.
 */
export function replacementOp(from: string, to: string): TextOp {
  const max = Math.min(from.length, to.length);
  let start = 0;
  while (start < max && from.charCodeAt(start) === to.charCodeAt(start)) start++;
  if (start > 0 && isHigh(from.charCodeAt(start - 1))) start--;
  let end = 0;
  while (end < max - start && from.charCodeAt(from.length - 1 - end) === to.charCodeAt(to.length - 1 - end)) end++;
  if (end > 0 && isLow(from.charCodeAt(from.length - end))) end--;
  return new OpBuilder()
    .retain(start)
    .insert(to.slice(start, to.length - end))
    .delete(from.length - start - end)
    .retain(end)
    .build();
}

function isHigh(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

function isLow(code: number): boolean {
  return code >= 0xdc00 && code <= 0xdfff;
}
