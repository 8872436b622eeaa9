/**
 * Where the user's caret stays when a teammate's text lands at it.
 *
 * When two people type at one spot, each next key must land right after that person's
 * own previous one, or the editor interleaves runs ("axbyc") that the merge itself keeps
 * whole. But VS Code moves a caret past text inserted at it. Two rules keep it put, both
 * carried out by the edit itself on VS Code's side (moving the caret afterwards would race
 * keys the user typed meanwhile):
 * - an insert exactly at a caret is sent as "replace the next character with the text
 *   plus that character" (same result; VS Code leaves a caret where a replaced range
 *   starts);
 * - at the very end of the note there is no next character: while the user types there,
 *   the teammate's insert waits for a pause (it moves along with the typing meanwhile,
 *   the pipeline puts our text left of it), then lands after the user's text.
 * Offsets here are the pipeline's (the document's text as the note has it).
 *
 * The carets VS Code reports to the extension can lag the document by a key: a change
 * event is handled before the selection update that follows it. So the caret the user's
 * own last change left behind counts too, as long as the text has not changed since.
 */
import { editsFromOp, type Edit, type TextOp } from "../sync/textOp";

/**
 * A pause in the user's typing long enough to show a teammate's text at their caret at
 * the end of the note: longer than the gaps a busy extension host shows between the
 * events of someone typing steadily, short enough that the text shows soon after.
 */
export const TYPING_PAUSE_MS = 2000;

export class CaretPolicy {
  private lastTyped = 0;
  /** Where the user's last change left the caret, in `typedText` (the text right after it). */
  private typedCaret: number | undefined;
  private typedText: string | undefined;
  /** The user's last change ended at the end of the note (it stays the end while we hold). */
  private typedAtEnd = false;

  /** The user changed the document; `caret` is where the change ended in `text`, if known. */
  typed(caret: number | undefined, text: string): void {
    this.lastTyped = Date.now();
    this.typedCaret = caret;
    this.typedText = text;
    this.typedAtEnd = caret === text.length;
  }

  /** How long to hold back a teammate's op (0: apply it now). */
  holdFor(op: TextOp, text: string, carets: readonly number[]): number {
    const wait = TYPING_PAUSE_MS - (Date.now() - this.lastTyped);
    if (wait <= 0) return 0;
    const end = text.length;
    const typingAtEnd = this.typedAtEnd || this.caretsIn(text, carets).includes(end);
    const insertsAtEnd = editsFromOp(op).some((e) => e.offset === end && e.insert.length > 0);
    return typingAtEnd && insertsAtEnd ? wait : 0;
  }

  /** The edits of a teammate's op, with inserts at a caret spelled so the caret stays before them. */
  keepBefore(edits: readonly Edit[], text: string, carets: readonly number[]): Edit[] {
    const at = new Set(this.caretsIn(text, carets));
    return edits.map((edit, i) => {
      if (edit.deleteCount > 0 || !at.has(edit.offset)) return edit;
      const code = text.charCodeAt(edit.offset);
      const width = code >= 0xd800 && code <= 0xdbff ? 2 : 1;
      const next = edits[i + 1];
      if (edit.offset + width > text.length || (next !== undefined && next.offset < edit.offset + width)) return edit;
      return { offset: edit.offset, deleteCount: width, insert: edit.insert + text.slice(edit.offset, edit.offset + width) };
    });
  }

  /** The editor's carets plus the one the user's last change left, if `text` is still what it made. */
  private caretsIn(text: string, carets: readonly number[]): readonly number[] {
    return this.typedCaret !== undefined && text === this.typedText ? [...carets, this.typedCaret] : carets;
  }
}
