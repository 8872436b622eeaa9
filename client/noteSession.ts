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
import type { SinceOp, SinceResult } from "../convex/schema";
import { SyncClient, type Submission } from "../sync/syncClient";
import type { TextOp, Selection } from "../sync/textOp";
import { ConnectionStatus } from "./connectionStatus";
import { Emitter } from "./events";
import { PendingEntry } from "./pendingEntry";
import type { PendingStore } from "./pendingStore";
import { PresenceTracker } from "./presence";
import type { Collaborator, NoteSession, SessionStatus, SpaceCredentials, UserInfo } from "./types";

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

/**
 * How far the subscription's lower bound trails before it moves (see `subscribe`). Each
 * move briefly holds two subscriptions; with 64 that stays rare while an update carries
 * a few dozen small ops at most (bench:clients measured 32 to be too eager at 50 clients
 * and 128 to make updates needlessly large).
 */
const SUBSCRIPTION_STEP = 64;

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
    options.log?.(`Unconfirmed edits saved for ${storeKey} could not be read and are dropped: ${err instanceof Error ? err.message : String(err)}`);
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
  private readonly connection: ConnectionStatus;
  private readonly presence: PresenceTracker | undefined;
  private unsubscribe: (() => void) | undefined;
  private subscribedAfter = -1;
  /** How many local edits each submission in flight carries (oldest first), and how many wait in the buffer. */
  private editsInFlight: number[] = [];
  private editsWaiting = 0;
  private closed = false;
  private reloading = false;

  readonly onRemoteOp = this.remoteOps.event;
  readonly onStatus = this.statusChanges.event;
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
        : new PresenceTracker(convex, auth, sync.clientId, options.user, () => this.sync);
    this.onCollaborators = (this.presence?.onChange ?? new Emitter<readonly Collaborator[]>().event);
    // Restored edits were never confirmed: count them and send those in flight again.
    const resend = sync.resend();
    this.editsInFlight = resend.map(() => 1);
    this.editsWaiting = sync.pendingCount - resend.length;
    for (const submission of resend) this.send(submission);
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
    const inFlight = this.editsInFlight.reduce((a, b) => a + b, 0);
    return { connection: this.connection.current, unconfirmed: inFlight + this.editsWaiting };
  }

  get collaborators(): readonly Collaborator[] {
    return this.presence?.collaborators ?? [];
  }

  applyLocal(op: TextOp): void {
    if (this.closed) throw new Error("this note session is closed");
    const submission = this.sync.applyLocal(op);
    if (submission) {
      this.editsInFlight.push(1);
      this.send(submission);
    } else {
      this.editsWaiting += 1;
    }
    this.persist();
    this.presence?.textChanged();
    this.publishStatus();
  }

  setSelections(selections: readonly Selection[]): void {
    this.presence?.setSelections(selections);
  }

  async flush(): Promise<void> {
    if (this.status.unconfirmed === 0) return;
    await new Promise<void>((resolve) => {
      const listener = this.onStatus((s) => {
        if (s.unconfirmed === 0) {
          listener.dispose();
          resolve();
        }
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.entry?.release();
    this.unsubscribe?.();
    this.connection.dispose();
    await this.presence?.dispose();
    this.remoteOps.dispose();
    this.statusChanges.dispose();
  }

  /**
   * Follows the ops after a window start at or below our revision. The start moves in
   * steps of SUBSCRIPTION_STEP rather than with every revision: every session of a note
   * then asks the very same query, which the server runs once per commit for all of them,
   * while each update still carries at most a few dozen small ops.
   */
  private subscribe(): void {
    const start = this.sync.rev - (this.sync.rev % SUBSCRIPTION_STEP);
    if (this.closed || this.subscribedAfter === start) return;
    // The old subscription keeps delivering until the new one has its first result: on a
    // slow link the swap would otherwise leave a round trip with no updates at all.
    let previous = this.unsubscribe;
    const release = (): void => {
      previous?.();
      previous = undefined;
    };
    this.subscribedAfter = start;
    const unsubscribe = this.convex.onUpdate(
      api.ops.since,
      { ...this.auth, afterRev: start },
      (result) => {
        release();
        this.receive(result);
      },
      (err) => this.fail("following the note's edits failed", err),
    );
    this.unsubscribe = () => {
      release();
      unsubscribe();
    };
  }

  private receive(result: SinceResult): void {
    if (this.closed) return;
    if (result.kind === "reload") {
      void this.reload("it fell too far behind the server");
      return;
    }
    for (const op of result.ops) {
      if (!this.receiveOne(op)) return;
    }
    this.subscribe();
  }

  /** Feeds one revision to the engine; false when the session had to reload instead. */
  private receiveOne(op: SinceOp): boolean {
    const outcome = this.sync.receive(op);
    switch (outcome.kind) {
      case "duplicate":
        return true;
      case "remote":
        this.remoteOps.fire(outcome.op);
        this.presence?.textChanged();
        return true;
      case "confirmed":
        this.presence?.textChanged();
        this.editsInFlight.shift();
        if (outcome.next) {
          this.editsInFlight.push(this.editsWaiting);
          this.editsWaiting = 0;
          this.send(outcome.next);
        }
        this.persist();
        this.publishStatus();
        return true;
      case "diverged":
        void this.reload(`it diverged from the server: ${outcome.reason}`);
        return false;
      case "gap":
        void this.reload(`revision ${op.rev} arrived before revision ${this.sync.rev + 1}`);
        return false;
      default: {
        const never: never = outcome;
        throw new Error(`unexpected sync outcome ${JSON.stringify(never)}`);
      }
    }
  }

  private send(submission: Submission): void {
    this.convex
      .mutation(api.ops.submit, { ...this.auth, ...submission })
      .then((result) => {
        if (result.kind === "stale") void this.reload("its edits were based on a revision the server no longer keeps");
      })
      .catch((err: unknown) => {
        // The server refused the op itself (the network it waits out and retries), so
        // this edit can never apply: drop it and take the server's text.
        this.fail("the server refused an edit", err);
        void this.reload("the server refused an edit");
      });
  }

  /**
   * Takes the server's text and revision and keeps local edits on top of it. Logged,
   * never silent: it means the link was down for long, an edit was refused, or our copy
   * diverged.
   */
  private async reload(reason: string): Promise<void> {
    if (this.reloading || this.closed) return;
    this.reloading = true;
    try {
      this.options.log?.(`Reloading note ${this.noteId} because ${reason}.`);
      // Learn which of our ops in flight the server has before reading its text: resending
      // is idempotent, and afterwards the text surely includes each one that was applied.
      // An op the server refuses can never apply: it counts as settled, and the reload
      // takes it out of our text.
      let settled = 0;
      for (const submission of this.sync.resend()) {
        const outcome = await this.convex.mutation(api.ops.submit, { ...this.auth, ...submission }).then(
          (result) => result.kind,
          (err: unknown) => {
            this.fail(`the server refused edit ${submission.seq}; it is dropped`, err);
            return "refused" as const;
          },
        );
        if (outcome === "stale") break;
        settled += 1;
        if (outcome === "refused") break;
      }
      const opened = await this.convex.query(api.notes.open, this.auth);
      if (this.closed) return;
      const correction = this.sync.resync(opened.text, opened.rev, settled);
      // The settled submissions' edits are in; the rest now travel as one rebased op.
      const unconfirmed = this.editsInFlight.slice(settled).reduce((a, b) => a + b, this.editsWaiting);
      const resend = this.sync.resend();
      this.editsInFlight = resend.map((_, i) => (i === 0 ? unconfirmed : 0));
      this.editsWaiting = 0;
      this.persist();
      this.remoteOps.fire(correction);
      this.presence?.textChanged();
      this.publishStatus();
      this.subscribedAfter = -1;
      this.subscribe();
      for (const submission of resend) this.send(submission);
    } catch (err) {
      this.fail("reloading the note failed", err);
    } finally {
      this.reloading = false;
    }
  }

  private persist(): void {
    if (!this.entry) return;
    const pending = this.sync.pendingCount > 0;
    this.entry.save(this.sync.clientId, pending ? JSON.stringify(this.sync.snapshot()) : undefined);
  }

  private publishStatus(): void {
    if (!this.closed) this.statusChanges.fire(this.status);
  }

  private fail(what: string, err: unknown): void {
    const detail = err instanceof ConvexError ? JSON.stringify(err.data) : err instanceof Error ? err.message : String(err);
    this.options.log?.(`Note ${this.noteId}: ${what}: ${detail}`);
  }
}
