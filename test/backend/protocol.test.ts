// Bad frames close only the socket that sent them; a mutation whose response is lost
// with its socket is applied exactly once; a commit's pushes to followers are written
// before its author's answer; a result shared by many watchers is encoded whole for each.
import { ConvexClient } from "convex/browser";
import { api } from "../../harness/backendFixture/convex/_generated/api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { encodeServerMessage, encodeTs, type ServerMessage } from "../../backend/protocol.js";
import type { RunningBackend } from "../../backend/serve.js";
import { removeTempDirs, startFixture, waitFor } from "./helpers.js";

let backend: RunningBackend;
let dropNext = 0;

beforeAll(async () => {
  backend = await startFixture(undefined, {
    hooks: {
      afterMutationCommit: (udfPath) => {
        if (udfPath === "counters:increment" && dropNext > 0) {
          dropNext--;
          return "drop";
        }
      },
    },
  });
});

afterAll(async () => {
  await backend.close();
  removeTempDirs();
});

function rawSocket(): Promise<WebSocket> {
  const ws = new WebSocket(`${backend.url.replace("http", "ws")}/api/1.48.0/sync`);
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })));
}

const connect = JSON.stringify({ type: "Connect", sessionId: "raw", connectionCount: 0, lastCloseReason: null, clientTs: 0 });

describe("bad frames", () => {
  it.each([
    ["invalid JSON", "{nope", "not JSON"],
    ["an unknown type", JSON.stringify({ type: "Hello" }), 'Unknown message type "Hello"'],
    [
      "a wrong base version",
      JSON.stringify({ type: "ModifyQuerySet", baseVersion: 3, newVersion: 4, modifications: [] }),
      "baseVersion 3 does not match",
    ],
    ["a malformed mutation", JSON.stringify({ type: "Mutation", requestId: -1, udfPath: "x", args: [] }), "requestId"],
  ])("closes the socket that sent %s and keeps serving everyone else", async (_name, frame, reason) => {
    const observer = new ConvexClient(backend.url, { logger: false });
    const values: number[] = [];
    observer.onUpdate(api.counters.get, { name: "bad-frames" }, (v: number) => values.push(v));
    await waitFor(() => values.length > 0, "the observer's first value");

    const bystander = await rawSocket();
    bystander.send(connect);
    const offender = await rawSocket();
    offender.send(connect);
    const whyClosed = closed(offender);
    offender.send(frame);
    const { code, reason: text } = await whyClosed;
    expect(code).toBe(1002);
    expect(text).toContain(reason);

    const before = values.at(-1)!;
    const writer = new ConvexClient(backend.url, { logger: false });
    await writer.mutation(api.counters.increment, { name: "bad-frames" });
    await waitFor(() => values.at(-1) === before + 1, "the observer's update");
    expect(bystander.readyState).toBe(WebSocket.OPEN);
    bystander.close();
    await writer.close();
    await observer.close();
  });
});

describe("exactly-once mutations", () => {
  it("resolves a mutation whose socket dropped after commit, applying it once", async () => {
    const c = new ConvexClient(backend.url, { logger: false });
    dropNext = 1;
    const result = await c.mutation(api.counters.increment, { name: "once" });
    expect(result).toBe(1);
    expect(dropNext).toBe(0);
    expect(await c.query(api.counters.get, { name: "once" })).toBe(1);
    // Several in flight when the socket drops: each still lands exactly once.
    dropNext = 1;
    const results = await Promise.all([1, 2, 3, 4].map(() => c.mutation(api.counters.increment, { name: "once" })));
    expect(results.sort()).toEqual([2, 3, 4, 5]);
    expect(await c.query(api.counters.get, { name: "once" })).toBe(5);
    await c.close();
  });
});

describe("the order a commit's frames leave in", () => {
  it("writes a follower's push before the author's answer, and the author's frames in their order", async () => {
    // Both sockets are read by this process, so frames are seen in the order the server
    // wrote them: a push wakes its client, and the author already shows its own edit.
    const seen: string[] = [];
    const open = async (who: string): Promise<WebSocket> => {
      const ws = await rawSocket();
      ws.on("message", (data: Buffer) => seen.push(`${who} ${(JSON.parse(data.toString()) as { type: string }).type}`));
      ws.send(connect);
      const add = { type: "Add", queryId: 0, udfPath: "counters:get", args: [{ name: "order" }] };
      ws.send(JSON.stringify({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [add] }));
      return ws;
    };
    const author = await open("author");
    const follower = await open("follower");
    await waitFor(() => seen.filter((s) => s.endsWith("Transition")).length === 2, "both first results");
    seen.length = 0;

    author.send(JSON.stringify({ type: "Mutation", requestId: 0, udfPath: "counters:increment", args: [{ name: "order" }] }));
    await waitFor(() => seen.length === 3, "the answer and both pushes");
    expect(seen).toEqual(["follower Transition", "author MutationResponse", "author Transition"]);
    author.close();
    follower.close();
  });
});

describe("encoding a Transition", () => {
  it("gives each watcher the whole result, however many share its encoding", () => {
    const shared = { kind: "ops", ops: [{ rev: 7, op: [3, "é\u{F0000}\"\\"] }] };
    const version = (querySet: number, ts: bigint) => ({ querySet, ts, identity: 0 });
    const transition = (queryId: number): ServerMessage => ({
      type: "Transition",
      startVersion: version(1, 5n),
      endVersion: version(2, 6n),
      modifications: [
        { type: "QueryUpdated", queryId, value: shared, logLines: ["a line"], journal: null },
        { type: "QueryUpdated", queryId: queryId + 1, value: null, logLines: [], journal: "page" },
        { type: "QueryFailed", queryId: queryId + 2, errorMessage: "boom", logLines: [], errorData: { code: 1 }, journal: null },
        { type: "QueryRemoved", queryId: queryId + 3 },
      ],
    });
    for (const queryId of [0, 10]) {
      const message = transition(queryId);
      const decoded: unknown = JSON.parse(encodeServerMessage(message));
      if (message.type !== "Transition") throw new Error("not a Transition");
      expect(decoded).toEqual({
        ...message,
        startVersion: { querySet: 1, ts: encodeTs(5n), identity: 0 },
        endVersion: { querySet: 2, ts: encodeTs(6n), identity: 0 },
      });
    }
  });
});
