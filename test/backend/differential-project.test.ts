/// <reference types="vite/client" />
// The project's own convex/ functions on the local backend: the same scripted calls give
// the same answers as on convex-test, and two real ConvexClients edit one note together.
import { randomBytes } from "node:crypto";
import path from "node:path";
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { convexTest } from "convex-test";
import { afterAll, beforeAll, expect, it } from "vitest";
import { api } from "../../convex/_generated/api";
import schema from "../../convex/schema";
import type { RunningBackend } from "../../backend/serve.js";
import { startBackend } from "../../backend/serve.js";
import { runScript, type Step } from "./differential.js";
import { removeTempDirs, repo, tempDir, waitFor } from "./helpers.js";

const modules = import.meta.glob("../../convex/**/*.*s");
const key = randomBytes(32).toString("base64url");
const wrongKey = randomBytes(32).toString("base64url");

type Saved = { space: string; note: string; other: string };
const s = (saved: Record<string, unknown>) => saved as Saved;

const script: Step[] = [
  () => ({ kind: "mutation", fn: api.spaces.create, args: { key }, save: "space" }),
  () => ({ kind: "mutation", fn: api.spaces.create, args: { key: "short" } }),
  (v) => ({ kind: "query", fn: api.spaces.verify, args: { spaceId: s(v).space, key } }),
  (v) => ({ kind: "query", fn: api.spaces.verify, args: { spaceId: s(v).space, key: wrongKey } }),
  (v) => ({ kind: "mutation", fn: api.notes.create, args: { spaceId: s(v).space, key, title: "Plan" }, save: "note" }),
  (v) => ({ kind: "mutation", fn: api.notes.create, args: { spaceId: s(v).space, key, title: "Ideas", text: "x" }, save: "other" }),
  (v) => ({ kind: "mutation", fn: api.notes.create, args: { spaceId: s(v).space, key, title: "Plan" } }),
  (v) => ({ kind: "query", fn: api.notes.list, args: { spaceId: s(v).space, key } }),
  (v) => ({ kind: "mutation", fn: api.notes.rename, args: { spaceId: s(v).space, key, noteId: s(v).other, title: "Zeal" } }),
  (v) => ({ kind: "query", fn: api.notes.find, args: { spaceId: s(v).space, key, title: "Zeal" } }),
  (v) => ({ kind: "query", fn: api.notes.find, args: { spaceId: s(v).space, key, title: "Ideas" } }),
  ...[
    { seq: 1, baseRev: 0, op: ["hello"] },
    { seq: 2, baseRev: 1, op: [5, " world"] },
    { seq: 1, baseRev: 1, op: [5, "¡"], clientId: "b" },
    { seq: 2, baseRev: 1, op: [5, " world"] },
    { seq: 3, baseRev: 3, op: [1, "ELLO", -4, 7] },
    { seq: 2, baseRev: 2, op: ["¿", 11], clientId: "b" },
    { seq: 4, baseRev: 3, op: [100, "x"] },
  ].map(
    ({ clientId = "a", ...op }): Step =>
      (v) => ({ kind: "mutation", fn: api.ops.submit, args: { spaceId: s(v).space, key, noteId: s(v).note, clientId, ...op } }),
  ),
  (v) => ({ kind: "query", fn: api.ops.since, args: { spaceId: s(v).space, key, noteId: s(v).note, afterRev: 0 } }),
  (v) => ({ kind: "query", fn: api.ops.since, args: { spaceId: s(v).space, key, noteId: s(v).note, afterRev: 2 } }),
  (v) => ({ kind: "query", fn: api.ops.since, args: { spaceId: s(v).space, key, noteId: s(v).note, afterRev: 99 } }),
  (v) => ({ kind: "query", fn: api.notes.open, args: { spaceId: s(v).space, key, noteId: s(v).note } }),
  (v) => ({ kind: "query", fn: api.notes.open, args: { spaceId: s(v).space, key: wrongKey, noteId: s(v).note } }),
  (v) => ({
    kind: "mutation",
    fn: api.presence.update,
    args: { spaceId: s(v).space, key, noteId: s(v).note, clientId: "a", name: "Ann", color: "#ff0000", rev: 3, selections: [{ anchor: 0, head: 2 }] },
  }),
  (v) => ({ kind: "mutation", fn: api.presence.leave, args: { spaceId: s(v).space, key, noteId: s(v).note, clientId: "a" } }),
  (v) => ({ kind: "query", fn: api.presence.list, args: { spaceId: s(v).space, key, noteId: s(v).note } }),
  (v) => ({ kind: "mutation", fn: api.notes.remove, args: { spaceId: s(v).space, key, noteId: s(v).other } }),
  (v) => ({ kind: "query", fn: api.notes.list, args: { spaceId: s(v).space, key } }),
  (v) => ({ kind: "query", fn: api.notes.open, args: { spaceId: s(v).space, key, noteId: "not-an-id" } }),
];

let backend: RunningBackend;

beforeAll(async () => {
  backend = await startBackend({ port: 0, dataDir: tempDir(), functionsDir: path.join(repo, "convex") });
});

afterAll(async () => {
  await backend.close();
  removeTempDirs();
});

it("gives the same results as convex-test on the project's functions", async () => {
  const reference = await runScript(convexTest({ schema, modules }), script);
  const local = await runScript(new ConvexHttpClient(backend.url), script);
  expect(local).toEqual(reference);
});

it("lets two ConvexClients edit one note and see each other's ops", async () => {
  const http = new ConvexHttpClient(backend.url);
  const spaceKey = randomBytes(32).toString("base64url");
  const spaceId = await http.mutation(api.spaces.create, { key: spaceKey });
  const noteId = await http.mutation(api.notes.create, { spaceId, key: spaceKey, title: "Shared" });
  const alice = new ConvexClient(backend.url, { logger: false });
  const bob = new ConvexClient(backend.url, { logger: false });
  let bobSees: { kind: string; head: number } | undefined;
  bob.onUpdate(api.ops.since, { spaceId, key: spaceKey, noteId, afterRev: 0 }, (r) => (bobSees = r));
  await waitFor(() => bobSees?.head === 0, "bob's first result");
  const first = await alice.mutation(api.ops.submit, { spaceId, key: spaceKey, noteId, clientId: "alice", seq: 1, baseRev: 0, op: ["hi"] });
  expect(first).toMatchObject({ kind: "applied", rev: 1 });
  await waitFor(() => bobSees?.head === 1, "alice's op at bob");
  const opened = await bob.query(api.notes.open, { spaceId, key: spaceKey, noteId });
  expect(opened.text).toBe("hi");
  await alice.close();
  await bob.close();
});
