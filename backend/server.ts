// HTTP and WebSocket front door: `/api/<version>/sync` for ConvexClient, and the JSON
// endpoints ConvexHttpClient posts to. Owns the set of live connections and fans each
// commit's reactive updates out to all of them.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { JSONValue } from "convex/values";
import { WebSocketServer } from "ws";
import { identityFromJwt } from "./auth.js";
import { Connection, type ConnectionHooks } from "./connection.js";
import type { Engine } from "./engine.js";
import { encodeTs } from "./protocol.js";
import { Reactivity } from "./reactivity.js";
import type { Outcome, UserIdentity } from "./runtime.js";

const SYNC_PATH = /^\/api\/[^/]+\/sync$/;
const PING_INTERVAL_MS = 15_000;
const MAX_BODY = 16 << 20;
/** Convex's status code for "the function ran and failed". */
const STATUS_UDF_FAILED = 560;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class BackendServer {
  readonly http: Server;
  private wss: WebSocketServer;
  private connections = new Set<Connection>();
  private reactivity: Reactivity;
  private pinger: NodeJS.Timeout;

  constructor(
    private readonly engine: Engine,
    hooks: ConnectionHooks = {},
  ) {
    this.reactivity = new Reactivity(engine);
    engine.onCommit = async (_ts, writes) => {
      await this.reactivity.afterCommit(writes);
      for (const connection of this.connections) connection.flush();
    };
    this.http = createServer((req, res) => void this.handleHttp(req, res));
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY });
    this.http.on("upgrade", (req, socket, head) => {
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      if (!SYNC_PATH.test(path)) {
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const connection = new Connection(ws, engine, this.reactivity, hooks, (c) => this.connections.delete(c));
        this.connections.add(connection);
      });
    });
    this.pinger = setInterval(() => {
      for (const connection of this.connections) connection.ping();
    }, PING_INTERVAL_MS);
    this.pinger.unref();
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    try {
      if (req.method === "GET" && (path === "/" || path === "/version" || path === "/instance_name")) {
        return reply(res, 200, path === "/instance_name" ? "shared-notes-local" : "Shared Notes local backend", "text/plain");
      }
      if (req.method !== "POST") throw new HttpError(404, `No route for ${req.method} ${path}`);
      if (path === "/api/query_ts") return reply(res, 200, { ts: encodeTs(this.engine.currentTs()) });
      const kind = ({ "/api/query": "query", "/api/query_at_ts": "query", "/api/mutation": "mutation", "/api/action": "action", "/api/function": "any" } as const)[
        path as "/api/query"
      ];
      if (!kind) throw new HttpError(404, `No route for POST ${path}`);
      const body = await readJson(req);
      const udfPath = body.path;
      if (typeof udfPath !== "string") throw new HttpError(400, "Request body must have a string `path`");
      const args = Array.isArray(body.args) ? (body.args[0] ?? {}) : (body.args ?? {});
      const identity = identityFromHeader(req.headers.authorization);
      const outcome = await this.call(kind, udfPath, args, identity);
      if (outcome.ok) return reply(res, 200, { status: "success", value: outcome.value, logLines: outcome.logLines });
      return reply(res, STATUS_UDF_FAILED, {
        status: "error",
        errorMessage: outcome.message,
        ...(outcome.data !== undefined ? { errorData: outcome.data } : {}),
        logLines: outcome.logLines,
      });
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      reply(res, status, { code: status === 404 ? "NotFound" : "BadRequest", message: (e as Error).message });
    }
  }

  private async call(
    kind: "query" | "mutation" | "action" | "any",
    udfPath: string,
    args: JSONValue,
    identity: UserIdentity | null,
  ): Promise<Outcome> {
    const runtime = this.engine.runtime;
    // /api/function does not say what kind the function is: find out.
    const resolved =
      kind !== "any"
        ? kind
        : ((["query", "mutation", "action"] as const).find((k) => typeof runtime.lookup(udfPath, k) !== "string") ?? "query");
    switch (resolved) {
      case "query":
        return this.engine.query(udfPath, args, identity);
      case "mutation":
        return (await this.engine.mutateAsync({ udfPath, args, identity })).outcome;
      case "action":
        return this.engine.action(udfPath, args, identity);
      default:
        return resolved satisfies never;
    }
  }

  async close(): Promise<void> {
    clearInterval(this.pinger);
    for (const connection of this.connections) connection.close(1001, "Server shutting down");
    this.wss.close();
    await new Promise<void>((resolve) => {
      this.http.close(() => resolve());
      this.http.closeAllConnections();
    });
  }
}

function identityFromHeader(header: string | undefined): UserIdentity | null {
  if (!header?.startsWith("Bearer ")) return null;
  try {
    return identityFromJwt(header.slice("Bearer ".length));
  } catch (e) {
    throw new HttpError(401, (e as Error).message);
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, JSONValue>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, "Request body too large");
    chunks.push(chunk as Buffer);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    throw new HttpError(400, "Request body is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new HttpError(400, "Request body must be an object");
  return parsed as Record<string, JSONValue>;
}

function reply(res: ServerResponse, status: number, body: unknown, type = "application/json"): void {
  const text = type === "application/json" ? JSON.stringify(body) : String(body);
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(text), "Access-Control-Allow-Origin": "*" });
  res.end(text);
}
