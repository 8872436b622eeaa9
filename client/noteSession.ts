/**
 * One open note kept in step with the server over a ConvexClient.
 *
 * Data flows one way: a local edit becomes an op in the sync engine, which decides when
 * it goes to `ops:submit`; every revision (ours included, as the confirmation) comes back
 * through `ops:range` subscriptions to small blocks of the log, watched ahead of the
 * revision we have (sync/followBlocks.ts), so every update stays small. Nothing here
 * waits for the network before changing the text: while the link is down, edits apply
 * locally, queue in the engine, are written to the pending store, and go out when the
 * Convex client reconnects (it resends unconfirmed mutations itself; the server dedupes
 * them by (clientId, seq)).
 */
import type { ConvexClient } from "convex/browser";
import { ConvexError } from "convex/values";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { describeError } from "../sync/describeError";
import { SyncClient, type Submission } from "../sync/syncClient";
import { BlockFollow, blockKey, type BlockPage } from "../sync/followBlocks";
import { classifyFailure, SyncDriver, type Failure, type SyncEvents, type SyncTransport } from "../sync/syncDriver";
import { insertedText, type TextOp, type Selection } from "../sync/textOp";
import { ConnectionStatus, OFFLINE_AFTER_MS } from "./connectionStatus";
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
  /**
   * Where the session reports what it repaired or could not do, and ("info") what only
   * explains a pause: its socket lost and back. Default: nowhere.
   */
  readonly log?: (message: string, level?: "info") => void;
  /**
   * Where the session notes each op it sends and receives, with the text it inserts (the
   * extension's trace level; bench:e2e times keys by it). Called with the line unbuilt, so
   * a log that is not tracing costs nothing per keystroke. Default: nowhere.
   */
  readonly trace?: (message: () => string) => void;
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
  private readonly follow = new BlockFollow();
  /** Unsubscribes, by the watched block (a split block and its first piece start alike). */
  private readonly watching = new Map<string, () => void>();
  /** A delivery is queued (deliverSoon). */
  private deliverDue = false;
  /** The first error a watched block reported since the last delivery. */
  private followError: Error | undefined;
  /** The revision the watch was last planned for. */
  private plannedRev = -1;
  /** When the socket was lost (performance.now()), while it is. */
  private lostAt: number | undefined;
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
    this.connection.onChange((state) => {
      if (state === "connected") this.reconnected();
      else this.disconnected(state);
      this.publishStatus();
    });
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
    this.watch();
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
    this.unwatch();
    this.connection.dispose();
    await this.presence?.dispose();
    this.remoteOps.dispose();
    this.statusChanges.dispose();
    this.rejections.dispose();
    this.replacements.dispose();
  }

  /** Back online, maybe over another path: the link's round trip is measured afresh. */
  private reconnected(): void {
    if (this.lostAt !== undefined) this.log(`reconnected after ${Math.round(performance.now() - this.lostAt)} ms without the server`, "info");
    this.lostAt = undefined;
    this.driver.reconnected();
    this.follow.reconnected();
  }

  /** Said in the log: nothing else tells why edits stopped arriving for a while. */
  private disconnected(state: "reconnecting" | "offline"): void {
    if (state === "reconnecting") {
      this.lostAt = performance.now();
      this.log("lost the connection to the server; the Convex client is reconnecting", "info");
    } else {
      this.log(`still without the server after ${OFFLINE_AFTER_MS} ms: shown as offline`, "info");
    }
  }

  /** Watches the blocks of the op log that `follow` plans for our revision (sync/followBlocks.ts). */
  private watch(): void {
    if (this.closed || this.driver.isStopped) return;
    this.plannedRev = this.sync.rev;
    const { watch, drop } = this.follow.plan(this.sync.rev, performance.now());
    for (const block of drop) {
      this.watching.get(blockKey(block))?.();
      this.watching.delete(blockKey(block));
    }
    for (const block of watch) {
      const onAnswer = (page: BlockPage): void => {
        const roundTrip = this.follow.answered(block, page, performance.now());
        if (roundTrip !== undefined) this.driver.linkTime(roundTrip);
        this.deliverSoon();
      };
      const onError = (err: Error): void => {
        this.followError ??= err;
        this.deliverSoon();
      };
      this.watching.set(blockKey(block), this.convex.onUpdate(api.ops.range, { ...this.auth, ...block }, onAnswer, onError));
    }
  }

  private unwatch(): void {
    for (const unsubscribe of this.watching.values()) unsubscribe();
    this.watching.clear();
  }

  /**
   * Feeds the driver once all of a transition's answers are in: the client calls each
   * block's callback in turn, and a later block's op must not reach the driver before an
   * earlier block's. Then moves the watch on.
   */
  private deliverSoon(): void {
    if (this.deliverDue) return;
    this.deliverDue = true;
    queueMicrotask(() => {
      this.deliverDue = false;
      if (this.closed) return;
      const err = this.followError;
      this.followError = undefined;
      if (err !== undefined) {
        this.log(`following the note's edits failed: ${describeError(err)}`);
        // A block that failed does not answer, and the ops after it would wait for it: the
        // recovery catches up page by page (and stops the session if the note is gone).
        void this.driver.recover("the note's edits could not be followed");
      }
      const page = this.follow.page(this.sync.rev);
      if (page) this.driver.receive(page);
      this.watch();
    });
  }

  /** The driver's wire: ConvexClient calls, and what their errors mean. */
  private transport(): SyncTransport {
    const auth = this.auth;
    const author = this.options.user.name;
    return {
      submit: (s: Submission) => {
        this.trace("sent", s.op);
        return this.convex.mutation(api.ops.submit, { ...auth, ...s, author });
      },
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
        this.trace("received", op);
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
        this.unwatch();
        this.persist();
        this.publishStatus();
      },
      changed: () => {
        this.persist();
        this.publishStatus();
        // A recovery may have moved our revision past the blocks watched (a local edit does not).
        if (this.sync.rev !== this.plannedRev) this.deliverSoon();
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

  private log(message: string, level?: "info"): void {
    this.options.log?.(`Note ${this.noteId}: ${message}`, level);
  }

  private trace(what: string, op: TextOp): void {
    this.options.trace?.(() => `Note ${this.noteId}: ${what} ${JSON.stringify(insertedText(op))}`);
  }
}
