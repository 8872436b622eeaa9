import type { SpaceCredentials } from "./types";

/** The extension's id, which VS Code uses to route `vscode://` links to it. */
export const EXTENSION_ID = "shared-notes.shared-notes";

export interface JoinInfo extends SpaceCredentials {
  readonly serverUrl: string;
}

/** A link that opens VS Code and joins the space (the key travels in the link: share it privately). */
export function joinLink(info: JoinInfo): string {
  const query = new URLSearchParams({ server: info.serverUrl, space: info.spaceId, key: info.key });
  return `vscode://${EXTENSION_ID}/join?${query.toString()}`;
}

/** Reads a join link (or just its query string). Throws with a sentence when parts are missing. */
export function parseJoinLink(link: string): JoinInfo {
  const queryStart = link.indexOf("?");
  const query = new URLSearchParams(queryStart >= 0 ? link.slice(queryStart + 1) : link);
  const serverUrl = query.get("server");
  const spaceId = query.get("space");
  const key = query.get("key");
  if (!serverUrl || !spaceId || !key) {
    throw new Error("This join link is incomplete: it needs server, space and key.");
  }
  return { serverUrl, spaceId, key };
}
