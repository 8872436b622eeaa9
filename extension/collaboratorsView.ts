/** The "Collaborators" view: who else is in the active note; Follow from here. */
import * as vscode from "vscode";
import type { Collaborator } from "../client/types";
import type { DocumentBinding } from "./documentBinding";
import type { DocumentBindings } from "./documentBindings";
import type { Follow } from "./follow";

export class CollaboratorItem extends vscode.TreeItem {
  constructor(
    readonly collaborator: Collaborator,
    following: boolean,
  ) {
    super(collaborator.name, vscode.TreeItemCollapsibleState.None);
    this.id = collaborator.clientId;
    this.contextValue = "collaborator";
    this.description = following ? "following" : undefined;
    this.iconPath = new vscode.ThemeIcon(following ? "eye" : "account");
    this.tooltip = `${collaborator.name} (${collaborator.color})`;
    this.command = { command: "sharedNotes.follow", title: "Follow", arguments: [this] };
  }
}

export class CollaboratorsView implements vscode.TreeDataProvider<CollaboratorItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [];
  private watched: DocumentBinding | undefined;
  private listener: vscode.Disposable | undefined;

  constructor(
    private readonly bindings: DocumentBindings,
    private readonly follow: Follow,
  ) {
    this.subscriptions.push(
      vscode.window.registerTreeDataProvider("sharedNotes.collaborators", this),
      vscode.window.onDidChangeActiveTextEditor(() => this.watch()),
      bindings.onDidCreate(() => this.watch()),
      bindings.onDidRemove(() => this.watch()),
      follow.onDidChange(() => this.changed.fire(undefined)),
    );
    this.watch();
  }

  private watch(): void {
    const binding = this.bindings.active();
    if (binding === this.watched) return;
    this.listener?.dispose();
    this.watched = binding;
    this.listener = binding?.session.onCollaborators(() => this.changed.fire(undefined));
    this.changed.fire(undefined);
  }

  getTreeItem(item: CollaboratorItem): vscode.TreeItem {
    return item;
  }

  getChildren(): CollaboratorItem[] {
    const b = this.watched;
    if (!b) return [];
    const following = this.follow.following?.clientId;
    return b.session.collaborators
      .filter((c) => c.clientId !== b.session.clientId)
      .map((c) => new CollaboratorItem(c, c.clientId === following));
  }

  dispose(): void {
    this.listener?.dispose();
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
  }
}
