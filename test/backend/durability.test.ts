// The backend as a child process (`shared-notes serve`): a clean restart (Ctrl-C or
// SIGTERM) keeps everything and keeps time moving forward; a kill -9 loses no confirmed
// mutation.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { api } from "../../harness/backendFixture/convex/_generated/api";
import type { GenericId } from "convex/values";
import { afterAll, describe, expect, it } from "vitest";
import { Engine } from "../../backend/engine.js";
import { decodeTs } from "../../backend/protocol.js";
import { fixtureDir, freePort, removeTempDirs, spawnServe, startFixture, tempDir, waitFor, type ServeProcess } from "./helpers.js";

const running: ServeProcess[] = [];

async function serve(dataDir: string, port: number): Promise<ServeProcess> {
  const p = await spawnServe(dataDir, port);
  running.push(p);
  return p;
}

async function queryTs(url: string): Promise<bigint> {
  const res = await fetch(`${url}/api/query_ts`, { method: "POST" });
  return decodeTs(((await res.json()) as { ts: string }).ts);
}

afterAll(() => {
  for (const p of running) p.child.kill("SIGKILL");
  removeTempDirs();
});

describe("restart", () => {
  it("keeps data, keeps timestamps increasing, and lets clients reconnect", async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const first = await serve(dataDir, port);
    const http = new ConvexHttpClient(first.url);
    const spaceId = await http.mutation(api.spaces.create, { name: "restart" });
    await http.mutation(api.notes.add, { spaceId, title: "before" });
    const client = new ConvexClient(first.url, { logger: false });
    const seen: string[][] = [];
    client.onUpdate(api.notes.inSpace, { spaceId }, (notes: Array<{ title: string }>) => seen.push(notes.map((n) => n.title)));
    await waitFor(() => seen.length > 0, "the first result");
    const tsBefore = await queryTs(first.url);

    // Ctrl-C: SIGINT reaches serve through the realm's watchdog, which holds it (watchdog.ts).
    first.child.kill("SIGINT");
    expect(await first.exited).toBe(0);

    const second = await serve(dataDir, port);
    expect(await queryTs(second.url)).toBeGreaterThanOrEqual(tsBefore);
    expect((await http.query(api.notes.inSpace, { spaceId })).map((n: { title: string }) => n.title)).toEqual(["before"]);
    await http.mutation(api.notes.add, { spaceId, title: "after" });
    expect(await queryTs(second.url)).toBeGreaterThan(tsBefore);
    // The subscribed client reconnects by itself and sees the new note.
    await waitFor(() => seen.at(-1)?.length === 2, "the reconnected subscription", 30_000);
    expect(seen.at(-1)).toEqual(["before", "after"]);
    await client.close();
    second.child.kill("SIGTERM");
    await second.exited;
  });
});

describe("kill -9", () => {
  it("keeps every mutation a client saw confirmed, and applies the rest exactly once", async () => {
    const dataDir = tempDir();
    const port = await freePort();
    const first = await serve(dataDir, port);
    const http = new ConvexHttpClient(first.url);
    const spaceId = await http.mutation(api.spaces.create, { name: "crash" });

    const clients = [0, 1, 2].map(() => new ConvexClient(first.url, { logger: false }));
    const confirmed: Array<GenericId<"notes">> = [];
    const perClient = 80;
    const all = clients.map(async (c, ci) => {
      const results: Array<GenericId<"notes">> = [];
      // A few mutations in flight per client, as an editor would have.
      for (let i = 0; i < perClient; i += 4) {
        const batch = await Promise.all(
          [0, 1, 2, 3].map((k) => c.mutation(api.notes.add, { spaceId, title: `c${ci}-${i + k}` })),
        );
        confirmed.push(...batch);
        results.push(...batch);
      }
      return results;
    });

    await waitFor(() => confirmed.length >= 60, "a stream of confirmed mutations");
    first.child.kill("SIGKILL");
    await first.exited;
    const confirmedBeforeCrash = [...confirmed];

    const second = await serve(dataDir, port);
    const http2 = new ConvexHttpClient(second.url);
    for (const id of confirmedBeforeCrash) expect(await http2.query(api.notes.get, { id })).not.toBeNull();

    // Clients reconnect and resend what was unconfirmed; nothing is applied twice.
    const results = (await Promise.all(all)).flat();
    expect(new Set(results).size).toBe(3 * perClient);
    const notes: Array<{ title: string }> = await http2.query(api.notes.inSpace, { spaceId, limit: 1000 });
    expect(notes.length).toBe(3 * perClient);
    expect(new Set(notes.map((n) => n.title)).size).toBe(3 * perClient);
    await Promise.all(clients.map((c) => c.close()));
    second.child.kill("SIGTERM");
    await second.exited;
  }, 120_000);
});

describe("acknowledgements", () => {
  it("wait for the commit to be on disk: neither the answer nor the update leaves before", async () => {
    let release = (): void => {};
    let disk: Promise<void> = Promise.resolve();
    const backend = await startFixture(undefined, { hooks: { holdDurable: () => disk } });
    const writer = new ConvexClient(backend.url, { logger: false });
    const reader = new ConvexClient(backend.url, { logger: false });
    try {
      const heard: string[] = [];
      reader.onUpdate(api.counters.get, { name: "slow disk" }, (value: number) => heard.push(`update ${value}`));
      await waitFor(() => heard.length === 1, "the first result");
      await writer.mutation(api.counters.increment, { name: "slow disk" });
      await waitFor(() => heard.length === 2, "the first increment's update");

      disk = new Promise((resolve) => (release = resolve));
      void writer.mutation(api.counters.increment, { name: "slow disk" }).then((value) => heard.push(`answer ${value}`));
      // Committed (the next query would see it), not yet on disk: nothing may say so.
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(heard).toEqual(["update 0", "update 1"]);
      release();
      await waitFor(() => heard.length === 4, "the answer and the update");
      expect(heard.slice(2).sort()).toEqual(["answer 2", "update 2"]);
    } finally {
      await writer.close();
      await reader.close();
      await backend.close();
    }
  });

  it("do not hold the next commit: groups commit while the last one syncs, and their answers wait for it", async () => {
    let release = (): void => {};
    let disk: Promise<void> = Promise.resolve();
    const backend = await startFixture(undefined, { hooks: { holdDurable: () => disk } });
    const c = new ConvexClient(backend.url, { logger: false });
    try {
      await c.mutation(api.counters.increment, { name: "pipelined" });
      disk = new Promise((resolve) => (release = resolve));
      const answers: number[] = [];
      const commits = backend.contention().commits;
      const first = c.mutation(api.counters.increment, { name: "pipelined" }).then((value) => answers.push(value));
      await waitFor(() => backend.contention().commits === commits + 1, "the first commit");
      const more = [0, 1, 2].map(() => c.mutation(api.counters.increment, { name: "pipelined" }).then((value) => answers.push(value)));
      await waitFor(() => backend.contention().commits >= commits + 2, "a commit while the first one syncs");
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(answers).toEqual([]);
      release();
      await Promise.all([first, ...more]);
      expect(answers).toEqual([2, 3, 4, 5]);
    } finally {
      await c.close();
      await backend.close();
    }
  });
});

describe("mutations that arrive while a group waits for the disk", () => {
  it("share realm entries instead of taking one each", async () => {
    let release = (): void => {};
    let disk: Promise<void> = Promise.resolve();
    const engine = await Engine.open(tempDir(), fixtureDir, { env: {} }, { holdDurable: () => disk });
    const increment = () => engine.mutateAsync({ udfPath: "counters:increment", args: { name: "joined" }, identity: null });
    try {
      await increment();
      disk = new Promise((resolve) => (release = resolve));
      // The first commits and syncs (held); the second runs and its group waits for that sync.
      const waiting = [increment(), increment()];
      await new Promise((resolve) => setTimeout(resolve, 5));
      const before = engine.contention().realmEntries;
      // Twenty arrivals in twenty callbacks of one turn of the event loop, as many sockets' frames would.
      const arrivals = Array.from({ length: 20 }, () => new Promise<number>((resolve) => setTimeout(() => void increment().then((r) => resolve(Number(r.outcome.ok && r.outcome.value))), 0)));
      await new Promise((resolve) => setTimeout(resolve, 50));
      const entries = engine.contention().realmEntries - before;
      release();
      const values = await Promise.all(arrivals);
      await Promise.all(waiting);
      // Joining at once took an entry each. Together they take one, and one more per few ms
      // the group runs (it lets the event loop in) or per group its budget splits them into.
      expect(entries).toBeLessThanOrEqual(10);
      expect([...values].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 4));
    } finally {
      release();
      await engine.close();
    }
  });
});

describe("a backlog", () => {
  it("is committed in longer groups than a short queue", async () => {
    const engine = await Engine.open(tempDir(), fixtureDir, { env: {} });
    // Each a few ms: 40 of them run for well over one group's default 20 ms.
    const burst = () =>
      Array.from({ length: 40 }, () => engine.mutateAsync({ udfPath: "hostile:manyWrites", args: { n: 200, size: 50 }, identity: null }));
    try {
      let commits = engine.contention().commits;
      await Promise.all(burst());
      const unhurried = engine.contention().commits - commits;
      // Work that holds the worker for a second (as a busy server's would) while the burst queues.
      commits = engine.contention().commits;
      const busy = engine.exclusive(() => new Promise((resolve) => setTimeout(resolve, 1000)));
      await Promise.all([busy, ...burst()]);
      const behind = engine.contention().commits - commits;
      expect(unhurried).toBeGreaterThanOrEqual(6);
      expect(behind).toBeLessThan(unhurried / 2);
    } finally {
      await engine.close();
    }
  });
});
