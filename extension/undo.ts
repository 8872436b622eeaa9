/**
 * Undo that only undoes you. Each shared document gets its own history of our ops,
 * transformed past every later op (ours and teammates'); Ctrl+Z / Ctrl+Shift+Z / Ctrl+Y
 * run `sharedNotes.undo` / `sharedNotes.redo` while a shared note has focus (see the
 * keybindings' `when` clause), so VS Code's undo elsewhere is untouched.
 */
import * as vscode from "vscode";
import type { DocumentBinding, DocumentBindings } from "./documentBinding";
import { UndoHistory } from "./undoHistory";

export class OwnUndo implements vscode.Disposable {
  private readonly histories = new Map<DocumentBinding, { history: UndoHistory; listeners: vscode.Disposable[] }>();
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly bindings: DocumentBindings) {
    this.subscriptions.push(
      bindings.onDidCreate((b) => this.watch(b)),
      bindings.onDidRemove((b) => this.unwatch(b)),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        // A click elsewhere starts a new undo step, as in any editor.
        if (e.kind !== vscode.TextEditorSelectionChangeKind.Mouse) return;
        const b = this.bindings.get(e.textEditor.document.uri);
        if (b) this.histories.get(b)?.history.closeGroup();
      }),
      vscode.commands.registerCommand("sharedNotes.undo", () => this.step("undo")),
      vscode.commands.registerCommand("sharedNotes.redo", () => this.step("redo")),
    );
    for (const b of bindings.all()) this.watch(b);
  }

  historyOf(binding: DocumentBinding): UndoHistory | undefined {
    return this.histories.get(binding)?.history;
  }

  private watch(binding: DocumentBinding): void {
    const history = new UndoHistory();
    const listeners = [
      binding.onLocalEdit((e) => {
        if (e.kind === "fix") history.remote(e.op);
        else history.local(e.op, e.before, e.kind);
      }),
      binding.session.onRemoteOp((op) => history.remote(op)),
    ];
    this.histories.set(binding, { history, listeners });
  }

  private unwatch(binding: DocumentBinding): void {
    for (const d of this.histories.get(binding)?.listeners ?? []) d.dispose();
    this.histories.delete(binding);
  }

  /** Runs one undo or redo step in the active shared note; resolves whether anything changed. */
  private async step(kind: "undo" | "redo"): Promise<boolean> {
    const binding = this.bindings.active();
    const entry = binding && this.histories.get(binding);
    if (!binding || !entry) {
      // Not a shared note after all (the keybinding's when clause should prevent this).
      await vscode.commands.executeCommand(kind);
      return false;
    }
    const { history } = entry;
    return await binding.applyOwn(
      kind,
      () => (kind === "undo" ? history.takeUndo() : history.takeRedo()),
      (op) => history.restore(kind, op),
    );
  }

  dispose(): void {
    for (const b of [...this.histories.keys()]) this.unwatch(b);
    for (const s of this.subscriptions) s.dispose();
  }
}
