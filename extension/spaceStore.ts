import * as vscode from "vscode";
import type { SpaceCredentials } from "../client/types";

/** The space this VS Code has joined: its id and name in global state, its key in SecretStorage. */
export interface JoinedSpace extends SpaceCredentials {
  readonly serverUrl: string;
  /** The space's name as the server gave it when joining (a join link's is only a hint). */
  readonly name?: string;
}

const CURRENT = "sharedNotes.currentSpace";

interface StoredCurrent {
  readonly serverUrl: string;
  readonly spaceId: string;
  readonly name?: string;
}

const secretName = (serverUrl: string, spaceId: string): string => `sharedNotes.spaceKey:${serverUrl}:${spaceId}`;

export class SpaceStore {
  constructor(private readonly context: vscode.ExtensionContext) {}

  async load(): Promise<JoinedSpace | undefined> {
    const current = this.context.globalState.get<StoredCurrent>(CURRENT);
    if (!current) return undefined;
    const key = await this.context.secrets.get(secretName(current.serverUrl, current.spaceId));
    if (!key) return undefined;
    return { serverUrl: current.serverUrl, spaceId: current.spaceId, key, ...(current.name ? { name: current.name } : {}) };
  }

  async save(space: JoinedSpace): Promise<void> {
    await this.context.secrets.store(secretName(space.serverUrl, space.spaceId), space.key);
    const current: StoredCurrent = { serverUrl: space.serverUrl, spaceId: space.spaceId, ...(space.name ? { name: space.name } : {}) };
    await this.context.globalState.update(CURRENT, current);
  }

  /** Forgets which space is current; the key stays so re-joining from a link is not needed. */
  async clearCurrent(): Promise<void> {
    await this.context.globalState.update(CURRENT, undefined);
  }
}
