import type { ConvexClient } from "convex/browser";
import * as vscode from "vscode";
import { connect } from "../client/connect";
import { ConnectionStatus } from "../client/connectionStatus";
import { Space } from "../client/space";
import type { ConnectionState, NoteSummary } from "../client/types";
import { DEFAULT_SPACE_NAME } from "../sync/rules";
import { describeError, type Log } from "./log";
import { showRejected } from "./rejections";
import type { JoinedSpace } from "./spaceStore";

/** The joined space: one Convex connection, the live note list and the connection state. */
export class SpaceConnection implements vscode.Disposable {
  readonly convex: ConvexClient;
  readonly space: Space;
  readonly status: ConnectionStatus;
  private notesList: readonly NoteSummary[] | undefined;
  private serverName: string | undefined;
  private readonly notesChanged = new vscode.EventEmitter<readonly NoteSummary[]>();
  readonly onNotes = this.notesChanged.event;
  private readonly firstList: Promise<void>;
  private readonly subscription: { dispose(): void };
  private readonly statusListener: { dispose(): void };
  private readonly orphanListener: { dispose(): void };
  private readonly stateChanged = new vscode.EventEmitter<ConnectionState>();
  readonly onConnection = this.stateChanged.event;

  constructor(
    readonly joined: JoinedSpace,
    private readonly log: Log,
  ) {
    this.convex = connect(joined.serverUrl, (line) => log.info(`server connection: ${line}`));
    this.space = new Space(this.convex, { spaceId: joined.spaceId, key: joined.key });
    this.status = new ConnectionStatus(this.convex);
    this.statusListener = this.status.onChange((s) => {
      this.log.info(`Connection to ${joined.serverUrl}: ${s}.`);
      this.stateChanged.fire(s);
    });
    let listed: () => void = () => undefined;
    this.firstList = new Promise((resolve) => (listed = resolve));
    // Edits a closed window left behind are sent by a background session; a refusal of
    // those has no editor to show it, so the user is told here.
    this.orphanListener = this.space.onOrphanRejected((edit) => showRejected(this.titleOf(edit.noteId) ?? "a note", edit, log));
    this.subscription = this.space.onNotes(
      (notes) => {
        // The first list, and each change of its size: says whether a view left empty had one.
        if (this.notesList?.length !== notes.length) this.log.info(`Space ${joined.spaceId} lists ${notes.length} note(s).`);
        this.notesList = notes;
        listed();
        this.notesChanged.fire(notes);
      },
      (err) => this.log.error("Listing the space's notes failed", describeError(err)),
    );
  }

  get spaceId(): string {
    return this.joined.spaceId;
  }

  /** The space's name, as people see it in the notes view, in tabs and in join links. */
  get name(): string {
    return this.serverName ?? this.joined.name ?? DEFAULT_SPACE_NAME;
  }

  /** The name the server gave while joining, before anything uses the connection. */
  named(name: string): void {
    this.serverName = name;
  }

  get notes(): readonly NoteSummary[] {
    return this.notesList ?? [];
  }

  /** Whether the server has sent the note list yet (until then `notes` is empty for want of it). */
  get listed(): boolean {
    return this.notesList !== undefined;
  }

  /** The note list once the server has sent it (or after `timeoutMs`, whatever we have). */
  async notesReady(timeoutMs = 10_000): Promise<readonly NoteSummary[]> {
    if (this.notesList) return this.notesList;
    await Promise.race([this.firstList, new Promise((r) => setTimeout(r, timeoutMs))]);
    return this.notes;
  }

  /** The note with this title, asking the server when the live list has not caught up yet. */
  async findNote(title: string): Promise<string | undefined> {
    const listed = (await this.notesReady()).find((n) => n.title === title);
    if (listed) return listed.noteId;
    return (await this.space.find(title)) ?? undefined;
  }

  titleOf(noteId: string): string | undefined {
    return this.notes.find((n) => n.noteId === noteId)?.title;
  }

  dispose(): void {
    this.subscription.dispose();
    this.orphanListener.dispose();
    this.statusListener.dispose();
    this.status.dispose();
    this.notesChanged.dispose();
    this.stateChanged.dispose();
    void this.convex.close().catch(() => undefined);
  }
}
