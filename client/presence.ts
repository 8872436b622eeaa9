/**
 * Who else is in a note and where their cursors are, mapped to our local text.
 *
 * Selections travel in the coordinates of a server revision (the sync engine maps ours
 * back through our unconfirmed edits, and teammates' forward to our text). A teammate
 * whose revision we cannot map yet keeps the place we last showed.
 */
import type { ConvexClient } from "convex/browser";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import type { PresenceEntry } from "../convex/schema";
import type { SyncClient } from "../sync/syncClient";
import type { Selection } from "../sync/textOp";
import { Emitter } from "./events";
import type { Collaborator, UserInfo } from "./types";

/** How often an idle client says it is still here; the server drops entries silent for longer. */
export const HEARTBEAT_MS = 5000;

export class PresenceTracker {
  private readonly changed = new Emitter<readonly Collaborator[]>();
  readonly onChange = this.changed.event;
  private entries: readonly PresenceEntry[] = [];
  private current: readonly Collaborator[] = [];
  private mine: readonly Selection[] = [];
  private publishing = false;
  private republish = false;
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly unsubscribe: () => void;
  private disposed = false;

  constructor(
    private readonly convex: ConvexClient,
    private readonly auth: { spaceId: Id<"spaces">; key: string; noteId: Id<"notes"> },
    private readonly clientId: string,
    private readonly user: UserInfo,
    private readonly sync: () => SyncClient,
  ) {
    this.unsubscribe = convex.onUpdate(api.presence.list, auth, (entries) => {
      this.entries = entries;
      this.recompute();
    });
    this.heartbeat = setInterval(() => this.publish(), HEARTBEAT_MS);
    this.heartbeat.unref?.();
    this.publish();
  }

  get collaborators(): readonly Collaborator[] {
    return this.current;
  }

  setSelections(selections: readonly Selection[]): void {
    this.mine = selections;
    this.publish();
  }

  /** Our text changed (a revision arrived or we typed), so mapped positions did too. */
  textChanged(): void {
    this.recompute();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.heartbeat);
    this.unsubscribe();
    this.changed.dispose();
    try {
      await this.convex.mutation(api.presence.leave, { ...this.auth, clientId: this.clientId });
    } catch {
      // Leaving is a courtesy: a silent entry expires on the server anyway.
    }
  }

  /** One update in flight at a time; the latest selection wins when several pile up. */
  private publish(): void {
    if (this.disposed) return;
    if (this.publishing) {
      this.republish = true;
      return;
    }
    this.publishing = true;
    const sync = this.sync();
    const forOthers = this.mine.map((sel) => sync.selectionForOthers(sel));
    const selections = forOthers.map(({ anchor, head }) => ({ anchor, head }));
    this.convex
      .mutation(api.presence.update, {
        ...this.auth,
        clientId: this.clientId,
        name: this.user.name,
        color: this.user.color,
        rev: sync.rev,
        selections,
      })
      .catch(() => {
        // Presence is best effort; the next heartbeat tries again.
      })
      .finally(() => {
        this.publishing = false;
        if (this.republish) {
          this.republish = false;
          this.publish();
        }
      });
  }

  private recompute(): void {
    if (this.disposed) return;
    const sync = this.sync();
    const next: Collaborator[] = [];
    for (const entry of this.entries) {
      if (entry.clientId === this.clientId) continue;
      const mapped = entry.selections.map((s) => sync.selectionFromOthers({ rev: entry.rev, anchor: s.anchor, head: s.head }));
      if (mapped.every((s): s is Selection => s !== undefined)) {
        next.push({ clientId: entry.clientId, name: entry.name, color: entry.color, selections: mapped });
        continue;
      }
      const shown = this.current.find((c) => c.clientId === entry.clientId);
      if (shown) next.push(shown);
    }
    this.current = next;
    this.changed.fire(next);
  }
}
