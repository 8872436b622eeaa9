// Failed calls read as on Convex: the message ends with the user's own stack frames, mapped
// back to the convex/ files; errorData (and so a ConvexError on the client) only for a
// ConvexError; a nested call's failure quoted with its frames, then the caller's.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConvexClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import { ConvexError } from "convex/values";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunningBackend } from "../../backend/serve.js";
import { removeTempDirs, startFixture, waitFor } from "./helpers.js";

const functionsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixture-reads", "convex");
const plain = makeFunctionReference<"query", Record<string, never>, null>("errors:plain");
const coded = makeFunctionReference<"query", { subclass: boolean }, null>("errors:coded");
const nested = makeFunctionReference<"action", Record<string, never>, null>("errors:nested");
const nodeFail = makeFunctionReference<"action", Record<string, never>, null>("nodeErrors:fail");
const nodeAnonymous = makeFunctionReference<"action", Record<string, never>, null>("nodeErrors:anonymous");

let backend: RunningBackend;
let client: ConvexClient;

beforeAll(async () => {
  backend = await startFixture(undefined, { functionsDir });
  client = new ConvexClient(backend.url, { logger: false });
});

afterAll(async () => {
  await client.close();
  await backend.close();
  removeTempDirs();
});

/** "../convex/<file>:<line>:<column>" of the `new` in the source line holding `text`. */
function where(file: string, text: string): string {
  const lines = readFileSync(path.join(functionsDir, file), "utf8").split("\n");
  const line = lines.findIndex((l) => l.includes(text));
  if (line < 0) throw new Error(`${text} not in ${file}`);
  const column = lines[line]!.indexOf(text.startsWith("throw ") ? "new " : text);
  return `../convex/${file}:${line + 1}:${column + 1}`;
}

async function failure(call: Promise<unknown>): Promise<Error> {
  const outcome = await call.then(
    () => null,
    (e: Error) => e,
  );
  if (!outcome) throw new Error("expected the call to fail");
  return outcome;
}

/** The server's text inside what the client made of it (ConvexClient adds a prefix and suffix). */
function serverText(error: Error): string {
  const m = /^(?:\[CONVEX [QMA]\([\w:]+\)\] )?\[Request ID: [0-9a-f]{16}\] Server Error\n([\s\S]*?)(?:\n {2}Called by client)?$/.exec(error.message);
  if (!m) throw new Error(`not a server error: ${error.message}`);
  return m[1]!;
}

it("ends a failed call's message with the user's frames, mapped to the convex/ files", async () => {
  const error = await failure(client.query(plain, {}));
  expect(error).not.toBeInstanceOf(ConvexError);
  expect((error as { data?: unknown }).data).toBeUndefined();
  expect(serverText(error)).toBe(`Uncaught Error: plain failure\n    at handler (${where("errors.ts", 'throw new Error("plain failure")')})\n`);

  const node = await failure(client.action(nodeFail, {}));
  expect(node).toBeInstanceOf(ConvexError);
  expect(serverText(node)).toBe(`Uncaught ConvexError: node failure\n    at handler (${where("nodeErrors.ts", 'throw new ConvexError("node failure")')})\n`);
  const anonymous = await failure(client.action(nodeAnonymous, {}));
  expect(serverText(anonymous)).toBe(
    `Uncaught Error: anonymous node failure\n    at <anonymous> (${where("nodeErrors.ts", 'throw new Error("anonymous node failure")')})\n`,
  );
});

it("answers a failed HTTP action with Convex's JSON: code, trace, and data for a ConvexError", async () => {
  const crash = await fetch(`${backend.siteUrl}/crash`);
  expect(crash.status).toBe(500);
  const body = (await crash.json()) as { code: string; trace: string; data?: unknown };
  expect(body.code).toMatch(/^\[Request ID: [0-9a-f]{16}\] Server Error: Uncaught Error: route failure$/);
  expect(body.trace).toBe(`Uncaught Error: route failure\n    at <anonymous> (${where("http.ts", 'throw new Error("route failure")')})\n`);
  expect(body.data).toBeUndefined();
  const refused = (await (await fetch(`${backend.siteUrl}/refuse`)).json()) as { code: string; data?: unknown };
  expect(refused.code).toContain('Server Error: Uncaught ConvexError: {"code":"REFUSED"}');
  expect(refused.data).toEqual({ code: "REFUSED" });
});

it("sends errorData only for a ConvexError, named as thrown, for calls and live queries alike", async () => {
  const sub = await failure(client.query(coded, { subclass: true }));
  expect(sub).toBeInstanceOf(ConvexError);
  expect((sub as ConvexError<{ code: string }>).data).toEqual({ code: "GONE" });
  expect(serverText(sub)).toBe(`Uncaught NotFound: {"code":"GONE"}\n    at handler (${where("errors.ts", 'throw new NotFound({ code: "GONE" })')})\n`);

  const live: Error[] = [];
  const stops = [
    client.onUpdate(plain, {}, () => undefined, (e) => live.push(e)),
    client.onUpdate(coded, { subclass: false }, () => undefined, (e) => live.push(e)),
  ];
  await waitFor(() => live.length === 2, "both live queries to fail");
  const [plainLive, codedLive] = [live.find((e) => e.message.includes("plain")), live.find((e) => e.message.includes("GONE"))];
  expect(plainLive).not.toBeInstanceOf(ConvexError);
  expect(codedLive).toBeInstanceOf(ConvexError);
  expect((codedLive as ConvexError<{ code: string }>).data).toEqual({ code: "GONE" });
  for (const stop of stops) stop();
});

it("quotes a nested call's failure with its frames, then the caller's", async () => {
  const error = await failure(client.action(nested, {}));
  expect(error).toBeInstanceOf(ConvexError);
  expect((error as ConvexError<{ code: string }>).data).toEqual({ code: "GONE" });
  expect(serverText(error)).toBe(
    `Uncaught ConvexError: Uncaught ConvexError: {"code":"GONE"}\n` +
      `    at handler (${where("errors.ts", 'throw new ConvexError({ code: "GONE" })')})\n\n` +
      `    at async handler (${where("errors.ts", "await ctx.runQuery")})\n`,
  );
});

it("shows the user's frames under the backend's own errors too", async () => {
  const badIndex = await failure(client.query(makeFunctionReference<"query">("errors:badIndex"), {}));
  const at = where("errors.ts", 'withIndex("by_nothing"').replace(/:\d+$/, "");
  expect(serverText(badIndex)).toMatch(new RegExp(`^Uncaught Error: Index items\\.by_nothing not found\\.\\n    at (async )?handler \\(${at.replace(/\./g, "\\.")}:\\d+\\)\\n$`));
  const staged = await failure(client.query(makeFunctionReference<"query">("errors:stagedIndex"), {}));
  expect(serverText(staged)).toContain("Uncaught Error: Index items.by_tag is currently staged and not available to query until it is enabled\n");
  const storage = await failure(client.query(makeFunctionReference<"query">("errors:notSupported"), {}));
  expect(serverText(storage)).toBe(
    `Uncaught Error: File storage is not supported by the local backend: storageGetUrl\n    at async handler (${where("errors.ts", "await ctx.storage.getUrl")})\n`,
  );
});
