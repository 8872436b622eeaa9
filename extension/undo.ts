/**
 * Undo that only undoes you. Each note's pipeline keeps a history of our own ops,
 * transformed past every later op (ours and teammates'); Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y
 * run `sharedNotes.undo` / `sharedNotes.redo` while a shared note has focus (see the
 * keybindings' `when` clause). The Edit menu's Undo runs VS Code's own undo, which the
 * pipeline takes back and replaces with ours (see EditorPipeline.userChange).
 */
import * as vscode from "vscode";
import type { DocumentBindings } from "./documentBindings";

export class OwnUndo implements vscode.Disposable {
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly bindings: DocumentBindings) {
    this.subscriptions = [
      vscode.window.onDidChangeTextEditorSelection((e) => {
        // A click elsewhere starts a new undo step, as in any editor.
        if (e.kind !== vscode.TextEditorSelectionChangeKind.Mouse) return;
        this.bindings.get(e.textEditor.document.uri)?.pipeline.closeUndoGroup();
      }),
      vscode.commands.registerCommand("sharedNotes.undo", () => this.step("undo")),
      vscode.commands.registerCommand("sharedNotes.redo", () => this.step("redo")),
    ];
  }

  /** Runs one undo or redo step in the active shared note; resolves whether anything changed. */
  private async step(kind: "undo" | "redo"): Promise<boolean> {
    const binding = this.bindings.active();
    if (!binding) {
      // Not a shared note after all (the keybinding's when clause should prevent this).
      await vscode.commands.executeCommand(kind);
      return false;
    }
    return await binding.step(kind);
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
  }
}
