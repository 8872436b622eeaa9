/** What the client library offers to the extension, the CLI and tests. */
import type { Selection, TextOp } from "../sync/textOp";
import type { Event } from "./events";

export interface SpaceCredentials {
  readonly spaceId: string;
  readonly key: string;
}

export interface UserInfo {
  readonly name: string;
  /** A CSS colour, e.g. "#e06c75". */
  readonly color: string;
}

export type ConnectionState = "connected" | "reconnecting" | "offline";

export interface SessionStatus {
  readonly connection: ConnectionState;
  /** Local edits the server has not confirmed yet. */
  readonly unconfirmed: number;
  /** Sending failed and is being retried with backoff (the edits are kept meanwhile). */
  readonly retrying: boolean;
  /** The note can no longer be saved (deleted, or the space's key no longer opens it). */
  readonly stopped: boolean;
}

/**
 * Text the server refused for good (the edit can never apply: too large, malformed, or the
 * note is gone). It is no longer in the session's text; show it to the user with a way to
 * keep it (e.g. open it in an untitled editor).
 */
export interface RejectedEdit {
  readonly noteId: string;
  /** What the user typed that the note will not have (may be empty for a pure deletion). */
  readonly text: string;
  /** The server's error code (INVALID_OP, TOO_LARGE, NOT_FOUND, ACCESS_DENIED). */
  readonly code: string;
  /** The server's sentence, to show as is. */
  readonly message: string;
  /** True when nothing of this note can be saved any more; `text` is then the whole local text. */
  readonly wholeNote: boolean;
}

/** The session took the server's whole text (its copy failed a checksum, or the ops it missed were compacted). */
export interface TextReplaced {
  readonly noteId: string;
  readonly reason: string;
}

/** A teammate in the same note, with selections already mapped to the local text. */
export interface Collaborator {
  readonly clientId: string;
  readonly name: string;
  readonly color: string;
  readonly selections: readonly Selection[];
}

export interface NoteSummary {
  readonly noteId: string;
  readonly title: string;
}

/** One open note, kept in step with the server. */
export interface NoteSession {
  readonly noteId: string;
  readonly clientId: string;
  /** The local text: the server's text plus local edits not yet confirmed. */
  readonly text: string;
  readonly status: SessionStatus;
  readonly collaborators: readonly Collaborator[];
  /**
   * Applies a local edit (an op against `text`) at once and queues it for the server.
   * Never waits for the network.
   */
  applyLocal(op: TextOp): void;
  /** Publishes this user's selections (positions in `text`). */
  setSelections(selections: readonly Selection[]): void;
  /** A remote edit, already applied to `text`; the op is against the text just before it. */
  readonly onRemoteOp: Event<TextOp>;
  readonly onCollaborators: Event<readonly Collaborator[]>;
  readonly onStatus: Event<SessionStatus>;
  /** An edit the server refused for good: tell the user and offer to keep the text. */
  readonly onRejected: Event<RejectedEdit>;
  /** The whole text was replaced by the server's (tell the user; rare). */
  readonly onReplaced: Event<TextReplaced>;
  /** Resolves once every local edit so far is confirmed by the server. */
  flush(): Promise<void>;
  /** Leaves presence and stops syncing. Unconfirmed edits stay in the pending store. */
  close(): Promise<void>;
}
