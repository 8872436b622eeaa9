/**
 * Who else is in a note and where their cursors are, mapped to our local text.
 *
 * Selections travel in the coordinates of a server revision: we publish ours mapped back
 * through our unconfirmed edits to the revision we hold, and map each teammate's forward
 * from their revision through the revisions we have seen since, then through our own
 * unconfirmed edits. A teammate ahead of us waits until we reach their revision.
 */
import type { ConvexClient } from "convex/browser";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import type { PresenceEntry } from "../convex/schema";
import type { SyncClient } from "../sync/syncClient";
import { compose, invert, transformPosition, type Selection, type TextOp } from "../sync/textOp";
import { Emitter } from "./events";
import type { Collaborator, UserInfo } from "./types";

/** How often an idle client says it is still here; the server drops entries silent for longer. */
export const HEARTBEAT_MS = 5000;
/** Revisions kept to map teammates' selections that lag behind ours. */
const HISTORY = 500;

export class PresenceTracker {
  private readonly changed = new Emitter<readonly Collaborator[]>();
  readonly onChange = this.changed.event;
  private entries: readonly PresenceEntry[] = [];
  private current: readonly Collaborator[] = [];
  private readonly history: { rev: number; op: TextOp }[] = [];
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

  /** A revision reached our text (someone's edit or the confirmation of ours). */
  revisionApplied(rev: number, op: TextOp): void {
    this.history.push({ rev, op });
    if (this.history.length > HISTORY) this.history.shift();
    this.recompute();
  }

  /** Our unconfirmed edits changed, so mapped positions did too. */
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
    const toServer = unconfirmedInverse(sync);
    const selections = this.mine.map((s) => ({
      anchor: transformPosition(s.anchor, toServer, "before"),
      head: transformPosition(s.head, toServer, "before"),
    }));
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
    const unconfirmed = unconfirmedOp(sync);
    const next: Collaborator[] = [];
    for (const entry of this.entries) {
      if (entry.clientId === this.clientId) continue;
      const ops = this.opsSince(entry.rev, sync.rev);
      // Ahead of us or too far behind: keep what we showed until we can map it again.
      if (ops === undefined) {
        const shown = this.current.find((c) => c.clientId === entry.clientId);
        if (shown) next.push(shown);
        continue;
      }
      const map = (pos: number): number => {
        let p = pos;
        for (const op of ops) p = transformPosition(p, op);
        return unconfirmed ? transformPosition(p, unconfirmed) : p;
      };
      next.push({
        clientId: entry.clientId,
        name: entry.name,
        color: entry.color,
        selections: entry.selections.map((s) => ({ anchor: map(s.anchor), head: map(s.head) })),
      });
    }
    this.current = next;
    this.changed.fire(next);
  }

  /** The ops from revision `from` up to `to`, or undefined if we cannot map that span. */
  private opsSince(from: number, to: number): TextOp[] | undefined {
    if (from === to) return [];
    if (from > to) return undefined;
    const first = this.history.findIndex((h) => h.rev === from + 1);
    if (first < 0) return undefined;
    return this.history.slice(first).filter((h) => h.rev <= to).map((h) => h.op);
  }
}

/** Our unconfirmed edits as one op from the server's text to ours, if there are any. */
function unconfirmedOp(sync: SyncClient): TextOp | undefined {
  const pending = sync.pendingOps;
  if (pending.length === 0) return undefined;
  return pending.reduce((a, b) => compose(a, b));
}

/** The op from our text back to the server's text at our revision. */
function unconfirmedInverse(sync: SyncClient): TextOp {
  const op = unconfirmedOp(sync);
  return op ? invert(op, sync.serverText) : [sync.text.length];
}
