// ctx.scheduler and crons: jobs run once at their time, can be canceled, and survive a restart.
import { ConvexHttpClient } from "convex/browser";
import { anyApi } from "convex/server";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startBackend } from "../../backend/serve.js";
import { api } from "../../harness/backendFixture/convex/_generated/api";
import { removeTempDirs, startFixture, tempDir, waitFor } from "./helpers.js";

afterAll(() => removeTempDirs());

describe("scheduler", () => {
  it("runs runAfter/runAt jobs once, cancels pending ones, and keeps them across a restart", async () => {
    const backend = await startFixture();
    try {
      const http = new ConvexHttpClient(backend.url);
      const soon = await http.mutation(api.jobs.later, { name: "soon", delayMs: 50 });
      const canceled = await http.mutation(api.jobs.later, { name: "canceled", delayMs: 300 });
      await http.mutation(api.jobs.cancel, { id: canceled });
      const afterRestart = await http.mutation(api.jobs.later, { name: "durable", delayMs: 600 });
      await http.action(api.jobs.fromAction, { name: "from-action" });
      await waitFor(async () => (await http.query(api.jobs.state, { id: soon })) === "success", "the job to run");
      expect(await http.query(api.counters.get, { name: "soon" })).toBe(1);
      await backend.restart();
      await waitFor(async () => (await http.query(api.jobs.state, { id: afterRestart })) === "success", "the job after a restart");
      await waitFor(async () => (await http.query(api.counters.get, { name: "from-action" })) === 1, "the action's job");
      expect(await http.query(api.jobs.state, { id: canceled })).toBe("canceled");
      expect(await http.query(api.counters.get, { name: "canceled" })).toBe(0);
      expect(await http.query(api.counters.get, { name: "durable" })).toBe(1);
    } finally {
      await backend.close();
    }
  });

  it("reads a job with db.system.get only and a user document with db.get only; a job that cancels itself ends canceled", async () => {
    const backend = await startFixture();
    try {
      const http = new ConvexHttpClient(backend.url);
      const job = await http.mutation(api.jobs.later, { name: "read", delayMs: 60_000 });
      const space = await http.mutation(api.spaces.create, { name: "read" });
      expect(await http.query(api.jobs.read, { id: job, system: true })).toBe(job);
      expect(await http.query(api.jobs.read, { id: space, system: false })).toBe(space);
      await expect(http.query(api.jobs.read, { id: job, system: false })).rejects.toThrow("System tables can only be accessed from db.system.get()");
      await expect(http.query(api.jobs.read, { id: space, system: true })).rejects.toThrow("User tables can only be accessed from db.get()");
      const selfCanceling = await http.mutation(api.jobs.scheduleSelfCanceling, {});
      await waitFor(async () => (await http.query(api.jobs.state, { id: selfCanceling })) !== "pending", "the self-canceling job to run");
      expect(await http.query(api.jobs.state, { id: selfCanceling })).toBe("canceled");
    } finally {
      await backend.close();
    }
  });

  it("runs crons.ts on schedule", async () => {
    const backend = await startBackend({ port: 0, dataDir: tempDir(), functionsDir: path.join(__dirname, "fixture-crons", "convex") });
    try {
      const http = new ConvexHttpClient(backend.url);
      await waitFor(async () => ((await http.query(anyApi.ticks!.count!, {})) as number) >= 2, "two cron runs", 6000);
    } finally {
      await backend.close();
    }
  });
});
