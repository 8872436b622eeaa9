/**
 * Serves earlier versions of notes as a read-only file system: VS Code then opens them as
 * ordinary tabs it will not let anyone edit (and says so), titled by the file name.
 */
import * as vscode from "vscode";
import { NoteHistory } from "../client/noteHistory";
import type { NoteRegistry } from "./noteRegistry";
import { HISTORY_SCHEME, parseVersion, versionPath, versionQuery, type VersionAddress } from "./historyUri";

const RECENT_VERSIONS = 16;

export class VersionContent implements vscode.FileSystemProvider, vscode.Disposable {
  private readonly registration: vscode.Disposable;
  private readonly never = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  /** A version never changes, so there is nothing to watch. */
  readonly onDidChangeFile = this.never.event;

  constructor(private readonly registry: NoteRegistry) {
    this.registration = vscode.workspace.registerFileSystemProvider(HISTORY_SCHEME, this, { isCaseSensitive: true, isReadonly: true });
  }

  static uri(a: VersionAddress): vscode.Uri {
    return vscode.Uri.from({ scheme: HISTORY_SCHEME, path: versionPath(a), query: versionQuery(a) });
  }

  /** Versions never change: the last few read are kept, so stat and readFile ask the server once. */
  private readonly recent = new Map<string, Promise<string>>();

  private text(uri: vscode.Uri): Promise<string> {
    const key = uri.toString();
    let text = this.recent.get(key);
    if (!text) {
      text = this.load(uri);
      this.recent.set(key, text);
      text.catch(() => this.recent.delete(key));
      for (const old of this.recent.keys()) {
        if (this.recent.size <= RECENT_VERSIONS) break;
        this.recent.delete(old);
      }
    }
    return text;
  }

  private async load(uri: vscode.Uri): Promise<string> {
    const address = parseVersion(uri.path, uri.query);
    if (!address) throw vscode.FileSystemError.FileNotFound(uri);
    const connection = this.registry.space;
    if (!connection || connection.spaceId !== address.spaceId) throw vscode.FileSystemError.Unavailable("Join the note's space to see its history.");
    const version = await new NoteHistory(connection.convex, connection.space.credentials, address.noteId).version(address.rev);
    if (version === null) throw vscode.FileSystemError.FileNotFound(`Revision ${address.rev} is no longer kept (its edits were compacted into a later snapshot).`);
    return version.text;
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    const size = Buffer.byteLength(await this.text(uri));
    return { type: vscode.FileType.File, ctime: 0, mtime: 0, size, permissions: vscode.FilePermission.Readonly };
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    return Buffer.from(await this.text(uri), "utf8");
  }

  watch(): vscode.Disposable {
    return { dispose: () => undefined };
  }

  readDirectory(): [string, vscode.FileType][] {
    return [];
  }

  createDirectory(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  writeFile(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  delete(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  rename(uri: vscode.Uri): void {
    throw vscode.FileSystemError.NoPermissions(uri);
  }

  dispose(): void {
    this.registration.dispose();
    this.never.dispose();
  }
}
