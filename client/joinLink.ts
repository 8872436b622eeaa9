import type { SpaceCredentials } from "./types";

/** The extension's id, which VS Code uses to route `vscode://` links to it. */
export const EXTENSION_ID = "shared-notes.shared-notes";

export interface JoinInfo extends SpaceCredentials {
  readonly serverUrl: string;
  /** The space's name, shown before joining; the server's own name wins once joined. */
  readonly name?: string;
}

function joinQuery(info: JoinInfo): string {
  const query = new URLSearchParams({ server: info.serverUrl, space: info.spaceId, key: info.key });
  if (info.name !== undefined) query.set("name", info.name);
  return query.toString();
}

/** A link that opens desktop VS Code and joins the space (the key travels in the link: share it privately). */
export function joinLink(info: JoinInfo): string {
  return `vscode://${EXTENSION_ID}/join?${joinQuery(info)}`;
}

/** The path a browser VS Code (code-server) opens to join: see `webJoinLink`. */
export const WEB_JOIN_PATH = "/join";

/**
 * A link for VS Code in a browser (code-server) at `workbenchUrl`, which has no `vscode://`
 * handler: the workbench opens `sharednotes:/join?…` and the extension joins from it.
 */
export function webJoinLink(workbenchUrl: string, info: JoinInfo): string {
  const file = `sharednotes:${WEB_JOIN_PATH}?${joinQuery(info)}`;
  const base = workbenchUrl.replace(/\/+$/, "");
  return `${base}/?payload=${encodeURIComponent(JSON.stringify([["openFile", file]]))}`;
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
  const name = query.get("name");
  return name === null ? { serverUrl, spaceId, key } : { serverUrl, spaceId, key, name };
}
