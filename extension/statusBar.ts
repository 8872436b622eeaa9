/**
 * One status bar item: connection state, edits the server has not confirmed, and how
 * many people are in the active note. Clicking it shows the details.
 */
import * as vscode from "vscode";
import type { ConnectionState } from "../client/types";
import type { DocumentBinding } from "./documentBinding";
import type { DocumentBindings } from "./documentBindings";
import type { NoteRegistry } from "./noteRegistry";

export interface StatusSnapshot {
  readonly joined: boolean;
  readonly connection: ConnectionState | undefined;
  readonly unconfirmed: number;
  readonly people: number;
  readonly text: string;
}

const ICONS: Record<ConnectionState, string> = {
  connected: "$(cloud)",
  reconnecting: "$(sync~spin)",
  offline: "$(cloud-offline)",
};

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("sharedNotes.status", vscode.StatusBarAlignment.Left, 50);
  private readonly subscriptions: vscode.Disposable[] = [];
  private bindingListeners: vscode.Disposable[] = [];
  private connectionListener: vscode.Disposable | undefined;
  private watched: DocumentBinding | undefined;
  private readonly changed = new vscode.EventEmitter<StatusSnapshot>();
  readonly onDidChange = this.changed.event;
  private last: StatusSnapshot = { joined: false, connection: undefined, unconfirmed: 0, people: 0, text: "" };

  constructor(
    private readonly registry: NoteRegistry,
    private readonly bindings: DocumentBindings,
  ) {
    this.item.name = "Shared Notes";
    this.item.command = "sharedNotes.showStatus";
    this.subscriptions.push(
      vscode.window.onDidChangeActiveTextEditor(() => this.follow()),
      bindings.onDidCreate(() => this.follow()),
      bindings.onDidRemove(() => this.follow()),
    );
    this.spaceChanged();
  }

  get snapshot(): StatusSnapshot {
    return this.last;
  }

  /** Call when the joined space changes. */
  spaceChanged(): void {
    this.connectionListener?.dispose();
    this.connectionListener = this.registry.space?.onConnection(() => this.render());
    this.follow();
  }

  /** Tracks the binding of the active editor (or of any open note when none is active). */
  private follow(): void {
    const binding = this.bindings.active() ?? this.bindings.all()[0];
    if (binding !== this.watched) {
      for (const d of this.bindingListeners) d.dispose();
      this.watched = binding;
      this.bindingListeners = binding
        ? [binding.session.onStatus(() => this.render()), binding.session.onCollaborators(() => this.render())]
        : [];
    }
    this.render();
  }

  private render(): void {
    const space = this.registry.space;
    if (!space) {
      this.item.hide();
      this.publish({ joined: false, connection: undefined, unconfirmed: 0, people: 0, text: "" });
      return;
    }
    const binding = this.watched;
    const connection = binding ? binding.session.status.connection : space.status.current;
    // Edits on their way. A note that can no longer be saved (deleted, key revoked) sends
    // nothing more: its unsaved text went to the user with the refusal, and it shows as
    // "not saved" rather than as edits still to be confirmed.
    const unconfirmed = this.bindings.all().reduce((n, b) => (b.session.status.stopped ? n : n + b.session.status.unconfirmed), 0);
    // Sending failed and waits to be retried (the edits are kept), or a note cannot be saved at all.
    const retrying = this.bindings.all().some((b) => b.session.status.retrying);
    const stopped = this.bindings.all().some((b) => b.session.status.stopped);
    const people = binding ? binding.session.collaborators.length + 1 : 0;
    const parts = [`${ICONS[connection]} ${connection === "connected" ? "Shared Notes" : connection}`];
    if (unconfirmed > 0) parts.push(`$(arrow-up) ${unconfirmed}`);
    if (retrying) parts.push("$(history) retrying");
    if (stopped) parts.push("$(error) not saved");
    if (binding) parts.push(`$(person) ${people}`);
    this.item.text = parts.join("  ");
    this.item.tooltip = describe(connection, unconfirmed, stopped, people, binding !== undefined);
    this.item.backgroundColor =
      connection === "offline" ? new vscode.ThemeColor("statusBarItem.warningBackground") : undefined;
    this.item.show();
    this.publish({ joined: true, connection, unconfirmed, people, text: this.item.text });
  }

  private publish(next: StatusSnapshot): void {
    const prev = this.last;
    this.last = next;
    if (
      prev.joined !== next.joined ||
      prev.connection !== next.connection ||
      prev.unconfirmed !== next.unconfirmed ||
      prev.people !== next.people
    ) {
      this.changed.fire(next);
    }
  }

  /** The details shown on click. */
  details(): string {
    const s = this.last;
    if (!s.joined) return "Shared Notes: no space joined.";
    const space = this.registry.space!;
    const stopped = this.bindings.all().some((b) => b.session.status.stopped);
    return `Shared Notes: ${describe(s.connection ?? "offline", s.unconfirmed, stopped, s.people, this.watched !== undefined)} Server ${space.joined.serverUrl}, space ${space.spaceId}.`;
  }

  dispose(): void {
    for (const d of this.bindingListeners) d.dispose();
    this.connectionListener?.dispose();
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
    this.item.dispose();
  }
}

function describe(connection: ConnectionState, unconfirmed: number, stopped: boolean, people: number, inNote: boolean): string {
  const state =
    connection === "connected"
      ? "Connected."
      : connection === "reconnecting"
        ? "Reconnecting…"
        : "Offline: your edits are kept and sent when the server is back.";
  const pending = unconfirmed === 0 ? "All edits confirmed." : `${unconfirmed} edit${unconfirmed === 1 ? "" : "s"} not confirmed yet.`;
  const refused = stopped ? " A note can no longer be saved: its unsaved text was shown to you to keep." : "";
  const who = inNote ? ` ${people} ${people === 1 ? "person" : "people"} in this note.` : "";
  return `${state} ${pending}${refused}${who}`;
}
