/**
 * The History view: the editing sessions of the note in the active editor, newest first,
 * with their authors (names and colours), when, and +/- characters; older pages on demand;
 * refreshed as people type (a small subscription to the note's head revision, throttled).
 * Its commands open a version read-only, compare it, and restore it.
 */
import * as vscode from "vscode";
import { NoteHistory, type SessionPageResult } from "../client/noteHistory";
import { editsFromOp } from "../sync/textOp";
import { versionOp } from "../sync/historyDiff";
import { sizeLabel, type EditSession } from "../sync/historySessions";
import type { DocumentBindings } from "./documentBindings";
import { ago, authorColor, authorsIcon } from "./historyColors";
import { VersionContent } from "./historyContent";
import { shortTime } from "./historyUri";
import { describeError, type Log } from "./log";
import type { NoteRegistry, OpenNote } from "./noteRegistry";
import { parseNoteUri } from "./noteUri";

/** The view refreshes at most this often while people type. */
const REFRESH_MS = 1500;

/** The note the view shows. */
interface ShownNote {
  readonly note: OpenNote;
  readonly title: string;
  readonly spaceId: string;
  readonly history: NoteHistory;
}

export class SessionItem extends vscode.TreeItem {
  constructor(
    readonly session: EditSession,
    readonly shown: ShownNote,
  ) {
    const present = shown.note.session.collaborators;
    super(session.authors.map((a) => a.name).join(", ") || "(no edits)", vscode.TreeItemCollapsibleState.None);
    this.description = `${sizeLabel(session.inserted, session.deleted)} · ${session.end === 0 ? "time not kept" : ago(session.end)}`;
    const revs = session.firstRev === session.lastRev ? `revision ${session.lastRev}` : `revisions ${session.firstRev}–${session.lastRev}`;
    const when = session.end === 0 ? "" : session.start === session.end ? shortTime(session.end) : `${shortTime(session.start)} – ${shortTime(session.end).slice(11)}`;
    this.tooltip = new vscode.MarkdownString(
      [`**${revs}**${when ? ` · ${when}` : ""}`, ...session.authors.map((a) => `- ${a.name}: ${sizeLabel(a.inserted, a.deleted)}`)].join("\n\n"),
    );
    this.iconPath = authorsIcon(session.authors.map((a) => authorColor(a.name, present)));
    this.contextValue = "historySession";
    this.command = { command: "sharedNotes.history.open", title: "Open This Version", arguments: [this] };
  }
}

class MoreItem extends vscode.TreeItem {
  constructor() {
    super("Older sessions…", vscode.TreeItemCollapsibleState.None);
    this.command = { command: "sharedNotes.history.loadMore", title: "Load Older Sessions" };
    this.iconPath = new vscode.ThemeIcon("history");
  }
}

type HistoryItem = SessionItem | MoreItem;

export class HistoryView implements vscode.TreeDataProvider<HistoryItem>, vscode.Disposable {
  private shown: ShownNote | undefined;
  private pages: SessionPageResult[] = [];
  private headWatch: vscode.Disposable | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private lastRefresh = 0;
  private loading: Promise<void> = Promise.resolve();
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly view: vscode.TreeView<HistoryItem>;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly registry: NoteRegistry,
    private readonly bindings: DocumentBindings,
    private readonly log: Log,
  ) {
    this.view = vscode.window.createTreeView("sharedNotes.history", { treeDataProvider: this });
    this.subscriptions.push(
      this.view,
      vscode.window.onDidChangeActiveTextEditor(() => this.follow()),
      bindings.onDidCreate(() => this.follow()),
      registry.onDidClose((note) => {
        if (this.shown?.note === note) this.show(undefined);
      }),
      vscode.commands.registerCommand("sharedNotes.history.loadMore", () => this.loadMore()),
      vscode.commands.registerCommand("sharedNotes.history.open", (item: SessionItem) => this.openVersion(item)),
      vscode.commands.registerCommand("sharedNotes.history.compareWithCurrent", (item: SessionItem) => this.compareWithCurrent(item)),
      vscode.commands.registerCommand("sharedNotes.history.compareWithPrevious", (item: SessionItem) => this.compareWithPrevious(item)),
      vscode.commands.registerCommand("sharedNotes.history.restore", (item: SessionItem, confirmed?: "confirmed") => this.restore(item, confirmed === "confirmed")),
    );
    this.follow();
  }

  /** The sessions loaded for the shown note, newest first. */
  get sessions(): readonly EditSession[] {
    return this.pages.flatMap((p) => p.sessions);
  }

  /** Items as the view shows them (for the commands' callers and the suites). */
  items(): SessionItem[] {
    const shown = this.shown;
    return shown ? this.sessions.map((s) => new SessionItem(s, shown)) : [];
  }

  getTreeItem(item: HistoryItem): vscode.TreeItem {
    return item;
  }

  getChildren(item?: HistoryItem): HistoryItem[] {
    if (item !== undefined) return [];
    const items: HistoryItem[] = this.items();
    if (this.pages.at(-1)?.nextBeforeRev != null) items.push(new MoreItem());
    return items;
  }

  /** Shows the note of the active editor; keeps the last one while another kind of editor is active. */
  private follow(): void {
    const binding = this.bindings.active();
    if (!binding || binding.note === this.shown?.note) return;
    this.show(binding.note);
  }

  private show(note: OpenNote | undefined): void {
    this.headWatch?.dispose();
    this.headWatch = undefined;
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    this.pages = [];
    this.shown = undefined;
    const connection = this.registry.space;
    const parsed = note ? parseNoteUri(note.uri) : undefined;
    if (note && connection && parsed?.kind === "note") {
      const shown: ShownNote = { note, title: parsed.title, spaceId: parsed.spaceId, history: new NoteHistory(connection.convex, connection.space.credentials, note.noteId) };
      this.shown = shown;
      this.view.title = `History: ${parsed.title}`;
      this.view.message = undefined;
      this.headWatch = shown.history.onHead(
        () => {
          if (this.shown === shown) this.view.message = undefined;
          this.scheduleRefresh();
        },
        // A failed run of this small query (a busy server, say) is answered again when the
        // note next changes: the view says so instead of raising an error for a moment's delay.
        (err) => {
          this.log.info(`The history of "${shown.title}" could not be watched for now (${describeError(err)}); it updates when the note next changes.`);
          if (this.shown === shown) this.view.message = "History is not up to date for now; it updates when the note next changes.";
        },
      );
    } else {
      this.view.title = "History";
      this.view.message = "Open a shared note to see its history.";
    }
    this.changed.fire();
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer !== undefined) return;
    const wait = Math.max(0, this.lastRefresh + REFRESH_MS - Date.now());
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.lastRefresh = Date.now();
      void this.reload();
    }, wait);
  }

  /** Re-reads as many pages as are shown (the newest changes as people type). */
  reload(): Promise<void> {
    const shown = this.shown;
    if (!shown) return Promise.resolve();
    this.loading = this.loading.then(async () => {
      const count = Math.max(1, this.pages.length);
      const pages: SessionPageResult[] = [];
      try {
        let before: number | undefined;
        for (let i = 0; i < count; i++) {
          const page = await shown.history.sessions(before);
          pages.push(page);
          if (page.nextBeforeRev === null) break;
          before = page.nextBeforeRev;
        }
      } catch (err) {
        this.log.error(`Reading the history of "${shown.title}" failed`, describeError(err));
        return;
      }
      if (this.shown !== shown) return;
      this.pages = pages;
      this.changed.fire();
    });
    return this.loading;
  }

  private loadMore(): Promise<void> {
    const shown = this.shown;
    const before = this.pages.at(-1)?.nextBeforeRev;
    if (!shown || before == null) return Promise.resolve();
    this.loading = this.loading.then(async () => {
      try {
        const page = await shown.history.sessions(before);
        if (this.shown !== shown) return;
        this.pages.push(page);
        this.changed.fire();
      } catch (err) {
        this.log.error(`Reading older history of "${shown.title}" failed`, describeError(err));
      }
    });
    return this.loading;
  }

  private versionUri(item: SessionItem, rev: number, at?: number): vscode.Uri {
    const { shown } = item;
    return VersionContent.uri({ spaceId: shown.spaceId, noteId: shown.note.noteId, title: shown.title, rev, ...(at === undefined ? {} : { at }) });
  }

  /** Opens the version the session made (the text at its last revision) read-only; resolves with its editor. */
  async openVersion(item: SessionItem): Promise<vscode.TextEditor> {
    const doc = await vscode.workspace.openTextDocument(this.versionUri(item, item.session.lastRev, item.session.end));
    return await vscode.window.showTextDocument(doc, { preview: true });
  }

  async compareWithCurrent(item: SessionItem): Promise<void> {
    const { session, shown } = item;
    await vscode.commands.executeCommand(
      "vscode.diff",
      this.versionUri(item, session.lastRev, session.end),
      shown.note.uri,
      `${shown.title}: r${session.lastRev} ↔ now`,
    );
  }

  async compareWithPrevious(item: SessionItem): Promise<void> {
    const { session, shown } = item;
    await vscode.commands.executeCommand(
      "vscode.diff",
      this.versionUri(item, session.firstRev - 1),
      this.versionUri(item, session.lastRev, session.end),
      `${shown.title}: before ↔ after ${session.authors.map((a) => a.name).join(", ")} (r${session.firstRev}–${session.lastRev})`,
    );
  }

  /**
   * Makes the note's text what it was after this session, as one ordinary edit of ours
   * that changes only the lines that differ:
   * the change is applied to the document like typing, so the binding sends it as our op
   * (transformed past whatever teammates type meanwhile) and our own undo takes it back.
   * Asks first, saying what will change; `confirmed` skips the question (automation).
   */
  async restore(item: SessionItem, confirmed = false): Promise<boolean> {
    const { session, shown } = item;
    const rev = session.lastRev;
    const version = await shown.history.version(rev);
    if (version === null) {
      void vscode.window.showErrorMessage(`Revision ${rev} of "${shown.title}" is no longer kept, so it cannot be restored.`);
      return false;
    }
    const doc = await vscode.workspace.openTextDocument(shown.note.uri);
    const planned = editsFromOp(versionOp(doc.getText(), version.text));
    if (planned.length === 0) {
      void vscode.window.showInformationMessage(`"${shown.title}" already reads as it did at revision ${rev}.`);
      return false;
    }
    if (!confirmed) {
      const removed = planned.reduce((n, e) => n + e.deleteCount, 0);
      const added = planned.reduce((n, e) => n + e.insert.length, 0);
      const when = session.end === 0 ? "" : ` (${shortTime(session.end)})`;
      const answer = await vscode.window.showWarningMessage(
        `Restore "${shown.title}" to revision ${rev}${when}?`,
        {
          modal: true,
          detail: `This removes ${removed} and adds ${added} characters in ${planned.length} place${planned.length === 1 ? "" : "s"}, as one edit of yours. Teammates' typing meanwhile is kept, and your Undo takes it back.`,
        },
        "Restore",
      );
      if (answer !== "Restore") return false;
    }
    // The text may have moved while the question was open: change what is there now.
    const edits = editsFromOp(versionOp(doc.getText(), version.text));
    const pipeline = this.bindings.get(doc.uri)?.pipeline;
    pipeline?.closeUndoGroup();
    const edit = new vscode.WorkspaceEdit();
    for (const e of edits) edit.replace(doc.uri, new vscode.Range(doc.positionAt(e.offset), doc.positionAt(e.offset + e.deleteCount)), e.insert);
    const applied = await vscode.workspace.applyEdit(edit);
    pipeline?.closeUndoGroup();
    if (!applied) {
      void vscode.window.showErrorMessage(`"${shown.title}" could not be restored: the editor refused the edit. Nothing was changed.`);
      this.log.warn(`Restoring "${shown.title}" to revision ${rev}: applyEdit refused the edit`);
    } else this.log.info(`Restored "${shown.title}" to revision ${rev}.`);
    return applied;
  }

  dispose(): void {
    clearTimeout(this.refreshTimer);
    this.headWatch?.dispose();
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
  }
}
