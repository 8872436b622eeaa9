// A function's failure is that call's failure: runaway loops stop at Convex's time limit,
// throws in timers and unhandled rejections are contained, and Convex's runtime rules hold.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningBackend } from "../../backend/serve.js";
import { api } from "../../harness/backendFixture/convex/_generated/api";
import { removeTempDirs, startFixture } from "./helpers.js";

let backend: RunningBackend;
let http: ConvexHttpClient;
const strays: unknown[] = [];

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error("expected the call to fail");
}

beforeAll(async () => {
  backend = await startFixture(undefined, { env: { DECLARED_VAR: "yes" } });
  http = new ConvexHttpClient(backend.url);
});

afterAll(async () => {
  await backend.close();
  removeTempDirs();
});

describe("isolation", () => {
  it("stops a runaway query or mutation at 1 s with Convex's message, and keeps serving", async () => {
    const c = new ConvexClient(backend.url, { logger: false });
    try {
      const spin = failure(http.query(api.hostile.spin, {}));
      const cheap = c.query(api.counters.get, { name: "x" });
      expect(await spin).toContain("Function execution timed out (maximum duration: 1s)");
      expect(await cheap).toBe(0);
      expect(await failure(c.mutation(api.hostile.spinAfterRead, {}))).toContain("Function execution timed out");
      expect(await c.mutation(api.counters.increment, { name: "after" })).toBe(1);
    } finally {
      await c.close();
    }
  });

  it("fails only the runaway mutation of a group committed together", async () => {
    const c = new ConvexClient(backend.url, { logger: false });
    try {
      const calls = [
        c.mutation(api.counters.increment, { name: "group" }),
        failure(c.mutation(api.hostile.spinAfterRead, {})),
        c.mutation(api.counters.increment, { name: "group" }),
        c.mutation(api.counters.increment, { name: "group" }),
      ];
      const [, spun, , last] = await Promise.all(calls);
      expect(spun).toContain("Function execution timed out");
      expect(last).toBe(3);
    } finally {
      await c.close();
    }
  });

  it("survives a timer throwing after an action returned and an unawaited failing call", async () => {
    expect(await http.action(api.hostile.throwInTimerLater, {})).toBe("returned");
    expect(await http.action(api.hostile.forgetAwait, {})).toBe("returned");
    await new Promise((r) => setTimeout(r, 100));
    expect(await http.query(api.counters.get, { name: "after" })).toBe(1);
    void strays;
  });
});

describe("runtime rules", () => {
  it("freezes Date.now, hides Node and undeclared environment variables in the default runtime", async () => {
    const seen = (await http.query(api.hostile.runtimeRules, {})) as Record<string, unknown>;
    expect(seen).toMatchObject({
      dateFrozen: true,
      random: "number",
      buffer: "undefined",
      require: "undefined",
      processExit: "undefined",
      declared: "yes",
      home: null,
    });
    expect(seen.envKeys).toEqual(["CONVEX_CLOUD_URL", "CONVEX_SITE_URL", "DECLARED_VAR"]);
  });

  it("holds documents and transactions to Convex's limits, with its wording", async () => {
    expect(await failure(http.mutation(api.hostile.wideDoc, { fields: 1025, nameLength: 8 }))).toContain(
      "Object has too many fields (1025 > maximum number 1024)",
    );
    expect(await failure(http.mutation(api.hostile.wideDoc, { fields: 1, nameLength: 65 }))).toContain("exceeds maximum field name length 64");
    await http.mutation(api.hostile.wideDoc, { fields: 1024, nameLength: 64 });
    expect(await failure(http.mutation(api.hostile.manyWrites, { n: 17, size: 1_000_000 }))).toContain(
      "Too many bytes written in a single function execution (limit: 16 MiB)",
    );
  });

  it("fails a run whose syscall raised a conflict or an overload with Convex's codes, writing nothing", async () => {
    const call = async (kind: string) => {
      const res = await fetch(`${backend.url}/api/mutation`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ path: "hostile:systemFailure", args: [{ kind }], format: "json" }),
      });
      return { status: res.status, body: (await res.json()) as { code: string; message: string } };
    };
    expect(await call("throwOcc")).toMatchObject({ status: 409, body: { code: "OptimisticConcurrencyControlFailure" } });
    expect(await call("throwOverloaded")).toEqual({ status: 503, body: { code: "Busy", message: "I'm a bit busy." } });
    expect(await http.query(api.counters.get, { name: "system-failure" })).toBe(0);
  });

  it("refuses timers in mutations with Convex's wording, and lets Web Crypto work", async () => {
    expect(await failure(http.mutation(api.hostile.timerInMutation, {}))).toContain(
      "Can't use setTimeout in queries and mutations. Please consider using an action.",
    );
    expect(await http.query(api.hostile.digest, { text: "abc" })).toBe(32);
  });
});
