/** Creates a binding for every open shared-note document and ends it when the document closes. */
import * as vscode from "vscode";
import { DocumentBinding } from "./documentBinding";
import type { Log } from "./log";
import type { NoteRegistry } from "./noteRegistry";
import { SCHEME } from "./noteUri";

export class DocumentBindings implements vscode.Disposable {
  private readonly bindings = new Map<string, DocumentBinding>();
  private readonly created = new vscode.EventEmitter<DocumentBinding>();
  private readonly removed = new vscode.EventEmitter<DocumentBinding>();
  readonly onDidCreate = this.created.event;
  readonly onDidRemove = this.removed.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly registry: NoteRegistry,
    private readonly log: Log,
  ) {
    this.subscriptions.push(
      vscode.workspace.onDidOpenTextDocument((doc) => this.bind(doc)),
      vscode.workspace.onDidCloseTextDocument((doc) => void this.unbind(doc)),
      registry.onDidOpen((note) => {
        const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === note.uri.toString());
        if (doc) this.bind(doc);
      }),
      registry.onDidClose((note) => {
        const binding = this.bindings.get(note.uri.toString());
        if (binding) this.drop(binding);
      }),
    );
    for (const doc of vscode.workspace.textDocuments) this.bind(doc);
  }

  get(uri: vscode.Uri): DocumentBinding | undefined {
    return this.bindings.get(uri.toString());
  }

  all(): DocumentBinding[] {
    return [...this.bindings.values()];
  }

  /** The binding of the active editor's document, if it is a shared note. */
  active(): DocumentBinding | undefined {
    const doc = vscode.window.activeTextEditor?.document;
    return doc ? this.get(doc.uri) : undefined;
  }

  private bind(doc: vscode.TextDocument): void {
    if (doc.uri.scheme !== SCHEME || doc.isClosed) return;
    const key = doc.uri.toString();
    if (this.bindings.has(key)) return;
    const note = this.registry.get(doc.uri);
    if (!note || note.bound) return;
    const binding = new DocumentBinding(doc, note, this.log);
    this.bindings.set(key, binding);
    this.created.fire(binding);
  }

  private drop(binding: DocumentBinding): void {
    const key = binding.document.uri.toString();
    if (this.bindings.get(key) !== binding) return;
    this.bindings.delete(key);
    this.removed.fire(binding);
    binding.dispose();
  }

  private async unbind(doc: vscode.TextDocument): Promise<void> {
    if (doc.uri.scheme !== SCHEME) return;
    const binding = this.bindings.get(doc.uri.toString());
    if (binding) this.drop(binding);
    await this.registry.close(doc.uri);
  }

  dispose(): void {
    for (const b of this.all()) this.drop(b);
    for (const s of this.subscriptions) s.dispose();
    this.created.dispose();
    this.removed.dispose();
  }
}
