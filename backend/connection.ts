// One object per WebSocket. Messages are decoded synchronously on arrival and their
// work queued on the engine in arrival order, so a connection's messages take effect
// strictly in order; every Transition it sends starts at the version the client holds.
import type { JSONValue } from "convex/values";
import type { WebSocket } from "ws";
import { identityFromJwt } from "./auth.js";
import type { Engine, MutationResult } from "./engine.js";
import {
  decodeClientMessage,
  encodeServerMessage,
  ProtocolError,
  type ClientMessage,
  type ServerMessage,
  type StateModification,
  type StateVersion,
} from "./protocol.js";
import type { QueryEntry, Reactivity, Subscriber } from "./reactivity.js";
import type { UserIdentity } from "./runtime.js";

export type ConnectionHooks = {
  /** Test seam: return "drop" to lose the socket after a mutation committed, before its response. */
  afterMutationCommit?: (udfPath: string) => "drop" | void;
};

const CLOSE_PROTOCOL_ERROR = 1002;

export class Connection implements Subscriber {
  private sessionId: string | null = null;
  private version: StateVersion = { querySet: 0, ts: 0n, identity: 0 };
  /** Versions as of the messages received so far (work for them may still be queued). */
  private receivedQuerySet = 0;
  private receivedIdentity = 0;
  private identity: UserIdentity | null = null;
  private queries = new Map<number, QueryEntry>();
  private changed = new Set<number>();
  private removed = new Set<number>();
  private owesTransition = false;
  closed = false;

  constructor(
    private readonly ws: WebSocket,
    private readonly engine: Engine,
    private readonly reactivity: Reactivity,
    private readonly hooks: ConnectionHooks,
    private readonly onClosed: (c: Connection) => void,
  ) {
    ws.on("message", (data, isBinary) => this.receive(isBinary ? null : data.toString()));
    ws.on("close", () => this.dispose());
    ws.on("error", () => this.dispose());
  }

  private receive(text: string | null): void {
    if (this.closed) return;
    try {
      if (text === null) throw new ProtocolError("Invalid message: binary frames are not part of the protocol");
      this.handle(decodeClientMessage(text));
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.close(CLOSE_PROTOCOL_ERROR, e.message);
    }
  }

  private handle(message: ClientMessage): void {
    switch (message.type) {
      case "Connect":
        this.sessionId = message.sessionId;
        if (message.maxObservedTimestamp !== null && message.maxObservedTimestamp > this.engine.currentTs()) {
          this.engine.advanceTo(message.maxObservedTimestamp);
        }
        return;
      case "ModifyQuerySet": {
        if (message.baseVersion !== this.receivedQuerySet) {
          throw new ProtocolError(
            `ModifyQuerySet.baseVersion ${message.baseVersion} does not match the query set version ${this.receivedQuerySet}`,
          );
        }
        if (message.newVersion !== message.baseVersion + 1) {
          throw new ProtocolError(`ModifyQuerySet.newVersion must be baseVersion + 1`);
        }
        this.receivedQuerySet = message.newVersion;
        this.queue(() => this.modifyQuerySet(message));
        return;
      }
      case "Mutation": {
        const sessionId = this.sessionId;
        if (sessionId === null) throw new ProtocolError("Mutation before Connect");
        const { requestId, udfPath } = message;
        this.engine.mutate(
          { udfPath, args: firstArg(message.args), identity: this.identity, dedupe: { sessionId, requestId } },
          (result) => this.mutationDone(requestId, udfPath, result),
        );
        return;
      }
      case "Action": {
        const { requestId } = message;
        void this.engine.action(message.udfPath, firstArg(message.args), this.identity).then((outcome) =>
          this.send(
            outcome.ok
              ? { type: "ActionResponse", requestId, success: true, result: outcome.value, logLines: outcome.logLines }
              : {
                  type: "ActionResponse",
                  requestId,
                  success: false,
                  result: outcome.message,
                  logLines: outcome.logLines,
                  ...(outcome.data !== undefined ? { errorData: outcome.data } : {}),
                },
          ),
        );
        return;
      }
      case "Authenticate": {
        if (message.baseVersion !== this.receivedIdentity) {
          throw new ProtocolError(
            `Authenticate.baseVersion ${message.baseVersion} does not match the identity version ${this.receivedIdentity}`,
          );
        }
        let identity: UserIdentity | null = null;
        if (message.tokenType === "User" && message.value !== null) {
          try {
            identity = identityFromJwt(message.value);
          } catch (e) {
            this.send({ type: "AuthError", error: (e as Error).message, baseVersion: message.baseVersion, authUpdateAttempted: true });
            return;
          }
        }
        this.receivedIdentity += 1;
        this.queue(() => this.changeIdentity(identity));
        return;
      }
      case "Event":
        return;
      default:
        return message satisfies never;
    }
  }

  private queue(work: () => Promise<void>): void {
    this.engine.exclusive(async () => {
      if (!this.closed) await work();
    }).catch((e: Error) => this.close(1011, `Internal error: ${e.message}`));
  }

  private async modifyQuerySet(message: Extract<ClientMessage, { type: "ModifyQuerySet" }>): Promise<void> {
    for (const mod of message.modifications) {
      if (mod.type === "Add") {
        if (this.queries.has(mod.queryId)) {
          return this.close(CLOSE_PROTOCOL_ERROR, `Query ${mod.queryId} is already in the query set`);
        }
        const entry = await this.reactivity.subscribe(this, mod.queryId, mod.udfPath, firstArg(mod.args), this.identity);
        this.queries.set(mod.queryId, entry);
        this.removed.delete(mod.queryId);
        this.changed.add(mod.queryId);
      } else {
        const entry = this.queries.get(mod.queryId);
        if (!entry) continue;
        this.reactivity.unsubscribe(this, mod.queryId, entry);
        this.queries.delete(mod.queryId);
        this.changed.delete(mod.queryId);
        this.removed.add(mod.queryId);
      }
    }
    this.flush({ querySet: message.newVersion });
  }

  private async changeIdentity(identity: UserIdentity | null): Promise<void> {
    this.identity = identity;
    for (const [queryId, old] of this.queries) {
      const entry = await this.reactivity.subscribe(this, queryId, old.udfPath, old.args, identity);
      this.reactivity.unsubscribe(this, queryId, old);
      this.queries.set(queryId, entry);
      this.changed.add(queryId);
    }
    this.flush({ identity: this.version.identity + 1 });
  }

  private mutationDone(requestId: number, udfPath: string, result: MutationResult): void {
    if (this.closed) return;
    if (this.hooks.afterMutationCommit?.(udfPath) === "drop") {
      this.ws.terminate();
      return;
    }
    const { outcome } = result;
    if (outcome.ok) {
      this.send({ type: "MutationResponse", requestId, success: true, result: outcome.value, ts: result.ts, logLines: outcome.logLines });
      // The client resolves the mutation only once a Transition reaches its ts.
      this.owesTransition = true;
    } else {
      this.send({
        type: "MutationResponse",
        requestId,
        success: false,
        result: outcome.message,
        logLines: outcome.logLines,
        ...(outcome.data !== undefined ? { errorData: outcome.data } : {}),
      });
    }
  }

  queryChanged(queryId: number): void {
    this.changed.add(queryId);
  }

  /** Sends one Transition with everything that changed since the last one, if anything did. Exclusive. */
  flush(bump: Partial<Pick<StateVersion, "querySet" | "identity">> = {}): void {
    if (this.closed) return;
    const ts = this.engine.currentTs();
    const hasBump = bump.querySet !== undefined || bump.identity !== undefined;
    if (!hasBump && !this.owesTransition && this.changed.size === 0 && this.removed.size === 0) return;
    const modifications: StateModification[] = [];
    for (const queryId of this.changed) {
      const entry = this.queries.get(queryId);
      if (!entry) continue;
      const { outcome } = entry;
      modifications.push(
        outcome.ok
          ? { type: "QueryUpdated", queryId, value: outcome.value, logLines: outcome.logLines, journal: null }
          : {
              type: "QueryFailed",
              queryId,
              errorMessage: outcome.message,
              logLines: outcome.logLines,
              errorData: outcome.data ?? null,
              journal: null,
            },
      );
    }
    for (const queryId of this.removed) modifications.push({ type: "QueryRemoved", queryId });
    const endVersion = { ...this.version, ...bump, ts: ts > this.version.ts ? ts : this.version.ts };
    this.send({ type: "Transition", startVersion: this.version, endVersion, modifications });
    this.version = endVersion;
    this.changed.clear();
    this.removed.clear();
    this.owesTransition = false;
  }

  ping(): void {
    this.send({ type: "Ping" });
  }

  private send(message: ServerMessage): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(encodeServerMessage(message));
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    // Close reasons are limited to 123 bytes.
    this.ws.close(code, Buffer.from(reason).subarray(0, 120).toString());
    this.dispose();
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [queryId, entry] of this.queries) this.reactivity.unsubscribe(this, queryId, entry);
    this.queries.clear();
    this.onClosed(this);
  }
}

function firstArg(args: JSONValue[]): JSONValue {
  return args[0] ?? {};
}
