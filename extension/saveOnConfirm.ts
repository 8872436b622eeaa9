/**
 * Saves a shared note once the server has confirmed everything in it, so a note never
 * sits with an unsaved dot while it is in step. The provider's writeFile accepts the
 * save without sending anything: the edits already went out as they were made.
 */
import * as vscode from "vscode";
import type { DocumentBinding } from "./documentBinding";
import type { DocumentBindings } from "./documentBindings";
import type { Log } from "./log";

export class SaveOnConfirm implements vscode.Disposable {
  private readonly perBinding = new Map<DocumentBinding, vscode.Disposable[]>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly scheduled = new Set<DocumentBinding>();

  constructor(
    bindings: DocumentBindings,
    private readonly log: Log,
  ) {
    this.subscriptions.push(
      bindings.onDidCreate((b) => this.watch(b)),
      bindings.onDidRemove((b) => this.unwatch(b)),
    );
    for (const b of bindings.all()) this.watch(b);
  }

  private watch(binding: DocumentBinding): void {
    const check = () => this.schedule(binding);
    this.perBinding.set(binding, [
      binding.session.onStatus(check),
      binding.onIdle(check),
      binding.onLocalEdit(check),
    ]);
    check();
  }

  private unwatch(binding: DocumentBinding): void {
    for (const d of this.perBinding.get(binding) ?? []) d.dispose();
    this.perBinding.delete(binding);
    this.scheduled.delete(binding);
  }

  /** One save per burst of changes: checked after the current events have run. */
  private schedule(binding: DocumentBinding): void {
    if (this.scheduled.has(binding)) return;
    this.scheduled.add(binding);
    setTimeout(() => {
      this.scheduled.delete(binding);
      void this.saveIfConfirmed(binding);
    }, 0);
  }

  private async saveIfConfirmed(binding: DocumentBinding): Promise<void> {
    const doc = binding.document;
    if (!this.perBinding.has(binding) || doc.isClosed || !doc.isDirty) return;
    if (binding.session.status.unconfirmed > 0 || !binding.idle) return;
    let saved = false;
    try {
      saved = await doc.save();
    } catch (err) {
      this.log.error(`Saving ${doc.uri.toString()} failed`, err);
    }
    // Edits that came while saving leave it dirty; they are confirmed and saved in turn.
    // A failed save waits for the next change instead of retrying in a loop.
    if (saved && doc.isDirty) this.schedule(binding);
  }

  dispose(): void {
    for (const b of [...this.perBinding.keys()]) this.unwatch(b);
    for (const s of this.subscriptions) s.dispose();
  }
}
