/**
 * Tells the user what the server refused for good (an edit too large or malformed, a note
 * deleted or no longer open to this space's key), with the text that was not saved and a
 * way to keep it: it opens in a new untitled editor. Never only logged.
 */
import * as vscode from "vscode";
import type { RejectedEdit, TextReplaced } from "../client/types";
import type { Log } from "./log";

const KEEP = "Open the Unsaved Text";

export function showRejected(title: string, edit: RejectedEdit, log: Log): void {
  const what = edit.wholeNote ? `"${title}" can no longer be saved` : `An edit in "${title}" was not saved`;
  log.warn(`${what} (${edit.code}, ${edit.text.length} characters not saved): ${edit.message}`);
  const actions = edit.text.length > 0 ? [KEEP] : [];
  void vscode.window.showWarningMessage(`${what}: ${edit.message}`, ...actions).then(async (choice) => {
    if (choice !== KEEP) return;
    const doc = await vscode.workspace.openTextDocument({ content: edit.text, language: "markdown" });
    await vscode.window.showTextDocument(doc, { preview: false });
  });
}

export function showReplaced(title: string, replaced: TextReplaced, log: Log): void {
  log.warn(`"${title}" was reloaded from the server: ${replaced.reason}`);
  void vscode.window.showInformationMessage(`"${title}" was reloaded from the server's copy (${replaced.reason}).`);
}
