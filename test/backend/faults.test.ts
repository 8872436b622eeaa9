// Fault injection: Convex's failures on demand, off unless asked for.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { afterAll, describe, expect, it } from "vitest";
import { parseFaults } from "../../backend/faults.js";
import { api } from "../../harness/backendFixture/convex/_generated/api";
import { removeTempDirs, startFixture } from "./helpers.js";

afterAll(() => removeTempDirs());

describe("faults", () => {
  it("fails mutations with Convex's conflict text and answers overload with 503", async () => {
    const conflict = await startFixture(undefined, { faults: { conflictRate: 1 } });
    const overload = await startFixture(undefined, { faults: { overloadRate: 1 } });
    try {
      const err = await new ConvexHttpClient(conflict.url).mutation(api.counters.increment, { name: "c" }).catch((e: Error) => e);
      expect(String(err)).toContain("changed while this mutation was being run and on every subsequent retry");
      const res = await fetch(`${overload.url}/api/mutation`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ path: "counters:increment", args: [{ name: "o" }], format: "json" }),
      });
      expect(res.status).toBe(503);
    } finally {
      await conflict.close();
      await overload.close();
    }
  });

  // Found by the long real-session fuzz: with delayed messages, a drop threw away every
  // answer still held, and a new socket was dropped as soon as the last, so a client
  // resending a long queue after each reconnect never got through.
  it("a client with many mutations in flight gets through drops after commit when messages are delayed", async () => {
    const backend = await startFixture(undefined, { faults: { dropAfterCommitRate: 0.05, delayMs: 2, seed: 3 } });
    const c = new ConvexClient(backend.url, { logger: false });
    try {
      await Promise.all(Array.from({ length: 150 }, () => c.mutation(api.counters.increment, { name: "burst" })));
      expect(await new ConvexHttpClient(backend.url).query(api.counters.get, { name: "burst" })).toBe(150);
    } finally {
      await c.close();
      await backend.close();
    }
  }, 60_000);

  it("keeps exactly-once when sockets drop after commit, with delayed responses and a restart", async () => {
    const backend = await startFixture(undefined, { faults: { dropAfterCommitRate: 0.25, delayMs: 5, seed: 7 } });
    const c = new ConvexClient(backend.url, { logger: false });
    try {
      for (let i = 0; i < 5; i++) await c.mutation(api.counters.increment, { name: "once" });
      await backend.restart();
      await c.mutation(api.counters.increment, { name: "once" });
      expect(await new ConvexHttpClient(backend.url).query(api.counters.get, { name: "once" })).toBe(6);
    } finally {
      await c.close();
      await backend.close();
    }
  });

  it("refuses unknown faults and bad rates clearly", () => {
    expect(parseFaults("conflictRate=0.1,delayMs=20")).toEqual({ conflictRate: 0.1, delayMs: 20 });
    expect(() => parseFaults("conflictRate=2")).toThrow("between 0 and 1");
    expect(() => parseFaults("dropRate=0.1")).toThrow('unknown fault "dropRate"');
  });
});
