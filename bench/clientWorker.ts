/**
 * One process of simulated typists for bench/clients.ts: it hosts some of a row's clients
 * (ours: NoteSessions over ConvexClient; the peer: Y.Docs over y-websocket), types their
 * keys on a fixed schedule and notes when every other client's key reaches each of them.
 * Several of these run at once, so the typists do not share one event loop.
 */
import WebSocketFromWs from "ws";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import type { ConvexClient } from "convex/browser";
import { connect } from "../client/connect";
import { Space } from "../client/space";
import type { NoteSession } from "../client/types";
import { editsFromOp, OpBuilder } from "../sync/textOp";
import { monoMs } from "./lib/clock";
import {
  benchCodesIn,
  FIRST_CODE,
  isBenchCode,
  type Arrival,
  type ClientFrames,
  type FromWorker,
  type SessionLog,
  type Target,
  type ToWorker,
  type Typed,
} from "./lib/workerProtocol";

/** One simulated user, whichever system it runs on. */
interface Typist {
  readonly index: number;
  typeAtEnd(char: string): void;
  text(): string;
  close(): Promise<void>;
}

const arrivals: Arrival[] = [];
const typed: Typed[] = [];
let frames: ClientFrames[] = [];
/** What the hosted sessions logged since setup. */
let logs: SessionLog[] = [];
let typists: Typist[] = [];
let keysPerClient = 0;
let totalClients = 0;
let timer: NodeJS.Timeout | undefined;

function send(message: FromWorker): void {
  process.send!(message);
}

function noteArrivals(client: number, inserted: string): void {
  const at = monoMs();
  for (let i = 0; i < inserted.length; i++) {
    const code = inserted.charCodeAt(i);
    if (isBenchCode(code)) arrivals.push({ code, client, at });
  }
}

/** Bytes received by this process's clients while they type (from "start" to "stop"). */
let bytesIn = 0;
let counting = false;

/** A `ws` socket that counts the bytes it receives, whichever system uses it. */
class CountingSocket extends WebSocketFromWs {
  constructor(...args: ConstructorParameters<typeof WebSocketFromWs>) {
    super(...args);
    this.on("message", (data: Buffer | ArrayBuffer) => {
      if (counting) bytesIn += data.byteLength;
    });
  }
}

/** A counting socket that also notes when each bench key first leaves in a frame and first arrives in one. */
function tracingSocket(trace: ClientFrames): typeof WebSocket {
  const sent = new Set<number>();
  const received = new Set<number>();
  class TracingSocket extends CountingSocket {
    constructor(...args: ConstructorParameters<typeof WebSocketFromWs>) {
      super(...args);
      this.on("message", (data: Buffer) => {
        const at = monoMs();
        for (const code of benchCodesIn(data.toString())) {
          if (received.has(code)) continue;
          received.add(code);
          trace.received.push([code, at]);
        }
      });
    }
    override send(data: string, ...rest: unknown[]): void {
      const at = monoMs();
      if (typeof data === "string") {
        for (const code of benchCodesIn(data)) {
          if (sent.has(code)) continue;
          sent.add(code);
          trace.sent.push([code, at]);
        }
      }
      (super.send as (...a: unknown[]) => void)(data, ...rest);
    }
  }
  return TracingSocket as unknown as typeof WebSocket;
}

async function openOurs(target: Extract<Target, { system: "ours" }>, index: number, trace: boolean): Promise<Typist> {
  const g = globalThis as { WebSocket?: typeof WebSocket };
  if (trace) {
    const clientFrames: ClientFrames = { client: index, sent: [], received: [] };
    frames.push(clientFrames);
    g.WebSocket = tracingSocket(clientFrames);
  } else {
    g.WebSocket = CountingSocket as unknown as typeof WebSocket;
  }
  const convex: ConvexClient = connect(target.url);
  delete g.WebSocket;
  const session: NoteSession = await new Space(convex, { spaceId: target.spaceId, key: target.key }).open(target.noteId, {
    user: { name: `bench${index}`, color: "#888888" },
    presence: false,
    log: (message) => logs.push({ client: index, at: monoMs(), message }),
  });
  session.onRemoteOp((op) => {
    for (const edit of editsFromOp(op)) noteArrivals(index, edit.insert);
  });
  return {
    index,
    typeAtEnd: (char) => session.applyLocal(new OpBuilder().retain(session.text.length).insert(char).build()),
    text: () => session.text,
    close: async () => {
      await session.close();
      await convex.close();
    },
  };
}

async function openYjs(target: Extract<Target, { system: "yjs" }>, index: number): Promise<Typist> {
  const doc = new Y.Doc();
  const text = doc.getText("note");
  const provider = new WebsocketProvider(target.url, target.room, doc, {
    WebSocketPolyfill: CountingSocket as unknown as typeof WebSocket,
    disableBc: true,
  });
  // The new items of each remote transaction, found from its state vectors: a Y.Text
  // event's delta walks the whole document and decoding the update parses it a second
  // time, either of which would make the bench, not Yjs, the bottleneck at 50 clients.
  doc.on("afterTransaction", (transaction: Y.Transaction) => {
    if (transaction.local) return;
    for (const [client, after] of transaction.afterState) {
      const before = transaction.beforeState.get(client) ?? 0;
      if (after <= before) continue;
      const structs = doc.store.clients.get(client) ?? [];
      for (let i = Y.findIndexSS(structs, before); i < structs.length && structs[i]!.id.clock < after; i++) {
        const struct = structs[i]!;
        if (struct instanceof Y.Item && struct.content instanceof Y.ContentString) {
          noteArrivals(index, struct.content.str.slice(Math.max(0, before - struct.id.clock)));
        }
      }
    }
  });
  await new Promise<void>((resolve) => {
    if (provider.synced) resolve();
    else provider.once("sync", () => resolve());
  });
  return {
    index,
    typeAtEnd: (char) => text.insert(text.length, char),
    text: () => text.toString(),
    close: async () => {
      provider.destroy();
      doc.destroy();
    },
  };
}

/**
 * Client i of n types key k at t0 + i/n of a key interval + k intervals: an even spread.
 * A key whose time has passed (this process was busy) is typed as soon as it can be, and
 * its lateness is reported, so the achieved rate is measured rather than assumed.
 */
function startTyping(t0: number, keysPerSecond: number, clients: number): void {
  const interval = 1000 / keysPerSecond;
  const schedule: Array<{ typist: Typist; k: number; at: number }> = [];
  for (const typist of typists) {
    for (let k = 0; k < keysPerClient; k++) schedule.push({ typist, k, at: t0 + (typist.index * interval) / clients + k * interval });
  }
  schedule.sort((a, b) => a.at - b.at);
  let next = 0;
  const tick = (): void => {
    let now = monoMs();
    while (next < schedule.length && schedule[next]!.at <= now) {
      const { typist, k, at } = schedule[next++]!;
      const code = FIRST_CODE + typist.index * keysPerClient + k;
      typist.typeAtEnd(String.fromCharCode(code));
      typed.push({ code, client: typist.index, at: now, lateMs: now - at });
      now = monoMs();
    }
    if (next < schedule.length) timer = setTimeout(tick, Math.max(0, schedule[next]!.at - monoMs()));
  };
  timer = setTimeout(tick, Math.max(0, t0 - monoMs()));
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case "setup": {
      arrivals.length = 0;
      typed.length = 0;
      frames = [];
      logs = [];
      keysPerClient = message.keysPerClient;
      totalClients = message.totalClients;
      const { target } = message;
      typists = [];
      for (const index of message.clients) {
        typists.push(target.system === "ours" ? await openOurs(target, index, message.trace) : await openYjs(target, index));
      }
      send({ type: "setupDone" });
      return;
    }
    case "start":
      bytesIn = 0;
      counting = true;
      startTyping(message.t0, message.keysPerSecond, totalClients);
      return;
    case "stop": {
      clearTimeout(timer);
      counting = false;
      const result: FromWorker = {
        type: "result",
        typed: [...typed],
        arrivals: [...arrivals],
        texts: typists.map((t) => ({ client: t.index, text: t.text() })),
        frames,
        logs,
        bytesIn,
        pid: process.pid,
      };
      // The figures first: closing sessions through a saturated server or a slow link can take long.
      send(result);
      const closing = typists;
      typists = [];
      await Promise.race([Promise.all(closing.map((t) => t.close())), new Promise((r) => setTimeout(r, 10_000))]);
      return;
    }
    default: {
      const unknown: never = message;
      throw new Error(`unknown message ${JSON.stringify(unknown)}`);
    }
  }
}

process.on("message", (message: ToWorker) => {
  handle(message).catch((e: unknown) => send({ type: "error", message: (e as Error).stack ?? String(e) }));
});
send({ type: "ready" });
