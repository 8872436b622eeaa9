/**
 * Shared Notes: notes a team edits together, live, as ordinary editor tabs.
 * `activate` only wires the features; each is a disposable module with one job.
 */
import * as vscode from "vscode";
import { CollaboratorsView, type CollaboratorItem } from "./collaboratorsView";
import { CollaboratorDecorations } from "./decorations";
import { DocumentBindings } from "./documentBindings";
import { SharedNotesFileSystem } from "./fileSystem";
import { Follow } from "./follow";
import { NoteHistoryFeature } from "./history";
import { Log } from "./log";
import { NoteRegistry } from "./noteRegistry";
import { SCHEME } from "./noteUri";
import { NotesView } from "./notesView";
import { openPendingStore } from "./pendingEdits";
import { SaveOnConfirm } from "./saveOnConfirm";
import { currentUser, onSettingsChanged } from "./settings";
import { SpaceStore } from "./spaceStore";
import { Spaces } from "./spaces";
import { StatusBar } from "./statusBar";
import { OwnUndo } from "./undo";
import { JoinLinkHandler } from "./uriHandler";
import { WebJoin } from "./webJoin";

/** What activate() returns: the extension's parts, for its integration suites. */
export interface SharedNotesApi {
  readonly spaces: Spaces;
  readonly registry: NoteRegistry;
  readonly bindings: DocumentBindings;
  readonly notesView: NotesView;
  readonly statusBar: StatusBar;
  readonly decorations: CollaboratorDecorations;
  readonly undo: OwnUndo;
  readonly follow: Follow;
  /** Resolves once the stored (or environment-given) space is joined or found absent. */
  readonly history: NoteHistoryFeature;
  readonly ready: Promise<void>;
}

/** The open notes of this window, for deactivate. */
let openNotes: NoteRegistry | undefined;

/** How long closing the window waits for the notes to leave presence (a dead link must not hold it). */
const LEAVE_WAIT_MS = 2000;

export function activate(context: vscode.ExtensionContext): SharedNotesApi {
  const log = new Log();
  const spaces = new Spaces(new SpaceStore(context), log);
  const registry = new NoteRegistry(openPendingStore(context, log), currentUser, log);
  openNotes = registry;
  const fileSystem = new SharedNotesFileSystem(registry, log);
  const bindings = new DocumentBindings(registry, log);
  const notesView = new NotesView(registry, log);
  const statusBar = new StatusBar(registry, bindings);
  const decorations = new CollaboratorDecorations(bindings);
  const undo = new OwnUndo(bindings);
  const follow = new Follow(bindings);
  const collaborators = new CollaboratorsView(bindings, follow);
  const saver = new SaveOnConfirm(bindings, log);
  const history = new NoteHistoryFeature(registry, bindings, log);
  let notesListener: vscode.Disposable | undefined;
  const joinLinks = new JoinLinkHandler((space) => spaces.join(space));
  const webJoin = new WebJoin(joinLinks);
  fileSystem.onWebJoin((uri) => webJoin.request(uri));

  context.subscriptions.push(
    log,
    spaces,
    registry,
    vscode.workspace.registerFileSystemProvider(SCHEME, fileSystem, { isCaseSensitive: true }),
    fileSystem,
    bindings,
    notesView,
    statusBar,
    decorations,
    undo,
    follow,
    collaborators,
    saver,
    history,
    vscode.window.registerUriHandler(joinLinks),
    vscode.commands.registerCommand("sharedNotes.showStatus", () => {
      void vscode.window.showInformationMessage(statusBar.details(), "Show Log").then((a) => a && log.show());
    }),
    vscode.commands.registerCommand("sharedNotes.follow", (item?: CollaboratorItem | string) => {
      const clientId = typeof item === "string" ? item : item?.collaborator.clientId;
      return clientId ? follow.start(clientId) : false;
    }),
    vscode.commands.registerCommand("sharedNotes.stopFollowing", () => follow.stop()),
    spaces.onDidChange((connection) => {
      registry.setConnection(connection);
      notesView.spaceChanged(connection);
      statusBar.spaceChanged();
      notesListener?.dispose();
      notesListener = connection?.onNotes((notes) => fileSystem.notesChanged(connection, notes));
    }),
    onSettingsChanged((e) => {
      if (e.affectsConfiguration("sharedNotes.serverUrl")) {
        log.info("The server setting changed; it applies to the next space you create or join.");
      }
    }),
    { dispose: () => notesListener?.dispose() },
  );

  const ready = spaces.restore().catch((err: unknown) => log.error("Restoring the space failed", err));
  fileSystem.whenRestored(ready);
  return { spaces, registry, bindings, notesView, statusBar, decorations, undo, follow, history, ready };
}

/**
 * Closes every note before VS Code disposes the rest, so teammates see us leave at once
 * instead of when our heartbeat times out. Bounded: with the server unreachable the
 * window still closes (presence then expires on its own).
 */
export async function deactivate(): Promise<void> {
  const registry = openNotes;
  openNotes = undefined;
  if (!registry) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([registry.closeAll(), new Promise<void>((resolve) => (timer = setTimeout(resolve, LEAVE_WAIT_MS)))]);
  clearTimeout(timer);
}
