/** Serves earlier versions of notes as read-only documents (a TextDocumentContentProvider is read-only by nature). */
import * as vscode from "vscode";
import { NoteHistory } from "../client/noteHistory";
import type { NoteRegistry } from "./noteRegistry";
import { HISTORY_SCHEME, parseVersion, versionPath, versionQuery, type VersionAddress } from "./historyUri";

export class VersionContent implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly registration: vscode.Disposable;

  constructor(private readonly registry: NoteRegistry) {
    this.registration = vscode.workspace.registerTextDocumentContentProvider(HISTORY_SCHEME, this);
  }

  static uri(a: VersionAddress): vscode.Uri {
    return vscode.Uri.from({ scheme: HISTORY_SCHEME, path: versionPath(a), query: versionQuery(a) });
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const address = parseVersion(uri.path, uri.query);
    if (!address) throw new Error(`${uri.toString()} names no version of a note`);
    const connection = this.registry.space;
    if (!connection || connection.spaceId !== address.spaceId) throw new Error("Join the note's space to see its history.");
    const version = await new NoteHistory(connection.convex, connection.space.credentials, address.noteId).version(address.rev);
    if (version === null) throw new Error(`Revision ${address.rev} is no longer kept (its edits were compacted into a later snapshot).`);
    return version.text;
  }

  dispose(): void {
    this.registration.dispose();
  }
}
