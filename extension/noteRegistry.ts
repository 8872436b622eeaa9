import * as vscode from "vscode";
import type { PendingStore } from "../client/pendingStore";
import type { NoteSession, UserInfo } from "../client/types";
import { EditorPipeline, type LocalEdit } from "../sync/editorPipeline";
import { describeError, type Log } from "./log";
import { SCHEME, inSpace, noteUriParts, parseNoteUri } from "./noteUri";
import { showRejected, showReplaced } from "./rejections";
import type { SpaceConnection } from "./spaceConnection";

/** Unconfirmed edits kept in global state, so they survive a window reload or a crash. */
/** What a document binding offers the note it shows. */
export interface NoteBinding {
  /** The pipeline has something new for the document. */
  wake(): void;
  /** A local op reached the session. */
  localEdit(edit: LocalEdit): void;
}

/**
 * One note that has a live session because a document shows it (or is about to). Its
 * pipeline follows the session from the moment the note opens, so remote ops that come
 * between VS Code reading the note and a binding taking over the document wait there.
 */
export class OpenNote implements vscode.Disposable {
  readonly pipeline: EditorPipeline;
  private readonly listeners: { dispose(): void }[];
  private binding: NoteBinding | undefined;

  constructor(
    readonly uri: vscode.Uri,
    readonly noteId: string,
    readonly session: NoteSession,
    log: Log,
  ) {
    this.pipeline = new EditorPipeline(session, {
      local: (e) => this.binding?.localEdit(e),
      warn: (m) => log.warn(`${uri.toString()}: ${m}`),
    });
    const parsed = parseNoteUri(uri);
    const title = parsed?.kind === "note" ? parsed.title : uri.path;
    this.listeners = [
      // The session's one listener for remote ops: everything else learns from the pipeline.
      session.onRemoteOp((op) => {
        this.pipeline.remote(op);
        this.binding?.wake();
      }),
      session.onRejected((edit) => showRejected(title, edit, log)),
      session.onReplaced((replaced) => showReplaced(title, replaced, log)),
    ];
  }

  get bound(): boolean {
    return this.binding !== undefined;
  }

  /** Text for readFile: the document's own text once bound, else the session's, from now on. */
  textForRead(): string {
    return this.binding ? this.pipeline.text : this.pipeline.load();
  }

  bind(binding: NoteBinding): void {
    this.binding = binding;
  }

  unbind(binding: NoteBinding): void {
    if (this.binding === binding) this.binding = undefined;
  }

  dispose(): void {
    for (const l of this.listeners) l.dispose();
  }
}

/** Live sessions per note URI; the file system provider opens them, closing a document ends them. */
export class NoteRegistry implements vscode.Disposable {
  private readonly notes = new Map<string, OpenNote>();
  private readonly opening = new Map<string, Promise<OpenNote>>();
  private readonly opened = new vscode.EventEmitter<OpenNote>();
  private readonly closed = new vscode.EventEmitter<OpenNote>();
  readonly onDidOpen = this.opened.event;
  readonly onDidClose = this.closed.event;
  private connection: SpaceConnection | undefined;

  constructor(
    private readonly store: PendingStore,
    private readonly user: () => Promise<UserInfo>,
    private readonly log: Log,
  ) {}

  /** The space notes open in. Changing it closes every open note. */
  setConnection(connection: SpaceConnection | undefined): void {
    if (connection === this.connection) return;
    this.connection = connection;
    void this.closeAll();
  }

  get space(): SpaceConnection | undefined {
    return this.connection;
  }

  uriFor(title: string): vscode.Uri {
    const space = this.connection ?? { spaceId: "none", name: "none" };
    return vscode.Uri.from({ scheme: SCHEME, ...noteUriParts(space, title) });
  }

  get(uri: vscode.Uri): OpenNote | undefined {
    return this.notes.get(uri.toString());
  }

  all(): OpenNote[] {
    return [...this.notes.values()];
  }

  byNoteId(noteId: string): OpenNote[] {
    return this.all().filter((n) => n.noteId === noteId);
  }

  /** The open note for a URI, starting its session if needed. Throws FileSystemErrors. */
  async open(uri: vscode.Uri): Promise<OpenNote> {
    const key = uri.toString();
    const existing = this.notes.get(key);
    if (existing) return existing;
    let pending = this.opening.get(key);
    if (!pending) {
      pending = this.start(uri).finally(() => this.opening.delete(key));
      this.opening.set(key, pending);
    }
    return await pending;
  }

  private async start(uri: vscode.Uri): Promise<OpenNote> {
    const connection = this.connection;
    const parsed = parseNoteUri(uri);
    if (!parsed || parsed.kind !== "note") throw vscode.FileSystemError.FileNotFound(uri);
    if (!connection) throw vscode.FileSystemError.Unavailable("Join a space to open shared notes.");
    if (!inSpace(parsed, connection)) throw vscode.FileSystemError.NoPermissions("This note belongs to a space you have not joined.");
    let noteId: string | undefined;
    try {
      noteId = await connection.findNote(parsed.title);
    } catch (err) {
      throw vscode.FileSystemError.Unavailable(`The server could not be asked for this note: ${describeError(err)}`);
    }
    if (!noteId) throw vscode.FileSystemError.FileNotFound(uri);
    let session: NoteSession;
    try {
      session = await connection.space.open(noteId, {
        user: await this.user(),
        store: this.store,
        log: (m, level) => (level === "info" ? this.log.info(m) : this.log.warn(m)),
        trace: (line) => this.log.trace(line),
      });
    } catch (err) {
      throw vscode.FileSystemError.Unavailable(`The note could not be opened: ${describeError(err)}`);
    }
    if (this.connection !== connection) {
      await session.close();
      throw vscode.FileSystemError.Unavailable("The space changed while the note was opening.");
    }
    const note = new OpenNote(uri, noteId, session, this.log);
    this.notes.set(uri.toString(), note);
    this.log.info(`Opened "${parsed.title}" (${noteId}).`);
    this.opened.fire(note);
    return note;
  }

  async close(uri: vscode.Uri): Promise<void> {
    const note = this.notes.get(uri.toString());
    if (!note) return;
    this.notes.delete(uri.toString());
    note.dispose();
    this.closed.fire(note);
    await note.session.close().catch((err: unknown) => this.log.error("Closing a note failed", err));
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.all().map((n) => this.close(n.uri)));
  }

  dispose(): void {
    void this.closeAll();
    this.opened.dispose();
    this.closed.dispose();
  }
}
