/**
 * Who else is in a note and where their cursors are, mapped to our local text.
 *
 * Selections travel in the coordinates of a server revision (the sync engine maps ours
 * back through our unconfirmed edits, and teammates' forward to our text). A teammate
 * whose revision we cannot map yet keeps the place we last showed.
 *
 * What we send is kept to what teammates would see change: selection updates go out at
 * most every PRESENCE_UPDATE_MS (the latest wins, and the last one of a move always goes
 * out), never when our caret only moved because teammates' text arrived, and heartbeats go
 * to a table no teammate's list reads (see convex/presence.ts).
 */
import type { ConvexClient } from "convex/browser";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { PRESENCE_HEARTBEAT_MS } from "../convex/limits";
import type { PresenceEntry } from "../convex/schema";
import type { SyncClient } from "../sync/syncClient";
import type { Selection } from "../sync/textOp";
import { Emitter } from "./events";
import type { Collaborator, UserInfo } from "./types";

/** How often an idle client says it is still here; the server removes clients silent for 2.5 times as long. */
export const HEARTBEAT_MS = PRESENCE_HEARTBEAT_MS;

/** Least time between two selection updates: at most 10 a second per client. */
export const PRESENCE_UPDATE_MS = 100;

/**
 * How long closing waits for the server to confirm we left. The Convex client holds a
 * mutation until its link is back, so an unbounded wait would keep a window that closes
 * offline from ever finishing; the note's sweep removes a client that went silent anyway.
 */
export const LEAVE_WAIT_MS = 2000;

/** Selections in the server's text at `rev`: what the server shows of us, or where we carried a teammate's. */
interface RevSelections {
  readonly rev: number;
  readonly selections: readonly Selection[];
}

function sameSelections(a: readonly Selection[], b: readonly Selection[]): boolean {
  return a.length === b.length && a.every((s, i) => s.anchor === b[i]!.anchor && s.head === b[i]!.head);
}

export class PresenceTracker {
  private readonly changed = new Emitter<readonly Collaborator[]>();
  readonly onChange = this.changed.event;
  private entries: readonly PresenceEntry[] = [];
  private current: readonly Collaborator[] = [];
  private mine: readonly Selection[] = [];
  /** What the server has (or will have, once the update in flight lands); undefined: nothing yet. */
  private published: RevSelections | undefined;
  /**
   * Each teammate's entry as listed, and its selections carried forward to the last revision
   * we placed them at. Mapping from there needs only recent revisions, so an unmoved caret
   * stays placed however old its entry gets: nobody has to re-send it while others type.
   */
  private carried = new Map<string, { readonly listed: RevSelections } & RevSelections>();
  /** An update is wanted; it goes out when the one in flight is done and PRESENCE_UPDATE_MS has passed. */
  private wanted = false;
  /** ...and must go out even if teammates already see our selections where they are (in an older revision). */
  private refresh = false;
  private sending = false;
  private lastSentAt = -Infinity;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private beating = false;
  private readonly heartbeat: ReturnType<typeof setInterval>;
  private readonly unsubscribe: () => void;
  private disposed = false;

  constructor(
    private readonly convex: ConvexClient,
    private readonly auth: { spaceId: Id<"spaces">; key: string; noteId: Id<"notes"> },
    private readonly clientId: string,
    private readonly user: UserInfo,
    private readonly sync: () => SyncClient,
    private readonly log: (message: string) => void = () => {},
  ) {
    let first = true;
    this.unsubscribe = convex.onUpdate(api.presence.list, auth, (entries) => {
      const joined = !first && entries.some((e) => e.clientId !== clientId && !this.entries.some((o) => o.clientId === e.clientId));
      first = false;
      this.entries = entries;
      this.recompute();
      // A newcomer has no revisions older than its copy of the note: give it ours in a rev it can map.
      if (joined && this.published !== undefined && this.published.rev < this.sync().rev) this.request(true);
    }, (err) => {
      // A deleted note (or a revoked key) ends presence with it; the session says so to the user.
      this.log(`Presence in note ${this.auth.noteId} stopped: ${err.message}`);
      clearInterval(this.heartbeat);
    });
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref?.();
    this.request();
  }

  get collaborators(): readonly Collaborator[] {
    return this.current;
  }

  setSelections(selections: readonly Selection[]): void {
    this.mine = selections;
    this.request();
  }

  /** Our text changed (a revision arrived or we typed), so mapped positions did too. */
  textChanged(): void {
    this.recompute();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    clearInterval(this.heartbeat);
    clearTimeout(this.timer);
    this.unsubscribe();
    this.changed.dispose();
    const left = this.convex.mutation(api.presence.leave, { ...this.auth, clientId: this.clientId }).then(
      () => true,
      (e: unknown) => {
        // Leaving is a courtesy: the note's sweep removes a silent client anyway.
        this.log(`Leaving presence in note ${this.auth.noteId} failed (the server will time it out): ${String(e)}`);
        return true;
      },
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waited = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), LEAVE_WAIT_MS)));
    const confirmed = await Promise.race([left, waited]);
    clearTimeout(timer);
    if (!confirmed) {
      this.log(`Leaving presence in note ${this.auth.noteId} was not confirmed within ${LEAVE_WAIT_MS} ms (is the link down?); it is sent when the link returns, and the server times us out otherwise.`);
    }
  }

  /**
   * True when what teammates see of us already matches our selections: the published ones,
   * mapped through the revisions since, land exactly where ours are. That is the case when
   * our caret moved only because teammates' text arrived before it.
   */
  private shownAsIs(sync: SyncClient): boolean {
    const published = this.published;
    if (published === undefined) return false;
    const mapped = published.selections.map((s) => sync.selectionFromOthers({ rev: published.rev, ...s }));
    return mapped.every((s): s is Selection => s !== undefined) && sameSelections(mapped, this.mine);
  }

  private request(refresh = false): void {
    this.wanted = true;
    this.refresh ||= refresh;
    this.pump();
  }

  /** One update in flight at a time, at most one per PRESENCE_UPDATE_MS; it carries the latest selections. */
  private pump(): void {
    if (this.disposed || this.sending || !this.wanted) return;
    const wait = this.lastSentAt + PRESENCE_UPDATE_MS - Date.now();
    if (wait > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, wait);
      return;
    }
    this.wanted = false;
    const refresh = this.refresh;
    this.refresh = false;
    const sync = this.sync();
    if (!refresh && this.shownAsIs(sync)) return;
    const rev = sync.rev;
    const selections = this.mine.map((sel) => {
      const { anchor, head } = sync.selectionForOthers(sel);
      return { anchor, head };
    });
    const published = this.published;
    if (published !== undefined && published.rev === rev && sameSelections(published.selections, selections)) return;
    this.published = { rev, selections };
    this.sending = true;
    this.lastSentAt = Date.now();
    this.convex
      .mutation(api.presence.update, {
        ...this.auth,
        clientId: this.clientId,
        name: this.user.name,
        color: this.user.color,
        rev,
        selections,
      })
      .catch((e: unknown) => {
        // Not shown to teammates: the next move or heartbeat publishes again.
        this.published = undefined;
        this.log(`Publishing presence in note ${this.auth.noteId} failed: ${String(e)}`);
      })
      .finally(() => {
        this.sending = false;
        this.pump();
      });
  }

  /** Says we are still here; if the server had dropped us (we were silent too long), publishes us again. */
  private beat(): void {
    if (this.disposed || this.beating) return;
    this.beating = true;
    this.convex
      .mutation(api.presence.heartbeat, { ...this.auth, clientId: this.clientId })
      .then((present) => {
        if (present || this.disposed) return;
        this.published = undefined;
        this.request(true);
      })
      .catch((e: unknown) => this.log(`Presence heartbeat in note ${this.auth.noteId} failed: ${String(e)}`))
      .finally(() => {
        this.beating = false;
      });
  }

  private recompute(): void {
    if (this.disposed) return;
    const sync = this.sync();
    const next: Collaborator[] = [];
    const carried = new Map<string, { readonly listed: RevSelections } & RevSelections>();
    for (const entry of this.entries) {
      if (entry.clientId === this.clientId) continue;
      const before = this.carried.get(entry.clientId);
      const from = before !== undefined && before.listed.rev === entry.rev && sameSelections(before.listed.selections, entry.selections) ? before : { listed: entry, rev: entry.rev, selections: entry.selections };
      const mapped = from.selections.map((s) => sync.selectionFromOthers({ rev: from.rev, anchor: s.anchor, head: s.head }));
      if (mapped.every((s): s is Selection => s !== undefined)) {
        next.push({ clientId: entry.clientId, name: entry.name, color: entry.color, selections: mapped });
        const forward = mapped.map((s) => sync.selectionForOthers(s));
        carried.set(entry.clientId, { listed: from.listed, rev: sync.rev, selections: forward.map(({ anchor, head }) => ({ anchor, head })) });
        continue;
      }
      if (before !== undefined) carried.set(entry.clientId, before);
      const shown = this.current.find((c) => c.clientId === entry.clientId);
      if (shown) next.push(shown);
    }
    this.carried = carried;
    this.current = next;
    this.changed.fire(next);
  }
}
