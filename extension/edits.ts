/**
 * Pure conversions between VS Code's change events and text ops. Kept free of the
 * `vscode` module so they are unit-tested without an editor.
 */
import { opFromEdits, type Edit, type TextOp } from "../sync/textOp";

/** The parts of a `TextDocumentContentChangeEvent` the conversion needs. */
export interface ContentChange {
  readonly rangeOffset: number;
  readonly rangeLength: number;
  readonly text: string;
}

const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
const isLowSurrogate = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

/**
 * A cut point at `i` must not split a surrogate pair or a CRLF: VS Code positions cannot
 * address the middle of a CRLF, and half a pair is not a character anyone typed.
 */
function splitsUnit(text: string, i: number): boolean {
  if (i <= 0 || i >= text.length) return false;
  const prev = text.charCodeAt(i - 1);
  const next = text.charCodeAt(i);
  return (isHighSurrogate(prev) && isLowSurrogate(next)) || (prev === 13 && next === 10);
}

/**
 * Shrinks one replacement to what actually changed. Format-document and EOL switches
 * replace large ranges with nearly the same text; sending them whole would make a
 * teammate's concurrent typing inside that range vanish under the transform.
 */
export function minimizeEdit(before: string, edit: Edit): Edit[] {
  const removed = before.slice(edit.offset, edit.offset + edit.deleteCount);
  const inserted = edit.insert;
  if (removed === inserted) return [];
  if (removed.length > 0 && inserted.length > 0 && removed.replace(/\r\n/g, "\n") === inserted.replace(/\r\n/g, "\n")) {
    return eolEdits(edit.offset, removed, inserted);
  }
  const max = Math.min(removed.length, inserted.length);
  let prefix = 0;
  while (prefix < max && removed.charCodeAt(prefix) === inserted.charCodeAt(prefix)) prefix++;
  while (prefix > 0 && (splitsUnit(removed, prefix) || splitsUnit(inserted, prefix))) prefix--;
  let suffix = 0;
  while (
    suffix < max - prefix &&
    removed.charCodeAt(removed.length - 1 - suffix) === inserted.charCodeAt(inserted.length - 1 - suffix)
  ) {
    suffix++;
  }
  while (
    suffix > 0 &&
    (splitsUnit(removed, removed.length - suffix) || splitsUnit(inserted, inserted.length - suffix))
  ) {
    suffix--;
  }
  return [
    {
      offset: edit.offset + prefix,
      deleteCount: removed.length - prefix - suffix,
      insert: inserted.slice(prefix, inserted.length - suffix),
    },
  ];
}

/** Texts equal up to line endings: one small edit per line break that differs. */
function eolEdits(offset: number, removed: string, inserted: string): Edit[] {
  const edits: Edit[] = [];
  let i = 0;
  let j = 0;
  while (i < removed.length && j < inserted.length) {
    const a = removed.charCodeAt(i);
    const b = inserted.charCodeAt(j);
    if (a === b) {
      i++;
      j++;
    } else if (a === 13 && b === 10) {
      // CRLF became LF: drop the CR.
      edits.push({ offset: offset + i, deleteCount: 1, insert: "" });
      i++;
    } else if (a === 10 && b === 13) {
      // LF became CRLF: a CR goes before it.
      edits.push({ offset: offset + i, deleteCount: 0, insert: "\r" });
      j++;
    } else {
      // Not an EOL-only difference after all (cannot happen given the caller's check).
      return [{ offset, deleteCount: removed.length, insert: inserted }];
    }
  }
  return edits;
}

/** One change event's contentChanges (all relative to `before`) as one minimal op. */
export function opFromChanges(before: string, changes: readonly ContentChange[]): TextOp {
  const edits: Edit[] = [];
  for (const c of changes) {
    edits.push(...minimizeEdit(before, { offset: c.rangeOffset, deleteCount: c.rangeLength, insert: c.text }));
  }
  return opFromEdits(before.length, edits);
}

/** An op taking `before` to `after`: a single minimal replacement, EOL switches per line. */
export function diffOp(before: string, after: string): TextOp {
  return opFromEdits(before.length, minimizeEdit(before, { offset: 0, deleteCount: before.length, insert: after }));
}
