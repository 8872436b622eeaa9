import * as vscode from "vscode";
import type { PendingStore } from "../client/pendingStore";
import type { NoteSession, UserInfo } from "../client/types";
import type { TextOp } from "../sync/textOp";
import { describeError, type Log } from "./log";
import { SCHEME, notePath, parseNotePath } from "./noteUri";
import type { SpaceConnection } from "./spaceConnection";

/** Unconfirmed edits kept in global state, so they survive a window reload or a crash. */
export class GlobalStatePendingStore implements PendingStore {
  constructor(private readonly state: vscode.Memento) {}

  load(key: string): string | undefined {
    return this.state.get<string>(`sharedNotes.pending:${key}`);
  }

  save(key: string, value: string | undefined): void {
    // Memento updates are visible at once; the write to disk finishes on its own.
    void this.state.update(`sharedNotes.pending:${key}`, value);
  }

  keys(): readonly string[] {
    const prefix = "sharedNotes.pending:";
    return this.state.keys().filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length));
  }

  /** Atomic within this window; across windows globalState gives no compare-and-set. */
  move(from: string, to: string): boolean {
    const value = this.load(from);
    if (value === undefined) return false;
    this.save(to, value);
    this.save(from, undefined);
    return true;
  }
}

/**
 * The text a document is loaded with, and the remote ops that reached the session after
 * it was read but before a binding took over the document.
 */
export interface DocumentStart {
  readonly text: string;
  readonly remoteSince: readonly TextOp[];
}

/** What a binding exposes to the registry and the file system provider. */
export interface BoundDocument {
  /** The document text as the binding last saw it. */
  readonly documentText: string;
}

/** One note that has a live session because a document shows it (or is about to). */
export class OpenNote implements vscode.Disposable {
  private startText: string;
  private readonly remoteSince: TextOp[] = [];
  private readonly listener: { dispose(): void };
  binding: BoundDocument | undefined;

  constructor(
    readonly uri: vscode.Uri,
    readonly noteId: string,
    readonly session: NoteSession,
  ) {
    this.startText = session.text;
    this.listener = session.onRemoteOp((op) => {
      if (!this.binding) this.remoteSince.push(op);
    });
  }

  /** Text for readFile: the document's own text once bound, else the session's, from now on. */
  textForRead(): string {
    if (this.binding) return this.binding.documentText;
    this.startText = this.session.text;
    this.remoteSince.length = 0;
    return this.startText;
  }

  /** Hands the document's starting point to a new binding. */
  takeStart(): DocumentStart {
    const start = { text: this.startText, remoteSince: this.remoteSince.slice() };
    this.remoteSince.length = 0;
    return start;
  }

  dispose(): void {
    this.listener.dispose();
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
    const spaceId = this.connection?.spaceId ?? "none";
    return vscode.Uri.from({ scheme: SCHEME, path: notePath(spaceId, title) });
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
    const parsed = parseNotePath(uri.path);
    if (!parsed || parsed.kind !== "note") throw vscode.FileSystemError.FileNotFound(uri);
    if (!connection) throw vscode.FileSystemError.Unavailable("Join a space to open shared notes.");
    if (parsed.spaceId !== connection.spaceId) throw vscode.FileSystemError.NoPermissions("This note belongs to a space you have not joined.");
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
        log: (m) => this.log.warn(m),
      });
    } catch (err) {
      throw vscode.FileSystemError.Unavailable(`The note could not be opened: ${describeError(err)}`);
    }
    if (this.connection !== connection) {
      await session.close();
      throw vscode.FileSystemError.Unavailable("The space changed while the note was opening.");
    }
    const note = new OpenNote(uri, noteId, session);
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
