/**
 * "Follow": keeps the view on a teammate's caret until the user types, switches editor,
 * or stops following.
 */
import * as vscode from "vscode";
import type { DocumentBinding } from "./documentBinding";
import type { DocumentBindings } from "./documentBindings";

export interface FollowTarget {
  readonly clientId: string;
  readonly name: string;
}

export class Follow implements vscode.Disposable {
  private target: { binding: DocumentBinding; who: FollowTarget; listeners: vscode.Disposable[] } | undefined;
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<FollowTarget | undefined>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly bindings: DocumentBindings) {
    this.subscriptions.push(
      vscode.window.onDidChangeActiveTextEditor((e) => {
        if (this.target && e?.document !== this.target.binding.document) this.stop();
      }),
      bindings.onDidRemove((b) => {
        if (this.target?.binding === b) this.stop();
      }),
    );
  }

  get following(): FollowTarget | undefined {
    return this.target?.who;
  }

  start(clientId: string): boolean {
    const binding = this.bindings.active();
    const who = binding?.session.collaborators.find((c) => c.clientId === clientId);
    if (!binding || !who) return false;
    this.stop();
    const listeners = [
      binding.session.onCollaborators(() => this.reveal()),
      binding.onIdle(() => this.reveal()),
      binding.onLocalEdit((e) => {
        if (e.kind === "edit") this.stop();
      }),
    ];
    this.target = { binding, who: { clientId, name: who.name }, listeners };
    void vscode.commands.executeCommand("setContext", "sharedNotes.following", true);
    this.changed.fire(this.target.who);
    this.reveal();
    return true;
  }

  stop(): void {
    if (!this.target) return;
    for (const d of this.target.listeners) d.dispose();
    this.target = undefined;
    void vscode.commands.executeCommand("setContext", "sharedNotes.following", false);
    this.changed.fire(undefined);
  }

  private reveal(): void {
    const t = this.target;
    if (!t || !t.binding.idle) return;
    const who = t.binding.session.collaborators.find((c) => c.clientId === t.who.clientId);
    if (!who) {
      // They left the note: nothing to follow any more.
      this.stop();
      return;
    }
    const head = who.selections[0]?.head;
    if (head === undefined) return;
    const editor = vscode.window.visibleTextEditors.find((e) => e.document === t.binding.document);
    if (!editor) return;
    const pos = t.binding.positionAt(head);
    editor.revealRange(new vscode.Range(pos, pos), vscode.TextEditorRevealType.InCenterIfOutsideViewport);
  }

  dispose(): void {
    this.stop();
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
  }
}
