/// <reference types="vite/client" />
// The same scripted calls to the fixture project on the local backend and on convex-test.
import { ConvexHttpClient } from "convex/browser";
import { api } from "../../harness/backendFixture/convex/_generated/api";
import type { FunctionReference } from "convex/server";
import { convexTest } from "convex-test";
import { afterAll, expect, it } from "vitest";
import schema from "../../harness/backendFixture/convex/schema";
import { runScript, type Step } from "./differential.js";
import { removeTempDirs, startFixture } from "./helpers.js";

const modules = import.meta.glob("../../harness/backendFixture/convex/**/*.ts");

const q = (fn: FunctionReference<"query">, args: Record<string, unknown>, save?: string) =>
  (() => ({ kind: "query" as const, fn, args, ...(save ? { save } : {}) })) as Step;
const m = (fn: FunctionReference<"mutation">, args: Record<string, unknown>, save?: string) =>
  (() => ({ kind: "mutation" as const, fn, args, ...(save ? { save } : {}) })) as Step;

const script: Step[] = [
  m(api.spaces.create, { name: "one" }, "space"),
  m(api.spaces.create, { name: "one" }),
  (s) => ({ kind: "mutation", fn: api.notes.add, args: { spaceId: s.space, title: "alpha", tags: ["x"] }, save: "a" }),
  (s) => ({ kind: "mutation", fn: api.notes.add, args: { spaceId: s.space, title: "beta" } }),
  (s) => ({ kind: "mutation", fn: api.notes.add, args: { spaceId: s.space, title: "alps", body: "b" }, save: "c" }),
  (s) => ({ kind: "query", fn: api.notes.inSpace, args: { spaceId: s.space } }),
  (s) => ({ kind: "query", fn: api.notes.inSpace, args: { spaceId: s.space, afterRev: 1, limit: 1 } }),
  (s) => ({ kind: "query", fn: api.notes.titled, args: { spaceId: s.space, prefix: "al" } }),
  (s) => ({ kind: "query", fn: api.notes.page, args: { spaceId: s.space, paginationOpts: { numItems: 2, cursor: null } } }),
  (s) => ({ kind: "mutation", fn: api.notes.edit, args: { id: s.a, body: "new" } }),
  (s) => ({ kind: "query", fn: api.notes.get, args: { id: s.a } }),
  (s) => ({ kind: "mutation", fn: api.notes.remove, args: { id: s.c } }),
  (s) => ({ kind: "query", fn: api.notes.get, args: { id: s.c } }),
  (s) => ({ kind: "query", fn: api.notes.normalize, args: { id: s.a } }),
  (s) => ({ kind: "query", fn: api.notes.normalize, args: { id: s.space } }),
  q(api.spaces.byName, { name: "one" }),
  q(api.spaces.byName, { name: "none" }),
  m(api.spaces.create, { name: "two" }),
  q(api.spaces.list, {}),
  m(api.counters.increment, { name: "k" }),
  m(api.counters.increment, { name: "k" }),
  q(api.counters.get, { name: "k" }),
  m(api.spaces.create, { name: 3 }),
  q(api.notes.badReturn, {}),
];

afterAll(() => removeTempDirs());

it("gives the same results as convex-test on the fixture project", async () => {
  const reference = await runScript(convexTest(schema, modules), script);
  const backend = await startFixture();
  try {
    const local = await runScript(new ConvexHttpClient(backend.url), script);
    expect(local).toEqual(reference);
  } finally {
    await backend.close();
  }
});
