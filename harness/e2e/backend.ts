/**
 * The server side of the end-to-end run and the demo, loaded from .mjs through
 * scripts/run-ts.mjs: the embedded backend, the loopback proxy that can cut or slow one
 * user's link, and a space with a first note made through the same client the CLI uses.
 */
import { connect } from "../../client/connect";
import { createSpace, Space } from "../../client/space";
import type { SpaceCredentials } from "../../client/types";

export { startBackend } from "../../backend/serve";
export { TcpProxy } from "../tcpProxy";
export { joinLink, webJoinLink } from "../../client/joinLink";

export async function createSpaceWithNote(url: string, title: string, text = "", spaceName?: string): Promise<SpaceCredentials> {
  const convex = connect(url);
  try {
    const creds = await createSpace(convex, spaceName);
    await new Space(convex, creds).create(title, text);
    return creds;
  } finally {
    await convex.close();
  }
}

/** The space's name, as the server has it (spaces made before names show the default). */
export async function spaceName(url: string, creds: SpaceCredentials): Promise<string> {
  const convex = connect(url);
  try {
    return await new Space(convex, creds).name();
  } finally {
    await convex.close();
  }
}
