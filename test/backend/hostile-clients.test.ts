// What any web page or local process can send: refused or contained, never trusted.
import Database from "better-sqlite3";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { statSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { RunningBackend } from "../../backend/serve.js";
import { api } from "../../harness/backendFixture/convex/_generated/api";
import { removeTempDirs, startFixture } from "./helpers.js";

let backend: RunningBackend;

beforeAll(async () => {
  backend = await startFixture(undefined, { allowedOrigins: ["vscode-webview://allowed"] });
});

afterAll(async () => {
  await backend.close();
  removeTempDirs();
});

const post = (headers: Record<string, string>, body = JSON.stringify({ path: "counters:increment", args: [{ name: "web" }] })) =>
  fetch(`${backend.url}/api/mutation`, { method: "POST", headers, body });

describe("browsers and other hosts", () => {
  it("refuses web pages' origins, foreign Host names and non-JSON bodies, without wildcard CORS", async () => {
    const evil = await post({ "Content-Type": "application/json", Origin: "http://evil.example" });
    expect(evil.status).toBe(403);
    expect(evil.headers.get("access-control-allow-origin")).toBeNull();
    const form = await post({ "Content-Type": "text/plain" });
    expect(form.status).toBe(415);
    const allowed = await post({ "Content-Type": "application/json", Origin: "vscode-webview://allowed" });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("vscode-webview://allowed");
    expect(await new ConvexHttpClient(backend.url).query(api.counters.get, { name: "web" })).toBe(1);

    const rebound = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${backend.url.replace("http", "ws")}/api/1.48.0/sync`, { headers: { Host: "evil.example" } });
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.once("open", () => resolve(101));
    });
    expect(rebound).toBe(403);
  });

  it("keeps its data private to the user", () => {
    expect(statSync(backend.dataDir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(backend.dataDir, "shared-notes.sqlite3")).mode & 0o777).toBe(0o600);
  });
});

describe("hostile sync frames", () => {
  it("does not let a client's maxObservedTimestamp move the server's clock past its own", async () => {
    const ws = new WebSocket(`${backend.url.replace("http", "ws")}/api/1.48.0/sync`);
    await new Promise((r) => ws.once("open", r));
    const huge = Buffer.alloc(8);
    huge.writeBigUInt64LE(2n ** 63n + 5n);
    ws.send(
      JSON.stringify({
        type: "Connect",
        sessionId: "00000000-0000-4000-8000-000000000000",
        connectionCount: 0,
        lastCloseReason: null,
        maxObservedTimestamp: huge.toString("base64"),
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    ws.close();
    const c = new ConvexClient(backend.url, { logger: false });
    try {
      expect(await c.mutation(api.counters.increment, { name: "after-attack" })).toBe(1);
      expect(await c.query(api.counters.get, { name: "after-attack" })).toBe(1);
    } finally {
      await c.close();
    }
  });

  it("bounds the error text of a huge invalid argument", async () => {
    const err = await new ConvexHttpClient(backend.url)
      .mutation(api.counters.increment, { name: 5 as unknown as string, pad: "x".repeat(2_000_000) } as never)
      .catch((e: Error) => e);
    expect(String(err)).toContain("ArgumentValidationError");
    expect(String(err).length).toBeLessThan(10_000);
  });
});

describe("storage trouble", () => {
  it("answers a commit blocked by another process's lock as retryable and keeps serving", async () => {
    const other = new Database(path.join(backend.dataDir, "shared-notes.sqlite3"));
    try {
      other.exec("BEGIN EXCLUSIVE");
      const blocked = await post({ "Content-Type": "application/json" }, JSON.stringify({ path: "counters:increment", args: [{ name: "locked" }] }));
      expect(blocked.status).toBe(503);
      const started = Date.now();
      expect((await fetch(`${backend.url}/version`)).status).toBe(200);
      expect(Date.now() - started).toBeLessThan(1000);
      other.exec("ROLLBACK");
      expect(await new ConvexHttpClient(backend.url).mutation(api.counters.increment, { name: "locked" })).toBe(1);
    } finally {
      other.close();
    }
  });
});
