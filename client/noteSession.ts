/**
 * One open note kept in step with the server over a ConvexClient.
 *
 * Data flows one way: a local edit becomes an op in the sync engine, which decides when
 * it goes to `ops:submit`; every revision (ours included, as the confirmation) comes back
 * through the `ops:since` subscription, whose lower bound moves with each batch so every
 * update stays small. Nothing here waits for the network before changing the text:
 * while the link is down, edits apply locally, queue in the engine, are written to the
 * pending store, and go out when the Convex client reconnects (it resends unconfirmed
 * mutations itself; the server dedupes them by (clientId, seq)).
 */
import type { ConvexClient } from "convex/browser";
import { ConvexError } from "convex/values";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { SINCE_BATCH } from "../convex/limits";
import { describeError } from "../sync/describeError";
import { SyncClient, type Submission } from "../sync/syncClient";
import { FOLLOW_LIMIT, lagging, nextWindowStart } from "../sync/followWindow";
import { classifyFailure, SyncDriver, type Failure, type LogPage, type SyncEvents, type SyncTransport } from "../sync/syncDriver";
import type { TextOp, Selection } from "../sync/textOp";
import { ConnectionStatus } from "./connectionStatus";
import { Emitter } from "./events";
import { PendingEntry } from "./pendingEntry";
import type { PendingStore } from "./pendingStore";
import { PresenceTracker } from "./presence";
import type { Collaborator, NoteSession, RejectedEdit, SessionStatus, SpaceCredentials, TextReplaced, UserInfo } from "./types";

export interface OpenOptions {
  readonly user: UserInfo;
  /** Keeps unconfirmed edits across restarts; without one they live only in memory. */
  readonly store?: PendingStore;
  /** An entry of `store` already taken (Space uses it to send edits orphaned by closed sessions). */
  readonly pending?: PendingEntry;
  /** Publish and follow presence (the CLI turns it off). Default true. */
  readonly presence?: boolean;
  /** Where the session reports what it repaired or could not do. Default: nowhere. */
  readonly log?: (message: string) => void;
}

export async function openNoteSession(
  convex: ConvexClient,
  space: SpaceCredentials,
  noteId: string,
  options: OpenOptions,
): Promise<NoteSession> {
  const auth = { spaceId: space.spaceId as Id<"spaces">, key: space.key, noteId: noteId as Id<"notes"> };
  const storeKey = `${space.spaceId}/${noteId}`;
  // Each session has its own entry (and clientId); it may adopt one a closed session left.
  const entry = options.pending ?? (options.store ? PendingEntry.open(options.store, storeKey, options.log) : undefined);
  const restored = restorePending(options, storeKey, entry);
  let sync: SyncClient;
  try {
    if (restored) {
      sync = restored;
      // The key must still be right before we resend.
      await convex.query(api.spaces.verify, { spaceId: auth.spaceId, key: auth.key });
    } else {
      const opened = await convex.query(api.notes.open, auth);
      sync = new SyncClient({ clientId: newClientId(), rev: opened.rev, text: opened.text });
    }
  } catch (err) {
    entry?.release();
    throw err;
  }
  return new LiveNoteSession(convex, auth, entry, sync, options);
}

/** The edits a previous session left unconfirmed, if the entry has readable ones. */
function restorePending(options: OpenOptions, storeKey: string, entry: PendingEntry | undefined): SyncClient | undefined {
  const stored = entry?.restored;
  if (stored === undefined) return undefined;
  try {
    return SyncClient.restore(JSON.parse(stored));
  } catch (err) {
    // Unreadable saved state cannot be sent anyway; opening the note must not fail over it.
    options.log?.(`Unconfirmed edits saved for ${storeKey} could not be read and are dropped: ${describeError(err)}`);
    return undefined;
  }
}

function newClientId(): string {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64url");
}

class LiveNoteSession implements NoteSession {
  readonly noteId: string;
  private readonly remoteOps = new Emitter<TextOp>();
  private readonly statusChanges = new Emitter<SessionStatus>();
  private readonly rejections = new Emitter<RejectedEdit>();
  private readonly replacements = new Emitter<TextReplaced>();
  private readonly connection: ConnectionStatus;
  private readonly presence: PresenceTracker | undefined;
  private readonly driver: SyncDriver;
  private unsubscribe: (() => void) | undefined;
  /** Where the `ops:since` subscription starts (-1 before the first). */
  private windowStart = -1;
  /** A new window was asked for and has not answered yet. */
  private moving = false;
  private closed = false;

  readonly onRemoteOp = this.remoteOps.event;
  readonly onStatus = this.statusChanges.event;
  readonly onRejected = this.rejections.event;
  readonly onReplaced = this.replacements.event;
  readonly onCollaborators;

  constructor(
    private readonly convex: ConvexClient,
    private readonly auth: { spaceId: Id<"spaces">; key: string; noteId: Id<"notes"> },
    private readonly entry: PendingEntry | undefined,
    private readonly sync: SyncClient,
    private readonly options: OpenOptions,
  ) {
    this.noteId = auth.noteId;
    this.connection = new ConnectionStatus(convex);
    this.connection.onChange(() => this.publishStatus());
    this.presence =
      options.presence === false
        ? undefined
        : new PresenceTracker(convex, auth, sync.clientId, options.user, () => this.sync, options.log);
    this.onCollaborators = (this.presence?.onChange ?? new Emitter<readonly Collaborator[]>().event);
    this.driver = new SyncDriver(sync, this.transport(), this.driverEvents());
    // Restored edits were never confirmed: send those in flight again (the server dedupes).
    this.driver.start();
    // Writes the entry under this session's clientId (or clears an unreadable one it adopted).
    this.persist();
    this.subscribe();
  }

  get clientId(): string {
    return this.sync.clientId;
  }

  get text(): string {
    return this.sync.text;
  }

  get status(): SessionStatus {
    return {
      connection: this.connection.current,
      unconfirmed: this.sync.pendingCount,
      retrying: this.driver.retrying,
      stopped: this.driver.isStopped,
    };
  }

  get collaborators(): readonly Collaborator[] {
    return this.presence?.collaborators ?? [];
  }

  applyLocal(op: TextOp): void {
    if (this.closed) throw new Error("this note session is closed");
    if (this.driver.isStopped) throw new Error("this note can no longer be saved: it was deleted or the space's key no longer opens it");
    this.driver.local(op);
    this.presence?.textChanged();
  }

  setSelections(selections: readonly Selection[]): void {
    this.presence?.setSelections(selections);
  }

  async flush(): Promise<void> {
    const settled = (s: SessionStatus): boolean => s.unconfirmed === 0 || s.stopped;
    if (!settled(this.status)) {
      await new Promise<void>((resolve) => {
        const listener = this.onStatus((s) => {
          if (settled(s)) {
            listener.dispose();
            resolve();
          }
        });
      });
    }
    if (this.status.stopped) throw new Error(`note ${this.noteId} can no longer be saved; its unsaved text was handed to onRejected`);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.driver.stop();
    this.entry?.release();
    this.unsubscribe?.();
    this.connection.dispose();
    await this.presence?.dispose();
    this.remoteOps.dispose();
    this.statusChanges.dispose();
    this.rejections.dispose();
    this.replacements.dispose();
  }

  /**
   * Follows the ops after the revision we have, in windows that move every few revisions
   * (`sync/followWindow.ts`: each push carries about the new ops, and caught-up clients share
   * one window). A page cut short by its size limit moves the window too, so the rest
   * follows in the next update.
   */
  private subscribe(page?: LogPage): void {
    if (this.closed || this.driver.isStopped) return;
    // One move at a time: on a slow link the old window pushes many times while the new one
    // is on its way, and a move for each push kept a round trip's worth of windows open.
    if (this.moving) return;
    const start = nextWindowStart(this.windowStart, this.sync.rev, page);
    if (start === undefined) return;
    this.windowStart = start;
    this.moving = true;
    // The old subscription keeps delivering until the new one has its first result: on a
    // slow link the swap would otherwise leave a round trip with no updates at all.
    let previous = this.unsubscribe;
    let waiting = true;
    const answered = (): void => {
      if (!waiting) return;
      waiting = false;
      previous?.();
      previous = undefined;
      this.moving = false;
    };
    const unsubscribe = this.convex.onUpdate(
      api.ops.since,
      // A client that lags takes whole batches until it has caught up (followWindow.ts).
      { ...this.auth, afterRev: start, limit: lagging(page) ? SINCE_BATCH : FOLLOW_LIMIT },
      (result) => {
        answered();
        if (this.closed) return;
        this.driver.receive(result);
        this.subscribe(result);
      },
      (err) => {
        answered();
        this.log(`following the note's edits failed: ${describeError(err)}`);
        const failure = this.failure(err);
        if (failure.kind === "gone") void this.driver.recover("the note's edits could not be followed");
      },
    );
    this.unsubscribe = () => {
      answered();
      unsubscribe();
    };
  }

  /** The driver's wire: ConvexClient calls, and what their errors mean. */
  private transport(): SyncTransport {
    const auth = this.auth;
    const author = this.options.user.name;
    return {
      submit: (s: Submission) => this.convex.mutation(api.ops.submit, { ...auth, ...s, author }),
      page: (afterRev) => this.convex.query(api.ops.since, { ...auth, afterRev }),
      open: () => this.convex.query(api.notes.open, auth),
      failure: (err) => this.failure(err),
      wait: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      now: () => performance.now(),
      newClientId,
    };
  }

  private failure(err: unknown): Failure {
    const data = err instanceof ConvexError ? (err.data as { code?: unknown }) : undefined;
    return classifyFailure(typeof data?.code === "string" ? data.code : undefined, describeError(err));
  }

  private driverEvents(): SyncEvents {
    return {
      remote: (op) => {
        if (this.closed) return;
        this.remoteOps.fire(op);
        this.presence?.textChanged();
      },
      rejected: (edit) => {
        this.rejections.fire({ noteId: this.noteId, ...edit, wholeNote: false });
      },
      replaced: (reason) => {
        this.replacements.fire({ noteId: this.noteId, reason });
      },
      gone: (failure, text) => {
        const code = failure.kind === "gone" ? failure.code : "NOT_FOUND";
        this.rejections.fire({ noteId: this.noteId, text, code, message: failure.message, wholeNote: true });
        this.unsubscribe?.();
        this.persist();
        this.publishStatus();
      },
      changed: () => {
        this.persist();
        this.publishStatus();
      },
      log: (message) => this.log(message),
    };
  }

  private persist(): void {
    if (!this.entry) return;
    // A note that is gone keeps nothing to resend: its text went to onRejected.
    const pending = this.sync.pendingCount > 0 && !this.driver.isStopped;
    this.entry.save(this.sync.clientId, pending ? JSON.stringify(this.sync.snapshot()) : undefined);
  }

  private publishStatus(): void {
    if (!this.closed) this.statusChanges.fire(this.status);
  }

  private log(message: string): void {
    this.options.log?.(`Note ${this.noteId}: ${message}`);
  }
}
