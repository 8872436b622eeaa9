/**
 * Where this VS Code keeps edits the server has not confirmed: one file per session in the
 * extension's global storage (client/pendingStore.ts), which every window's extension host
 * shares and where a rename is atomic, so two windows never take the same session's edits.
 */
import { join } from "node:path";
import type * as vscode from "vscode";
import { FilePendingStore, type PendingStore } from "../client/pendingStore";
import type { Log } from "./log";

/** Where earlier versions kept pending edits: in globalState, which has no atomic move. */
const LEGACY_PREFIX = "sharedNotes.pending:";

export function openPendingStore(context: vscode.ExtensionContext, log: Log): PendingStore {
  const store = new FilePendingStore(join(context.globalStorageUri.fsPath, "pending"));
  for (const key of context.globalState.keys()) {
    if (!key.startsWith(LEGACY_PREFIX)) continue;
    const value = context.globalState.get<string>(key);
    // Saved first, cleared after: a crash between the two leaves a copy, never nothing.
    if (value !== undefined) store.save(key.slice(LEGACY_PREFIX.length), value);
    void context.globalState.update(key, undefined);
    log.info(`Moved unconfirmed edits kept by an earlier version (${key.slice(LEGACY_PREFIX.length)}) to the pending store.`);
  }
  return store;
}
