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
  /** Resolves once every local edit so far is confirmed by the server. */
  flush(): Promise<void>;
  /** Leaves presence and stops syncing. Unconfirmed edits stay in the pending store. */
  close(): Promise<void>;
}
