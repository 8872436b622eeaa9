import { ConvexClient } from "convex/browser";
import WebSocketFromWs from "ws";

/** Where the Convex client's own messages (reconnects, server log lines) go. */
export type LogSink = (message: string) => void;

/**
 * A ConvexClient for a Shared Notes server: the embedded local backend or a Convex
 * deployment. The URL check is skipped because self-hosted and local URLs are valid here.
 * Hosts without a global WebSocket (Node 20, older VS Code builds) get the `ws` package.
 * The client's reconnect chatter goes to `log` (nowhere by default), not the console:
 * a dropped link is expected and shown in the status, not worth a console line.
 */
export function connect(url: string, log?: LogSink): ConvexClient {
  const write = (...args: unknown[]): void => log?.(args.map(String).join(" "));
  const globalSocket = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  return new ConvexClient(url, {
    skipConvexDeploymentUrlCheck: true,
    unsavedChangesWarning: false,
    webSocketConstructor: globalSocket ?? (WebSocketFromWs as unknown as typeof WebSocket),
    logger: { log: write, warn: write, error: write, logVerbose: () => {} },
  });
}

/** The local backend's address when nothing else is configured. */
export const DEFAULT_SERVER_URL = "http://127.0.0.1:3210";
