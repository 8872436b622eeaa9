// HTTP and WebSocket front door: `/api/<version>/sync` for ConvexClient, and the JSON
// endpoints ConvexHttpClient posts to. Owns the set of live connections and fans each
// commit's reactive updates out to all of them.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { JSONValue } from "convex/values";
import { WebSocketServer } from "ws";
import { adminIdentity, AuthError, refusedTokens } from "./auth.js";
import { bounded, serverErrorText, unsupported } from "./errors.js";
import type { Faults } from "./faults.js";
import { Connection, type ConnectionHooks } from "./connection.js";
import type { Engine } from "./engine.js";
import { decodeTs, encodeTs } from "./protocol.js";
import { Reactivity } from "./reactivity.js";
import type { Outcome, UserIdentity } from "./runtime.js";

const SYNC_PATH = /^\/api\/[^/]+\/sync$/;
const PING_INTERVAL_MS = 15_000;
const MAX_BODY = 16 << 20;
/** A socket that neither sends nor answers pings for this long is closed. */
const IDLE_TIMEOUT_MS = 60_000;
/** Exactly-once answers are kept this long: a client that has been away longer starts a new session. */
const REQUEST_RETENTION_MS = 24 * 60 * 60 * 1000;
const PRUNE_EVERY_MS = 10 * 60 * 1000;
const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

export type ServerConfig = {
  hooks: ConnectionHooks;
  faults: Faults;
  allowedOrigins: string[];
  allowedHosts: string[];
  adminKey?: string;
};
/** Convex's status code for "the function ran and failed". */
const STATUS_UDF_FAILED = 560;

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

export class BackendServer {
  readonly http: Server;
  /** The site URL: convex/http.ts routes. */
  readonly site: Server;
  private wss: WebSocketServer;
  private connections = new Set<Connection>();
  private reactivity: Reactivity;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    private readonly engine: Engine,
    private readonly config: ServerConfig,
  ) {
    const hooks = config.hooks;
    this.reactivity = new Reactivity(engine);
    engine.onCommit = async (_ts, writes) => {
      await this.reactivity.afterCommit(writes);
      // The frames are made now; each leaves once the commit is on disk (Connection.send).
      let updates = 0;
      for (const connection of this.connections) if (connection.flush()) updates++;
      return updates;
    };
    this.http = createServer((req, res) => void this.handleHttp(req, res));
    this.site = createServer((req, res) => void this.handleSite(req, res));
    for (const server of [this.http, this.site]) {
      server.requestTimeout = 30_000;
      server.keepAliveTimeout = 5_000;
    }
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_BODY });
    this.http.on("upgrade", (req, socket, head) => {
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      const refused = this.refusal(req);
      if (refused || !SYNC_PATH.test(path)) {
        const status = refused ? "403 Forbidden" : "404 Not Found";
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Type: text/plain\r\n\r\n${refused ?? "Not found"}`);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const connection = new Connection(ws, socket, engine, this.reactivity, hooks, config.faults, config.adminKey, (c) => this.connections.delete(c));
        this.connections.add(connection);
      });
    });
  }

  /** Starts the periodic work: pings and idle checks, pruning the exactly-once table. */
  start(): void {
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(PING_INTERVAL_MS, () => {
      for (const connection of this.connections) connection.ping(IDLE_TIMEOUT_MS);
    });
    const prune = () =>
      void this.engine
        .exclusive(async () => this.engine.storage.pruneRequests(Date.now() - REQUEST_RETENTION_MS))
        .catch((e: Error) => process.stderr.write(`[local backend] pruning the exactly-once table failed: ${e.message}\n`));
    prune();
    every(PRUNE_EVERY_MS, prune);
  }

  /**
   * Why a request is refused, if it is: a Host that is not ours (DNS rebinding) or a
   * browser Origin not explicitly allowed (any web page can reach 127.0.0.1).
   */
  private refusal(req: IncomingMessage): string | null {
    const host = (req.headers.host ?? "").toLowerCase().replace(/:\d+$/, "");
    if (!LOOPBACK_HOSTS.has(host) && !this.config.allowedHosts.includes(host)) {
      return `Host "${host}" is not served by this backend (allowed: loopback${this.config.allowedHosts.length ? ", " + this.config.allowedHosts.join(", ") : ""}).`;
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !this.config.allowedOrigins.includes(origin)) {
      return `Origin "${origin}" is not allowed to use this backend.`;
    }
    return null;
  }

  private corsHeaders(req: IncomingMessage): Record<string, string> {
    const origin = req.headers.origin;
    return origin && this.config.allowedOrigins.includes(origin)
      ? { "Access-Control-Allow-Origin": origin, Vary: "Origin" }
      : {};
  }

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const cors = this.corsHeaders(req);
    const reply = (status: number, body: unknown, type = "application/json") => send(res, status, body, type, cors);
    try {
      const refused = this.refusal(req);
      if (refused) throw new HttpError(403, refused);
      if (req.method === "OPTIONS") {
        res.writeHead(204, { ...cors, "Access-Control-Allow-Methods": "GET, POST", "Access-Control-Allow-Headers": "Content-Type, Authorization, Convex-Client" });
        res.end();
        return;
      }
      if (req.method === "GET" && (path === "/" || path === "/version" || path === "/instance_name")) {
        return reply(200, path === "/instance_name" ? "shared-notes-local" : "Shared Notes local backend", "text/plain");
      }
      // Convex's file storage endpoints (upload URLs, /api/storage/<id>): said plainly rather than "not found".
      if (path.startsWith("/api/storage")) throw new HttpError(501, unsupported("File storage", `${req.method} ${path}`), "NotSupported");
      if (req.method !== "POST") throw new HttpError(404, `No route for ${req.method} ${path}`);
      if (path === "/api/query_ts") return reply(200, { ts: encodeTs(this.engine.currentTs()) });
      const kind = ({ "/api/query": "query", "/api/query_at_ts": "query", "/api/mutation": "mutation", "/api/action": "action", "/api/function": "any" } as const)[
        path as "/api/query"
      ];
      if (!kind) throw new HttpError(404, `No route for POST ${path}`);
      const body = await readJson(req);
      const udfPath = body.path;
      if (typeof udfPath !== "string") throw new HttpError(400, "Request body must have a string `path`");
      const args = Array.isArray(body.args) ? (body.args[0] ?? {}) : (body.args ?? {});
      const identity = await this.identityFromHeader(req.headers.authorization);
      let atTs: bigint | undefined;
      if (path === "/api/query_at_ts") {
        if (typeof body.ts !== "string") throw new HttpError(400, "Request body must have a `ts` from /api/query_ts");
        try {
          atTs = decodeTs(body.ts);
        } catch (e) {
          throw new HttpError(400, (e as Error).message);
        }
      }
      const { outcome, retryable } = await this.call(kind, udfPath, args, identity, atTs);
      if (retryable && !outcome.ok) return reply(503, { code: "Overloaded", message: outcome.message });
      if (!outcome.ok && outcome.system) return reply(outcome.system.status, { code: outcome.system.code, message: outcome.message });
      if (outcome.ok) return reply(200, { status: "success", value: outcome.value, logLines: outcome.logLines });
      return reply(STATUS_UDF_FAILED, {
        status: "error",
        errorMessage: serverErrorText(outcome),
        ...(outcome.data !== undefined ? { errorData: outcome.data } : {}),
        logLines: outcome.logLines,
      });
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      const code =
        (e instanceof HttpError ? e.code : undefined) ??
        (status === 404 ? "NotFound" : status === 403 ? "Forbidden" : status === 401 ? "Unauthenticated" : status >= 500 ? "InternalServerError" : "BadRequest");
      reply(status, { code, message: bounded((e as Error).message) });
    }
  }

  /** The site URL: routes of convex/http.ts, run as HTTP actions. */
  private async handleSite(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const refused = this.refusal(req);
      if (refused) throw new HttpError(403, refused);
      const received = await readBody(req);
      const headers = new Headers();
      for (const [name, value] of Object.entries(req.headers)) {
        if (typeof value === "string") headers.set(name, value);
        else if (Array.isArray(value)) for (const v of value) headers.append(name, v);
      }
      const body = received.length > 0 && req.method !== "GET" && req.method !== "HEAD" ? received : undefined;
      const request = new Request(new URL(req.url ?? "/", `http://${req.headers.host ?? "localhost"}`), {
        method: req.method ?? "GET",
        headers,
        ...(body ? { body } : {}),
      });
      // An HTTP action sees its request's headers as sent; only a valid token gives it an identity.
      const identity = await this.identityFromHeader(req.headers.authorization).catch((e: unknown) => {
        if (!(e instanceof HttpError)) throw e;
        refusedTokens.set(request, e);
        return null;
      });
      const response = await this.engine.httpAction(request, identity);
      const out = Buffer.from(await response.arrayBuffer());
      const outHeaders: Record<string, string | string[]> = {};
      response.headers.forEach((value, name) => {
        outHeaders[name] = value;
      });
      res.writeHead(response.status, outHeaders);
      res.end(out);
    } catch (e) {
      const status = e instanceof HttpError ? e.status : 500;
      send(res, status, bounded((e as Error).message), "text/plain", {});
    }
  }

  private async call(
    kind: "query" | "mutation" | "action" | "any",
    udfPath: string,
    args: JSONValue,
    identity: UserIdentity | null,
    atTs?: bigint,
  ): Promise<{ outcome: Outcome; retryable?: true }> {
    const runtime = this.engine.runtime;
    // /api/function does not say what kind the function is: find out.
    const resolved =
      kind !== "any"
        ? kind
        : ((["query", "mutation", "action"] as const).find((k) => typeof runtime.lookup(udfPath, k) !== "string") ?? "query");
    switch (resolved) {
      case "query":
        return { outcome: await this.engine.query(udfPath, args, identity, false, atTs) };
      case "mutation":
        return this.engine.mutateAsync({ udfPath, args, identity });
      case "action":
        return { outcome: await this.engine.action(udfPath, args, identity) };
      default:
        return resolved satisfies never;
    }
  }

  private async identityFromHeader(header: string | undefined): Promise<UserIdentity | null> {
    if (header === undefined) return null;
    try {
      if (/^convex /i.test(header)) return adminIdentity(header, this.config.adminKey);
      if (!/^bearer /i.test(header)) throw new AuthError("InvalidAuthHeader", "Header must begin with `bearer `");
      return await this.engine.runtime.authenticator.verify(header.slice("Bearer ".length));
    } catch (e) {
      if (e instanceof AuthError) throw new HttpError(401, e.message, e.code);
      throw e;
    }
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    for (const connection of this.connections) connection.close(1001, "Server shutting down");
    this.wss.close();
    await Promise.all(
      [this.http, this.site].map(
        (server) =>
          new Promise<void>((resolve) => {
            if (!server.listening) return resolve();
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  }
}

/** A request's body, refused past MAX_BODY while it arrives. */
async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, "Request body too large");
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

async function readJson(req: IncomingMessage): Promise<Record<string, JSONValue>> {
  // Only JSON is read as JSON: a form post from a web page (no preflight) is refused.
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== "application/json") throw new HttpError(415, "Request body must be JSON, sent with Content-Type: application/json");
  const body = await readBody(req);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    throw new HttpError(400, "Request body is not JSON");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new HttpError(400, "Request body must be an object");
  return parsed as Record<string, JSONValue>;
}

function send(res: ServerResponse, status: number, body: unknown, type: string, extra: Record<string, string>): void {
  const text = type === "application/json" ? JSON.stringify(body) : String(body);
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(text), ...extra });
  res.end(text);
}
