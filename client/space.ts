import type { ConvexClient } from "convex/browser";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import { describeError } from "../sync/describeError";
import { Emitter, type Disposable } from "./events";
import { openNoteSession, type OpenOptions } from "./noteSession";
import { PendingEntry } from "./pendingEntry";
import type { NoteSession, NoteSummary, RejectedEdit, SpaceCredentials } from "./types";

/** Random bytes for a space key, made here because a server-side random is not secret. */
export function newSpaceKey(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64url");
}

/** Makes a space named `name` (checked by the server against sync/rules.ts). */
export async function createSpace(convex: ConvexClient, name?: string): Promise<SpaceCredentials> {
  const key = newSpaceKey();
  const spaceId = await convex.mutation(api.spaces.create, name === undefined ? { key } : { key, name });
  return { spaceId, key };
}

/** The notes of one space, addressed with its credentials. */
export class Space {
  private readonly orphanRejections = new Emitter<RejectedEdit>();
  /**
   * An edit a closed session left, refused for good when sent on its behalf (see
   * sendOrphans): no open editor shows it, so whoever shows the space must tell the user.
   */
  readonly onOrphanRejected = this.orphanRejections.event;

  constructor(
    readonly convex: ConvexClient,
    readonly credentials: SpaceCredentials,
  ) {}

  private get auth(): { spaceId: Id<"spaces">; key: string } {
    return { spaceId: this.credentials.spaceId as Id<"spaces">, key: this.credentials.key };
  }

  /** Throws the server's access error when the id or key is wrong. */
  async verify(): Promise<void> {
    await this.convex.query(api.spaces.verify, this.auth);
  }

  /** The space's name, as its creator chose it. */
  async name(): Promise<string> {
    return (await this.convex.query(api.spaces.describe, this.auth)).name;
  }

  async list(): Promise<NoteSummary[]> {
    const notes = await this.convex.query(api.notes.list, this.auth);
    return notes.map(summary);
  }

  /** Calls back with the note list now and whenever it changes. */
  onNotes(listener: (notes: NoteSummary[]) => void, onError?: (err: Error) => void): Disposable {
    const unsubscribe = this.convex.onUpdate(
      api.notes.list,
      this.auth,
      (notes) => listener(notes.map(summary)),
      onError,
    );
    return { dispose: () => unsubscribe() };
  }

  async create(title: string, text = ""): Promise<string> {
    return await this.convex.mutation(api.notes.create, { ...this.auth, title, text });
  }

  async rename(noteId: string, title: string): Promise<void> {
    await this.convex.mutation(api.notes.rename, { ...this.auth, noteId: noteId as Id<"notes">, title });
  }

  /** Deletes the note and its history; the server does it in bounded batches. */
  async remove(noteId: string): Promise<void> {
    for (;;) {
      const { done } = await this.convex.mutation(api.notes.remove, { ...this.auth, noteId: noteId as Id<"notes"> });
      if (done) return;
    }
  }

  async find(title: string): Promise<string | null> {
    return await this.convex.query(api.notes.find, { ...this.auth, title });
  }

  /**
   * A live session of the note. With a pending store, it takes over the unconfirmed edits
   * a closed session left (see pendingEntry.ts); any further ones left by other closed
   * sessions are sent in the background by sessions of their own.
   */
  async open(noteId: string, options: OpenOptions): Promise<NoteSession> {
    const session = await openNoteSession(this.convex, this.credentials, noteId, options);
    if (options.store) void this.sendOrphans(noteId, options);
    return session;
  }

  /**
   * Sends the edits that closed sessions left for the note, each through a session with
   * its own clientId that closes once the server has them all. Resolves with how many
   * entries were sent; one that cannot be sent yet stays in the store for the next try.
   */
  async sendOrphans(noteId: string, options: OpenOptions): Promise<number> {
    const store = options.store;
    if (!store) return 0;
    const note = `${this.credentials.spaceId}/${noteId}`;
    const entries: PendingEntry[] = [];
    for (let e = PendingEntry.adoptOrphan(store, note, options.log); e; e = PendingEntry.adoptOrphan(store, note, options.log)) {
      entries.push(e);
    }
    const sent = await Promise.all(
      entries.map(async (pending) => {
        try {
          const session = await openNoteSession(this.convex, this.credentials, noteId, { ...options, presence: false, pending });
          session.onRejected((edit) => this.orphanRejections.fire(edit));
          await session.flush();
          await session.close();
          return 1;
        } catch (err) {
          options.log?.(`Unconfirmed edits left for note ${note} could not be sent yet: ${describeError(err)}`);
          return 0;
        }
      }),
    );
    return sent.reduce<number>((a, b) => a + b, 0);
  }
}

function summary(note: { noteId: string; title: string }): NoteSummary {
  return { noteId: note.noteId, title: note.title };
}
