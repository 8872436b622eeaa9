/**
 * A note's history as the CLI and the extension read it: editing sessions page by page,
 * the text at a revision or a time, and who wrote each range of the current text. A thin
 * typed layer over the history:* queries (convex/history.ts).
 */
import type { ConvexClient } from "convex/browser";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import type { SessionPageResult, Version } from "../convex/history";
import { Authorship } from "../sync/historyAuthorship";
import type { Disposable } from "./events";
import type { SpaceCredentials } from "./types";

export type { SessionPageResult, Version };

export class NoteHistory {
  constructor(
    private readonly convex: ConvexClient,
    private readonly credentials: SpaceCredentials,
    readonly noteId: string,
  ) {}

  private get args(): { spaceId: string; key: string; noteId: Id<"notes"> } {
    return { spaceId: this.credentials.spaceId, key: this.credentials.key, noteId: this.noteId as Id<"notes"> };
  }

  /** A page of editing sessions, newest first; pass the last page's `nextBeforeRev` for the next. */
  async sessions(beforeRev?: number, limit?: number): Promise<SessionPageResult> {
    return await this.convex.query(api.history.sessions, {
      ...this.args,
      ...(beforeRev === undefined ? {} : { beforeRev }),
      ...(limit === undefined ? {} : { limit }),
    });
  }

  /** The text at revision `rev`, or null when that revision is no longer kept. */
  async version(rev: number): Promise<Version | null> {
    return await this.convex.query(api.history.version, { ...this.args, rev });
  }

  /** The latest revision at or before `at` (ms since the epoch); null before the note existed. */
  async revisionAt(at: number): Promise<{ rev: number; at: number } | null> {
    return await this.convex.query(api.history.revisionAt, { ...this.args, at });
  }

  /** Who last wrote each range of the note's text at revision `rev` (the latest). */
  async authorship(): Promise<{ rev: number; authorship: Authorship }> {
    const got = await this.convex.query(api.history.authorship, this.args);
    return { rev: got.rev, authorship: Authorship.decode(got) };
  }

  /** Calls back with the note's latest revision now and whenever it moves (a small subscription). */
  onHead(listener: (rev: number) => void, onError?: (err: Error) => void): Disposable {
    const unsubscribe = this.convex.onUpdate(api.history.head, this.args, listener, onError);
    return { dispose: () => unsubscribe() };
  }
}
