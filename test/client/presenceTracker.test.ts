// The client side of presence rules, over the real PresenceTracker and SyncClient with fake
// timers. The ConvexClient is replaced by a recorder of calls whose answers the test gives.
import type { ConvexClient } from "convex/browser";
import { getFunctionName, type FunctionReference } from "convex/server";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Id } from "../../convex/_generated/dataModel";
import type { PresenceEntry } from "../../convex/schema";
import { HEARTBEAT_MS, PRESENCE_UPDATE_MS, PresenceTracker } from "../../client/presence";
import type { Collaborator } from "../../client/types";
import { SyncClient } from "../../sync/syncClient";
import type { TextOp } from "../../sync/textOp";

interface Call {
  readonly name: string;
  readonly args: Record<string, unknown>;
  readonly at: number;
  readonly answer: (value: unknown) => void;
}

class RecordingConvex {
  readonly calls: Call[] = [];
  list: ((entries: PresenceEntry[]) => void) | undefined;

  onUpdate(_query: unknown, _args: unknown, callback: (entries: PresenceEntry[]) => void): () => void {
    this.list = callback;
    return () => {};
  }

  mutation(ref: FunctionReference<"mutation">, args: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve) => this.calls.push({ name: getFunctionName(ref), args, at: Date.now(), answer: resolve }));
  }

  named(name: string): Call[] {
    return this.calls.filter((c) => c.name === name);
  }

  /** Answers every call not answered yet (updates with null, heartbeats with `present`). */
  async answerAll(present = true): Promise<void> {
    for (const c of this.calls.splice(0)) {
      this.done.push(c);
      c.answer(c.name === "presence:heartbeat" ? present : null);
    }
    await vi.advanceTimersByTimeAsync(0);
  }

  readonly done: Call[] = [];
}

const auth = { spaceId: "s" as Id<"spaces">, key: "k", noteId: "n" as Id<"notes"> };
const user = { name: "Me", color: "#123456" };
let convex: RecordingConvex;
let sync: SyncClient;
let tracker: PresenceTracker;
let remoteRev = 0;

function start(text = "hello"): void {
  convex = new RecordingConvex();
  sync = new SyncClient({ clientId: "me", rev: 0, text });
  remoteRev = 0;
  tracker = new PresenceTracker(convex as unknown as ConvexClient, auth, "me", user, () => sync);
}

/** A teammate's op arrives as the next revision. */
function remote(op: TextOp): void {
  remoteRev += 1;
  sync.receive({ rev: remoteRev, clientId: "b", seq: remoteRev, op });
  tracker.textChanged();
}

/** Lets due updates go out and answers them, until nothing more is sent. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await vi.advanceTimersByTimeAsync(PRESENCE_UPDATE_MS);
    await convex.answerAll();
  }
}

const updates = () => [...convex.done, ...convex.calls].filter((c) => c.name === "presence:update");
const lastUpdate = () => updates().at(-1)!.args;

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_000_000);
});

afterEach(() => {
  void tracker.dispose();
  vi.useRealTimers();
});

describe("PresenceTracker", () => {
  it("sends selection updates one at a time, at most one per PRESENCE_UPDATE_MS, and always the last of a move", async () => {
    start("x".repeat(100));
    expect(convex.named("presence:update")).toHaveLength(1); // joining
    await convex.answerAll();
    await vi.advanceTimersByTimeAsync(PRESENCE_UPDATE_MS);
    // A drag: 50 moves, 10 ms apart, every update answered at once.
    for (let i = 1; i <= 50; i++) {
      tracker.setSelections([{ anchor: 0, head: i }]);
      await vi.advanceTimersByTimeAsync(10);
      await convex.answerAll();
    }
    await vi.advanceTimersByTimeAsync(PRESENCE_UPDATE_MS);
    await convex.answerAll();
    const sent = updates().slice(1);
    expect(sent.length).toBeLessThanOrEqual(Math.ceil((50 * 10) / PRESENCE_UPDATE_MS) + 1);
    for (let i = 1; i < sent.length; i++) expect(sent[i]!.at - sent[i - 1]!.at).toBeGreaterThanOrEqual(PRESENCE_UPDATE_MS);
    expect(lastUpdate()).toMatchObject({ rev: 0, selections: [{ anchor: 0, head: 50 }], name: "Me", color: "#123456", clientId: "me" });

    // While an update is unanswered nothing else goes out; the answer lets the latest go.
    tracker.setSelections([{ anchor: 1, head: 1 }]);
    await vi.advanceTimersByTimeAsync(PRESENCE_UPDATE_MS);
    tracker.setSelections([{ anchor: 2, head: 2 }]);
    tracker.setSelections([{ anchor: 3, head: 3 }]);
    await vi.advanceTimersByTimeAsync(10 * PRESENCE_UPDATE_MS);
    expect(convex.named("presence:update")).toHaveLength(1);
    await convex.answerAll();
    expect(convex.named("presence:update")).toHaveLength(1);
    expect(lastUpdate()).toMatchObject({ selections: [{ anchor: 3, head: 3 }] });
  });

  it("does not republish a caret that moved only because teammates' text arrived before it", async () => {
    start("hello");
    tracker.setSelections([{ anchor: 5, head: 5 }]);
    await settle();
    expect(lastUpdate()).toMatchObject({ rev: 0, selections: [{ anchor: 5, head: 5 }] });
    const before = updates().length;
    remote(["XX", 5]);
    tracker.setSelections([{ anchor: 7, head: 7 }]); // what the editor reports after the insert
    await settle();
    expect(updates()).toHaveLength(before);
    // Our own typing moves the caret the way teammates map it too: nothing to send either.
    sync.applyLocal([7, "!"]);
    tracker.textChanged();
    tracker.setSelections([{ anchor: 8, head: 8 }]);
    await settle();
    expect(updates()).toHaveLength(before);
    // A move of our own goes out, in the revision we are at.
    tracker.setSelections([{ anchor: 3, head: 3 }]);
    await settle();
    expect(updates()).toHaveLength(before + 1);
    expect(lastUpdate()).toMatchObject({ rev: 1, selections: [{ anchor: 3, head: 3 }] });
  });

  it("heartbeats every HEARTBEAT_MS without publishing, and publishes again when the server had dropped us", async () => {
    start();
    await convex.answerAll();
    await vi.advanceTimersByTimeAsync(3 * HEARTBEAT_MS);
    expect(convex.named("presence:heartbeat")).toHaveLength(1); // one at a time: the first is unanswered
    await convex.answerAll(true);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    expect(convex.named("presence:heartbeat")).toHaveLength(1);
    const before = updates().length;
    await convex.answerAll(true);
    await vi.advanceTimersByTimeAsync(PRESENCE_UPDATE_MS);
    expect(updates()).toHaveLength(before);
    await vi.advanceTimersByTimeAsync(HEARTBEAT_MS);
    await convex.answerAll(false);
    await vi.advanceTimersByTimeAsync(PRESENCE_UPDATE_MS);
    expect(updates()).toHaveLength(before + 1);
  });

  it("re-sends an unmoved selection in a newer revision when a newcomer joins, and only then", async () => {
    start("hello");
    tracker.setSelections([{ anchor: 2, head: 2 }]);
    await settle();
    const me = { clientId: "me", name: "Me", color: "#123456", rev: 0, selections: [{ anchor: 2, head: 2 }] };
    convex.list!([me]);
    const before = updates().length;
    for (let i = 0; i < 300; i++) remote([5 + i, "!"]);
    await settle();
    expect(updates()).toHaveLength(before);
    convex.list!([me, { clientId: "new", name: "New", color: "#654321", rev: 300, selections: [] }]);
    await settle();
    expect(updates()).toHaveLength(before + 1);
    expect(lastUpdate()).toMatchObject({ rev: 300, selections: [{ anchor: 2, head: 2 }] });
  });

  it("keeps placing a teammate's unmoved caret however many revisions pass after its entry", async () => {
    start("hello");
    await settle();
    const seen: Collaborator[][] = [];
    tracker.onChange((c) => seen.push([...c]));
    convex.list!([{ clientId: "b", name: "B", color: "#654321", rev: 0, selections: [{ anchor: 3, head: 3 }] }]);
    // Far more revisions than the sync client keeps, each inserting before the caret.
    for (let i = 0; i < 1000; i++) remote(["!", 5 + i]);
    expect(seen.at(-1)).toEqual([{ clientId: "b", name: "B", color: "#654321", selections: [{ anchor: 1003, head: 1003 }] }]);
    // A list push with the same entry (someone else joined) does not lose the place either.
    convex.list!([
      { clientId: "b", name: "B", color: "#654321", rev: 0, selections: [{ anchor: 3, head: 3 }] },
      { clientId: "c", name: "C", color: "#111111", rev: 1000, selections: [] },
    ]);
    expect(seen.at(-1)![0]).toMatchObject({ clientId: "b", selections: [{ anchor: 1003, head: 1003 }] });
  });
});
