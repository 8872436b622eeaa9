/** A note's history in the editor: the History view, read-only versions, and "who wrote this". */
import * as vscode from "vscode";
import type { DocumentBindings } from "./documentBindings";
import { AuthorshipFeature } from "./historyAuthorship";
import { VersionContent } from "./historyContent";
import { HistoryView } from "./historyView";
import type { Log } from "./log";
import type { NoteRegistry } from "./noteRegistry";

export class NoteHistoryFeature implements vscode.Disposable {
  readonly versions: VersionContent;
  readonly view: HistoryView;
  readonly authorship: AuthorshipFeature;

  constructor(registry: NoteRegistry, bindings: DocumentBindings, log: Log) {
    this.versions = new VersionContent(registry);
    this.view = new HistoryView(registry, bindings, log);
    this.authorship = new AuthorshipFeature(registry, bindings, log);
  }

  dispose(): void {
    this.authorship.dispose();
    this.view.dispose();
    this.versions.dispose();
  }
}
