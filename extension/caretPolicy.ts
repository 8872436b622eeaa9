/**
 * Where the user's caret stays when a teammate's text lands at it.
 *
 * When two people type at one spot, each next key must land right after that person's
 * own previous one, or the editor interleaves runs ("axbyc") that the merge itself keeps
 * whole. But VS Code moves a caret past text inserted at it. Three rules keep it put:
 * - an insert exactly at a caret is sent as "replace the next character with the text
 *   plus that character" (same result; VS Code leaves a caret where a replaced range
 *   starts);
 * - at the very end of the note there is no next character: while the user types there,
 *   the teammate's insert waits for a pause (it moves along with the typing meanwhile,
 *   the pipeline puts our text left of it), then lands;
 * - after a teammate's edit, the caret of someone typing is put back where it belongs.
 * Offsets here are the pipeline's (the document's text as the note has it).
 */
import * as vscode from "vscode";
import { Lines } from "../sync/editorText";
import { apply, editsFromOp, transformPosition, type Edit, type TextOp } from "../sync/textOp";

/** A pause in the user's typing long enough to show a teammate's text at their caret. */
const TYPING_PAUSE_MS = 500;
/** How recently the user typed for a teammate's edit to put their caret back. */
const TYPING_RECENT_MS = 3000;

export class CaretPolicy {
  private lastTyped = 0;

  /** The user changed the document. */
  typed(): void {
    this.lastTyped = Date.now();
  }

  /** How long to hold back a teammate's op (0: apply it now). */
  holdFor(op: TextOp, text: string, carets: readonly number[]): number {
    const wait = TYPING_PAUSE_MS - (Date.now() - this.lastTyped);
    if (wait <= 0) return 0;
    const end = text.length;
    const typingAtEnd = carets.includes(end);
    const insertsAtEnd = editsFromOp(op).some((e) => e.offset === end && e.insert.length > 0);
    return typingAtEnd && insertsAtEnd ? wait : 0;
  }

  /** The edits of a teammate's op, with inserts at a caret spelled so the caret stays before them. */
  keepBefore(edits: readonly Edit[], text: string, carets: readonly number[]): Edit[] {
    const at = new Set(carets);
    return edits.map((edit, i) => {
      if (edit.deleteCount > 0 || !at.has(edit.offset)) return edit;
      const code = text.charCodeAt(edit.offset);
      const width = code >= 0xd800 && code <= 0xdbff ? 2 : 1;
      const next = edits[i + 1];
      if (edit.offset + width > text.length || (next !== undefined && next.offset < edit.offset + width)) return edit;
      return { offset: edit.offset, deleteCount: width, insert: edit.insert + text.slice(edit.offset, edit.offset + width) };
    });
  }

  /**
   * Where the carets go after a teammate's op, for someone typing (an idle user's caret
   * may move: setting selections can pull focus between windows of one browser).
   */
  caretsAfter(op: TextOp, text: string, selections: readonly { anchor: number; active: number }[]): vscode.Selection[] | undefined {
    if (Date.now() - this.lastTyped >= TYPING_RECENT_MS) return undefined;
    const lines = new Lines(apply(text, op));
    const at = (offset: number) => {
      const p = lines.positionAt(transformPosition(offset, op, "before"));
      return new vscode.Position(p.line, p.character);
    };
    return selections.map((s) => new vscode.Selection(at(s.anchor), at(s.active)));
  }
}

/** Puts the carets where they belong, if they moved. */
export function restoreCarets(editor: vscode.TextEditor, wanted: readonly vscode.Selection[]): void {
  const moved = wanted.some((sel, i) => !editor.selections[i]?.isEqual(sel));
  if (moved) editor.selections = wanted;
}
