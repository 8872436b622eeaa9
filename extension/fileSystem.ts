/**
 * The `sharednotes:` file system: `sharednotes://<spaceId>/` holds the joined space's
 * folder, named as the space is, and that folder its notes as `<title>.md` files. Content comes from the note's live session; the binding does the
 * syncing, so writes (saves) are accepted without resending anything.
 */
import * as vscode from "vscode";
import { replacementOp } from "../sync/diff";
import { toWire } from "../sync/editorText";
import { describeError, type Log } from "./log";
import { isWebJoin, WEB_JOIN_TEXT } from "./webJoin";
import type { NoteRegistry } from "./noteRegistry";
import { NOTE_EXTENSION, SCHEME, inSpace, noteUriParts, parseNoteUri, type NotePath } from "./noteUri";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class SharedNotesFileSystem implements vscode.FileSystemProvider, vscode.Disposable {
  private readonly changes = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.changes.event;
  /**
   * Modification times only move when VS Code saves. Remote edits reach documents through
   * the binding, never as file changes, so VS Code never reloads a note under the user.
   */
  private readonly mtimes = new Map<string, number>();
  private readonly created = Date.now();
  private knownNotes = new Map<string, string>();
  /**
   * The joined space is restored asynchronously at startup, while VS Code may already
   * be reading a note tab it restores. Every call waits for that first, so such a tab
   * gets the note's text instead of an error shown as an empty file.
   */
  private restored: Promise<void> = Promise.resolve();
  private webJoin: ((uri: vscode.Uri) => void) | undefined;

  constructor(
    private readonly registry: NoteRegistry,
    private readonly log: Log,
  ) {}

  whenRestored(restoring: Promise<void>): void {
    this.restored = restoring;
  }

  /** Join requests from a browser VS Code (webJoin.ts) go to `handler`. */
  onWebJoin(handler: (uri: vscode.Uri) => void): void {
    this.webJoin = handler;
  }

  /** Called with each new note list, to report notes that disappeared or appeared. */
  notesChanged(space: { readonly spaceId: string; readonly name: string }, notes: readonly { noteId: string; title: string }[]): void {
    const next = new Map(notes.map((n) => [n.noteId, n.title] as const));
    const events: vscode.FileChangeEvent[] = [];
    const uriOf = (title: string) => vscode.Uri.from({ scheme: SCHEME, ...noteUriParts(space, title) });
    for (const [id, title] of this.knownNotes) {
      if (next.get(id) !== title) events.push({ type: vscode.FileChangeType.Deleted, uri: uriOf(title) });
    }
    for (const [id, title] of next) {
      if (this.knownNotes.get(id) !== title) events.push({ type: vscode.FileChangeType.Created, uri: uriOf(title) });
    }
    this.knownNotes = next;
    if (events.length > 0) this.changes.fire(events);
  }

  watch(): vscode.Disposable {
    // Changes are reported for every note anyway; there is nothing to start per watcher.
    return new vscode.Disposable(() => undefined);
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    if (isWebJoin(uri)) {
      this.webJoin?.(uri);
      return { type: vscode.FileType.File, ctime: this.created, mtime: this.created, size: encoder.encode(WEB_JOIN_TEXT).byteLength, permissions: vscode.FilePermission.Readonly };
    }
    await this.restored;
    const parsed = parseNoteUri(uri);
    if (!parsed) throw vscode.FileSystemError.FileNotFound(uri);
    const dir: vscode.FileStat = { type: vscode.FileType.Directory, ctime: this.created, mtime: this.created, size: 0 };
    if (parsed.kind === "root") return dir;
    this.requireSpace(parsed);
    if (parsed.kind === "space") return dir;
    const open = this.registry.get(uri);
    if (!open) {
      const noteId = await this.find(parsed.title);
      if (!noteId) throw vscode.FileSystemError.FileNotFound(uri);
    }
    const size = open ? encoder.encode(open.session.text).byteLength : 0;
    return { type: vscode.FileType.File, ctime: this.created, mtime: this.mtimeOf(uri), size };
  }

  async readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    await this.restored;
    const parsed = parseNoteUri(uri);
    if (!parsed || parsed.kind === "note") throw vscode.FileSystemError.FileNotADirectory(uri);
    if (parsed.kind === "root") return [];
    const connection = this.requireSpace(parsed);
    if (parsed.spaceName === undefined) return [[connection.name, vscode.FileType.Directory]];
    const notes = await connection.notesReady();
    return notes.map((n) => [`${n.title}${NOTE_EXTENSION}`, vscode.FileType.File]);
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    if (isWebJoin(uri)) return encoder.encode(WEB_JOIN_TEXT);
    await this.restored;
    const note = await this.registry.open(uri);
    return encoder.encode(note.textForRead());
  }

  async writeFile(uri: vscode.Uri, content: Uint8Array, options: { create: boolean; overwrite: boolean }): Promise<void> {
    await this.restored;
    const parsed = parseNoteUri(uri);
    if (!parsed || parsed.kind !== "note") throw vscode.FileSystemError.NoPermissions("Only notes (<title>.md) can be written here.");
    const space = this.requireSpace(parsed);
    if (this.registry.get(uri)) {
      // A save of a bound document: its edits already went to the server as they were made.
      this.touch(uri);
      return;
    }
    const existing = await this.find(parsed.title);
    if (existing) {
      if (!options.overwrite) throw vscode.FileSystemError.FileExists(uri);
      // Writing a whole file into a note nobody has open: replace its text.
      const note = await this.registry.open(uri);
      const text = toWire(decoder.decode(content));
      const op = replacementOp(note.session.text, text);
      note.session.applyLocal(op);
      await note.session.flush();
      if (!note.bound) await this.registry.close(uri);
    } else {
      if (!options.create) throw vscode.FileSystemError.FileNotFound(uri);
      try {
        await space.space.create(parsed.title, toWire(decoder.decode(content)));
      } catch (err) {
        throw vscode.FileSystemError.Unavailable(`The note could not be created: ${describeError(err)}`);
      }
    }
    this.touch(uri);
  }

  async delete(uri: vscode.Uri): Promise<void> {
    await this.restored;
    const parsed = parseNoteUri(uri);
    if (!parsed || parsed.kind !== "note") throw vscode.FileSystemError.NoPermissions("Only notes can be deleted.");
    const space = this.requireSpace(parsed);
    const noteId = this.registry.get(uri)?.noteId ?? (await this.find(parsed.title));
    if (!noteId) throw vscode.FileSystemError.FileNotFound(uri);
    try {
      await space.space.remove(noteId);
    } catch (err) {
      throw vscode.FileSystemError.Unavailable(`The note could not be deleted: ${describeError(err)}`);
    }
    this.changes.fire([{ type: vscode.FileChangeType.Deleted, uri }]);
  }

  async rename(oldUri: vscode.Uri, newUri: vscode.Uri, options: { overwrite: boolean }): Promise<void> {
    await this.restored;
    const from = parseNoteUri(oldUri);
    const to = parseNoteUri(newUri);
    if (!from || from.kind !== "note" || !to || to.kind !== "note" || from.spaceId !== to.spaceId || from.spaceName !== to.spaceName) {
      throw vscode.FileSystemError.NoPermissions("Notes can only be renamed within their space.");
    }
    const space = this.requireSpace(from);
    const noteId = this.registry.get(oldUri)?.noteId ?? (await this.find(from.title));
    if (!noteId) throw vscode.FileSystemError.FileNotFound(oldUri);
    if (!options.overwrite && (await this.find(to.title))) throw vscode.FileSystemError.FileExists(newUri);
    try {
      await space.space.rename(noteId, to.title);
    } catch (err) {
      throw vscode.FileSystemError.Unavailable(`The note could not be renamed: ${describeError(err)}`);
    }
    this.changes.fire([
      { type: vscode.FileChangeType.Deleted, uri: oldUri },
      { type: vscode.FileChangeType.Created, uri: newUri },
    ]);
  }

  createDirectory(): void {
    throw vscode.FileSystemError.NoPermissions("Shared notes have no folders.");
  }

  private requireSpace(parsed: Exclude<NotePath, { kind: "root" }>) {
    const space = this.registry.space;
    if (!space) throw vscode.FileSystemError.Unavailable("Join a space to use shared notes.");
    if (!inSpace(parsed, space)) throw vscode.FileSystemError.NoPermissions("This is not the space you have joined.");
    return space;
  }

  private async find(title: string): Promise<string | undefined> {
    const space = this.registry.space;
    if (!space) return undefined;
    try {
      return await space.findNote(title);
    } catch (err) {
      this.log.warn(`Looking up "${title}" failed: ${describeError(err)}`);
      throw vscode.FileSystemError.Unavailable("The server could not be reached.");
    }
  }

  private mtimeOf(uri: vscode.Uri): number {
    return this.mtimes.get(uri.toString()) ?? this.created;
  }

  private touch(uri: vscode.Uri): void {
    const key = uri.toString();
    this.mtimes.set(key, Math.max(Date.now(), this.mtimeOf(uri) + 1));
  }

  dispose(): void {
    this.changes.dispose();
  }
}
