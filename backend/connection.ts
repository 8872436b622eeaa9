// One object per WebSocket. Messages are decoded synchronously on arrival and their
// work queued on the engine in arrival order, so a connection's messages take effect
// strictly in order; every Transition it sends starts at the version the client holds.
import type { JSONValue } from "convex/values";
import type { WebSocket } from "ws";
import { actingAsIdentity, checkAdminKey } from "./auth.js";
import { serverErrorText } from "./errors.js";
import type { Faults } from "./faults.js";
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

/** What a connection needs of its socket: node's net.Socket, under the WebSocket. */
export type Corkable = { cork(): void; uncork(): void };

export type ConnectionHooks = {
  /** Test seam: return "drop" to lose the socket after a mutation committed, before its response. */
  afterMutationCommit?: (udfPath: string) => "drop" | void;
};

const CLOSE_PROTOCOL_ERROR = 1002;
/** "Try again later": the client reconnects and resends what was not answered. */
const CLOSE_TRY_AGAIN = 1013;
/** Convex's bound on a socket's queued mutations and actions (sync worker OPERATION_QUEUE_BUFFER_SIZE). */
const MAX_PENDING = 1000;
/** Queries one socket may have subscribed: the work of one frame stays bounded. */
const MAX_QUERIES = 1000;

export class Connection implements Subscriber {
  private sessionId: string | null = null;
  private version: StateVersion = { querySet: 0, ts: 0n, identity: 0 };
  /** The query set version applied so far; the next Transition announces it. */
  private appliedQuerySet = 0;
  /** Versions as of the messages received so far (work for them may still be queued). */
  private receivedQuerySet = 0;
  private receivedIdentity = 0;
  private identity: UserIdentity | null = null;
  private queries = new Map<number, QueryEntry>();
  private changed = new Set<number>();
  private removed = new Set<number>();
  private owesTransition = false;
  /** A query was added since the last Transition. */
  private addAnswerOwed = false;
  private pending = 0;
  private lastHeard = Date.now();
  private readonly openedAt = Date.now();
  /** Messages held by the `delayMs` fault, and where the link is closed or cut after them. */
  private outbox: Array<{ due: number; text: string } | { due: number; end: () => void }> = [];
  private outboxTimer: NodeJS.Timeout | null = null;
  private corked = false;
  /** This turn's frames answer a mutation: they leave after other connections' (see `uncork`). */
  private answering = false;
  closed = false;

  constructor(
    private readonly ws: WebSocket,
    /** The socket under `ws`, corked while a turn's frames are written (see `send`). */
    private readonly socket: Corkable,
    private readonly engine: Engine,
    private readonly reactivity: Reactivity,
    private readonly hooks: ConnectionHooks,
    private readonly faults: Faults,
    /** The key `Authenticate` with tokenType "Admin" must carry (none: admin tokens are refused). */
    private readonly adminKey: string | undefined,
    private readonly onClosed: (c: Connection) => void,
  ) {
    ws.on("message", (data, isBinary) => {
      this.lastHeard = Date.now();
      this.receive(isBinary ? null : data.toString());
    });
    ws.on("pong", () => (this.lastHeard = Date.now()));
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
        // The engine moves its clock only up to its own wall clock, whatever the client says.
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
        const adds = message.modifications.filter((m) => m.type === "Add").length;
        if (this.queries.size + adds > MAX_QUERIES) {
          throw new ProtocolError(`Too many queries: at most ${MAX_QUERIES} may be subscribed on one connection`);
        }
        this.receivedQuerySet = message.newVersion;
        // A removed query stops being re-run now, not when the change's turn in the engine
        // comes: under load a client's old subscriptions would each re-run on every commit
        // meanwhile. The set itself (and the version) still changes in order.
        for (const mod of message.modifications) {
          const entry = mod.type === "Remove" ? this.queries.get(mod.queryId) : undefined;
          if (entry) this.reactivity.unsubscribe(this, mod.queryId, entry);
        }
        this.queue(() => this.modifyQuerySet(message));
        return;
      }
      case "Mutation": {
        const sessionId = this.sessionId;
        if (sessionId === null) throw new ProtocolError("Mutation before Connect");
        const { requestId, udfPath } = message;
        this.admit();
        this.engine.mutate(
          { udfPath, args: firstArg(message.args), identity: this.identity, dedupe: { sessionId, requestId } },
          (result) => {
            this.pending--;
            this.mutationDone(requestId, udfPath, result);
          },
        );
        return;
      }
      case "Action": {
        const { requestId } = message;
        this.admit();
        void this.engine.action(message.udfPath, firstArg(message.args), this.identity).then((outcome) => {
          this.pending--;
          this.send(
            outcome.ok
              ? { type: "ActionResponse", requestId, success: true, result: outcome.value, logLines: outcome.logLines }
              : {
                  type: "ActionResponse",
                  requestId,
                  success: false,
                  result: serverErrorText(outcome),
                  logLines: outcome.logLines,
                  ...(outcome.data !== undefined ? { errorData: outcome.data } : {}),
                },
          );
        });
        return;
      }
      case "Authenticate": {
        if (message.baseVersion !== this.receivedIdentity) {
          throw new ProtocolError(
            `Authenticate.baseVersion ${message.baseVersion} does not match the identity version ${this.receivedIdentity}`,
          );
        }
        this.receivedIdentity += 1;
        const { tokenType, value, baseVersion, impersonating } = message;
        this.queue(async () => {
          let identity: UserIdentity | null = null;
          if (value !== null) {
            try {
              if (tokenType === "User") identity = await this.engine.runtime.authenticator.verify(value);
              else {
                checkAdminKey(value, this.adminKey);
                identity = impersonating === undefined ? null : actingAsIdentity(impersonating);
              }
            } catch (e) {
              // As on Convex, a refused token ends the connection; the client reconnects.
              this.send({ type: "AuthError", error: (e as Error).message, baseVersion, authUpdateAttempted: true });
              this.close(1000, "AuthError");
              return;
            }
          }
          await this.changeIdentity(identity);
        });
        return;
      }
      case "Event":
        return;
      default:
        return message satisfies never;
    }
  }

  /** Counts one more mutation or action in flight; past Convex's bound the client is told so. */
  private admit(): void {
    if (this.pending >= MAX_PENDING) {
      throw new ProtocolError(`Too many concurrent mutations. Only up to ${MAX_PENDING} pending mutations allowed on a single websocket.`);
    }
    this.pending++;
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
        const entry = await this.reactivity.subscribe(this, mod.queryId, mod.udfPath, firstArg(mod.args), this.identity, mod.journal);
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
    this.appliedQuerySet = message.newVersion;
    // A removal changes nothing the client waits for: the next Transition acknowledges it.
    // A client following a note (sync/followBlocks.ts) drops a block of the log once it has
    // its ops; a Transition for each would double the frames it gets. And changes that
    // arrived together are answered together, by the last one's Transition.
    if (message.modifications.some((m) => m.type === "Add")) this.addAnswerOwed = true;
    if (this.addAnswerOwed && this.receivedQuerySet === message.newVersion) this.flush();
  }

  private async changeIdentity(identity: UserIdentity | null): Promise<void> {
    this.identity = identity;
    for (const [queryId, old] of this.queries) {
      const entry = await this.reactivity.subscribe(this, queryId, old.udfPath, old.args, identity, old.journal);
      this.reactivity.unsubscribe(this, queryId, old);
      this.queries.set(queryId, entry);
      this.changed.add(queryId);
    }
    this.flush({ identity: this.version.identity + 1 });
  }

  private mutationDone(requestId: number, udfPath: string, result: MutationResult): void {
    if (this.closed) return;
    const { outcome } = result;
    if (result.retryable && !outcome.ok) {
      // Nothing ran or committed: as Convex does when overloaded, end the socket so the
      // client reconnects and resends.
      this.close(CLOSE_TRY_AGAIN, outcome.message);
      return;
    }
    const drop =
      this.hooks.afterMutationCommit?.(udfPath) === "drop" ||
      (outcome.ok && this.engine.dice?.dropAfterCommit(this.openedAt) === true);
    if (drop) {
      this.afterSent(() => {
        this.ws.terminate();
        this.dispose();
      });
      return;
    }
    if (outcome.ok) {
      this.send({ type: "MutationResponse", requestId, success: true, result: outcome.value, ts: result.ts, logLines: outcome.logLines });
      // The client resolves the mutation only once a Transition reaches its ts.
      this.owesTransition = true;
    } else {
      this.send({
        type: "MutationResponse",
        requestId,
        success: false,
        result: serverErrorText(outcome),
        logLines: outcome.logLines,
        ...(outcome.data !== undefined ? { errorData: outcome.data } : {}),
      });
    }
  }

  queryChanged(queryId: number): void {
    this.changed.add(queryId);
  }

  /** Sends one Transition with everything that changed since the last one, if anything did (then true). Exclusive. */
  flush(bump: Partial<Pick<StateVersion, "identity">> = {}): boolean {
    if (this.closed) return false;
    const ts = this.engine.currentTs();
    const hasBump = this.appliedQuerySet !== this.version.querySet || bump.identity !== undefined;
    if (!hasBump && !this.owesTransition && this.changed.size === 0 && this.removed.size === 0) return false;
    const modifications: StateModification[] = [];
    for (const queryId of this.changed) {
      const entry = this.queries.get(queryId);
      if (!entry) continue;
      const { outcome } = entry;
      modifications.push(
        outcome.ok
          ? { type: "QueryUpdated", queryId, value: outcome.value, logLines: outcome.logLines, journal: entry.journal }
          : {
              type: "QueryFailed",
              queryId,
              errorMessage: serverErrorText(outcome),
              logLines: outcome.logLines,
              ...(outcome.data !== undefined ? { errorData: outcome.data } : {}),
              journal: entry.journal,
            },
      );
    }
    for (const queryId of this.removed) modifications.push({ type: "QueryRemoved", queryId });
    const endVersion = { ...this.version, ...bump, querySet: this.appliedQuerySet, ts: ts > this.version.ts ? ts : this.version.ts };
    this.send({ type: "Transition", startVersion: this.version, endVersion, modifications });
    this.version = endVersion;
    this.changed.clear();
    this.removed.clear();
    this.owesTransition = false;
    this.addAnswerOwed = false;
    return true;
  }

  /** Keeps the socket alive; one silent for `idleMs` (no frames, no pongs) is closed. */
  ping(idleMs: number): void {
    if (Date.now() - this.lastHeard > idleMs) {
      this.ws.terminate();
      this.dispose();
      return;
    }
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
    this.send({ type: "Ping" });
  }

  /**
   * Sends `message` once what it shows is on disk: it is made from the database as it is
   * now, which may hold a commit still syncing. Frames leave in the order they were made.
   */
  private send(message: ServerMessage): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    const text = encodeServerMessage(message);
    const answer = message.type === "MutationResponse";
    this.engine.afterDurable(() => this.write(text, answer));
  }

  private write(text: string, answer: boolean): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (!this.faults.delayMs) {
      // The frames of one turn (a commit's answer and the Transition that confirms it) leave
      // in one write: at 50 typists the server writes thousands of frames a second, and
      // here each write is a system call that cost more than the frame's encoding.
      this.answering ||= answer;
      if (!this.corked) {
        this.corked = true;
        this.socket.cork();
        process.nextTick(this.uncork);
      }
      this.ws.send(text);
      return;
    }
    this.outbox.push({ due: Date.now() + this.faults.delayMs, text });
    this.drainOutbox();
  }

  /**
   * Writes the turn's frames. A commit's frames are written in one turn, to every connection
   * that shows it; its author's, which carry the answer, go last: each write wakes a client,
   * and the first woken takes the free core. The median p50 of a key reaching the other
   * client of two fell from 6.25 to 5.05 ms, of ten from 6.25 to 5.7 (bench:clients, eight
   * pairs: bench/README.md). The author, who shows its own key at once, waits a write
   * longer for the answer.
   */
  private readonly uncork = (): void => {
    if (this.answering) {
      this.answering = false;
      process.nextTick(this.uncork);
      return;
    }
    this.corked = false;
    this.socket.uncork();
  };

  private drainOutbox(): void {
    if (this.outboxTimer) return;
    const head = this.outbox[0];
    if (!head) return;
    this.outboxTimer = setTimeout(() => {
      this.outboxTimer = null;
      const now = Date.now();
      while (this.outbox.length > 0 && this.outbox[0]!.due <= now) {
        const next = this.outbox.shift()!;
        if ("end" in next) return next.end();
        if (!this.closed && this.ws.readyState === this.ws.OPEN) this.ws.send(next.text);
      }
      this.drainOutbox();
    }, Math.max(0, head.due - Date.now()));
  }

  /**
   * Ends the link after what was already sent: messages waiting for the disk or still held
   * by `delayMs` were on their way, so a close or an injected drop loses only what comes
   * after it.
   */
  private afterSent(end: () => void): void {
    this.engine.afterDurable(() => {
      const last = this.outbox.at(-1);
      if (last) this.outbox.push({ due: last.due, end });
      else end();
    });
  }

  close(code: number, reason: string): void {
    if (this.closed) return;
    this.afterSent(() => {
      if (this.closed) return;
      // Close reasons are limited to 123 bytes.
      this.ws.close(code, Buffer.from(reason).subarray(0, 120).toString());
      this.dispose();
    });
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.outboxTimer) clearTimeout(this.outboxTimer);
    this.outbox = [];
    for (const [queryId, entry] of this.queries) this.reactivity.unsubscribe(this, queryId, entry);
    this.queries.clear();
    this.onClosed(this);
  }
}

function firstArg(args: JSONValue[]): JSONValue {
  return args[0] ?? {};
}
