/** The "Notes" view: the joined space's notes, live, with create, rename, delete and open. */
import * as vscode from "vscode";
import type { NoteSummary } from "../client/types";
import { describeError, type Log } from "./log";
import type { NoteRegistry } from "./noteRegistry";
import { checkTitle } from "./noteUri";
import type { SpaceConnection } from "./spaceConnection";

export class NoteItem extends vscode.TreeItem {
  constructor(
    readonly note: NoteSummary,
    uri: vscode.Uri,
  ) {
    super(note.title, vscode.TreeItemCollapsibleState.None);
    this.id = note.noteId;
    this.contextValue = "note";
    this.resourceUri = uri;
    this.iconPath = new vscode.ThemeIcon("note");
    this.command = { command: "sharedNotes.openNote", title: "Open Note", arguments: [this] };
  }
}

export class NotesView implements vscode.TreeDataProvider<NoteItem>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<NoteItem | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<NoteItem>;
  private readonly subscriptions: vscode.Disposable[] = [];
  private spaceListener: vscode.Disposable | undefined;

  constructor(
    private readonly registry: NoteRegistry,
    private readonly log: Log,
  ) {
    this.view = vscode.window.createTreeView("sharedNotes.notes", { treeDataProvider: this, showCollapseAll: false });
    this.subscriptions.push(
      this.view,
      vscode.commands.registerCommand("sharedNotes.newNote", () => this.create()),
      vscode.commands.registerCommand("sharedNotes.openNote", (item?: NoteItem | string) => this.open(item)),
      vscode.commands.registerCommand("sharedNotes.renameNote", (item?: NoteItem, title?: string) => this.rename(item, title)),
      vscode.commands.registerCommand("sharedNotes.deleteNote", (item?: NoteItem, confirmed?: boolean) =>
        this.remove(item, confirmed),
      ),
    );
  }

  /** Call when the joined space changes. */
  spaceChanged(space: SpaceConnection | undefined): void {
    this.spaceListener?.dispose();
    this.spaceListener = space?.onNotes(() => this.refresh(space));
    this.view.description = space ? space.name : "no space joined";
    this.refresh(space);
  }

  /** Redraws the list; until the server has sent it, the view says so rather than "no notes yet". */
  private refresh(space: SpaceConnection | undefined): void {
    void vscode.commands.executeCommand("setContext", "sharedNotes.listed", space?.listed ?? false);
    this.changed.fire(undefined);
  }

  getTreeItem(item: NoteItem): vscode.TreeItem {
    return item;
  }

  getChildren(parent?: NoteItem): NoteItem[] {
    const space = this.registry.space;
    if (parent || !space) return [];
    return space.notes.map((n) => new NoteItem(n, this.registry.uriFor(n.title)));
  }

  /** What the view shows beside its title: the joined space's name. */
  get description(): string | undefined {
    return this.view.description;
  }

  /** The notes the view shows now (what a user sees in the tree). */
  get items(): NoteItem[] {
    return this.getChildren();
  }

  private requireSpace(): SpaceConnection | undefined {
    const space = this.registry.space;
    if (!space) void vscode.window.showInformationMessage("Join a space first.");
    return space;
  }

  /** Picks the note a command is about: the tree item, the active shared note, or a pick list. */
  private async target(item: NoteItem | string | undefined): Promise<NoteSummary | undefined> {
    const space = this.registry.space;
    if (!space) return undefined;
    if (item instanceof NoteItem) return item.note;
    if (typeof item === "string") return space.notes.find((n) => n.noteId === item || n.title === item);
    const active = vscode.window.activeTextEditor?.document.uri;
    const open = active && this.registry.get(active);
    if (open) return space.notes.find((n) => n.noteId === open.noteId);
    const picked = await vscode.window.showQuickPick(
      space.notes.map((n) => ({ label: n.title, note: n })),
      { placeHolder: "Which note?" },
    );
    return picked?.note;
  }

  async create(title?: string): Promise<vscode.TextEditor | undefined> {
    const space = this.requireSpace();
    if (!space) return undefined;
    const name =
      title ??
      (await vscode.window.showInputBox({
        prompt: "Title of the new note",
        validateInput: (t) => checkTitle(t) ?? (space.notes.some((n) => n.title === t.trim()) ? "A note with this title exists." : undefined),
      }));
    if (name === undefined) return undefined;
    try {
      await space.space.create(name.trim());
    } catch (err) {
      void vscode.window.showErrorMessage(`Could not create the note: ${describeError(err)}`);
      return undefined;
    }
    this.log.info(`Created note "${name.trim()}".`);
    return await this.showNote(name.trim());
  }

  async open(item?: NoteItem | string): Promise<vscode.TextEditor | undefined> {
    const note = await this.target(item);
    if (!note) return undefined;
    return await this.showNote(note.title);
  }

  private async showNote(title: string): Promise<vscode.TextEditor | undefined> {
    const uri = this.registry.uriFor(title);
    try {
      const doc = await vscode.workspace.openTextDocument(uri);
      if (doc.languageId !== "markdown") await vscode.languages.setTextDocumentLanguage(doc, "markdown");
      return await vscode.window.showTextDocument(doc, { preview: false });
    } catch (err) {
      void vscode.window.showErrorMessage(`Could not open "${title}": ${describeError(err)}`);
      return undefined;
    }
  }

  async rename(item?: NoteItem, newTitle?: string): Promise<boolean> {
    const space = this.requireSpace();
    const note = await this.target(item);
    if (!space || !note) return false;
    const title =
      newTitle ??
      (await vscode.window.showInputBox({
        prompt: `Rename "${note.title}" to`,
        value: note.title,
        validateInput: (t) => checkTitle(t),
      }));
    if (title === undefined || title.trim() === note.title) return false;
    const oldUri = this.registry.uriFor(note.title);
    const wasOpen = this.tabsOf(oldUri).length > 0;
    const open = this.registry.get(oldUri);
    try {
      await open?.session.flush();
      await space.space.rename(note.noteId, title.trim());
    } catch (err) {
      void vscode.window.showErrorMessage(`Could not rename the note: ${describeError(err)}`);
      return false;
    }
    this.log.info(`Renamed "${note.title}" to "${title.trim()}".`);
    // The tab's address names the old title: reopen the note under its new one.
    if (wasOpen) {
      await this.closeTabs(oldUri);
      await this.showNote(title.trim());
    }
    return true;
  }

  async remove(item?: NoteItem, confirmed = false): Promise<boolean> {
    const space = this.requireSpace();
    const note = await this.target(item);
    if (!space || !note) return false;
    if (!confirmed) {
      const answer = await vscode.window.showWarningMessage(
        `Delete "${note.title}" for everyone in this space? This cannot be undone.`,
        { modal: true },
        "Delete",
      );
      if (answer !== "Delete") return false;
    }
    const uri = this.registry.uriFor(note.title);
    try {
      await space.space.remove(note.noteId);
    } catch (err) {
      void vscode.window.showErrorMessage(`Could not delete the note: ${describeError(err)}`);
      return false;
    }
    this.log.info(`Deleted "${note.title}".`);
    await this.closeTabs(uri);
    await this.registry.close(uri);
    return true;
  }

  private tabsOf(uri: vscode.Uri): vscode.Tab[] {
    return vscode.window.tabGroups.all.flatMap((g) =>
      g.tabs.filter((t) => t.input instanceof vscode.TabInputText && t.input.uri.toString() === uri.toString()),
    );
  }

  private async closeTabs(uri: vscode.Uri): Promise<void> {
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    // Its edits are on the server (or kept as pending); closing must not ask to save.
    if (doc?.isDirty) await doc.save().then(undefined, () => false);
    const tabs = this.tabsOf(uri);
    if (tabs.length > 0) await vscode.window.tabGroups.close(tabs, true);
  }

  dispose(): void {
    this.spaceListener?.dispose();
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
  }
}
