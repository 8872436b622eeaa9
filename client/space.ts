import type { ConvexClient } from "convex/browser";
import { api } from "../convex/_generated/api";
import type { Id } from "../convex/_generated/dataModel";
import type { Disposable } from "./events";
import { openNoteSession, type OpenOptions } from "./noteSession";
import type { NoteSession, NoteSummary, SpaceCredentials } from "./types";

/** Random bytes for a space key, made here because a server-side random is not secret. */
export function newSpaceKey(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString("base64url");
}

export async function createSpace(convex: ConvexClient): Promise<SpaceCredentials> {
  const key = newSpaceKey();
  const spaceId = await convex.mutation(api.spaces.create, { key });
  return { spaceId, key };
}

/** The notes of one space, addressed with its credentials. */
export class Space {
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

  async open(noteId: string, options: OpenOptions): Promise<NoteSession> {
    return await openNoteSession(this.convex, this.credentials, noteId, options);
  }
}

function summary(note: { noteId: string; title: string }): NoteSummary {
  return { noteId: note.noteId, title: note.title };
}
