// consistentQuery reads at its timestamp, as on Convex: later inserts, deletes and updates
// are invisible to it (so a paginated walk sees one state from its first page to its last),
// while plain queries see them; a timestamp older than the kept history is refused.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConvexHttpClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import { afterAll, beforeAll, expect, it } from "vitest";
import { WriteHistory } from "../../backend/history.js";
import type { RunningBackend } from "../../backend/serve.js";
import { removeTempDirs, startFixture } from "./helpers.js";

type PageResult = { ns: number[]; isDone: boolean; continueCursor: string };
type PageArgs = { list: string; order: "asc" | "desc"; paginationOpts: { numItems: number; cursor: string | null } };
const add = makeFunctionReference<"mutation", { list: string; n: number }, string>("items:add");
const remove = makeFunctionReference<"mutation", { list: string; n: number }, null>("items:remove");
const page = makeFunctionReference<"query", PageArgs, PageResult>("items:page");
const get = makeFunctionReference<"query", { id: string }, number | null>("items:get");
const count = makeFunctionReference<"query", { list: string }, number>("items:count");

const functionsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixture-reads", "convex");
let backend: RunningBackend;

beforeAll(async () => {
  backend = await startFixture(undefined, { functionsDir });
});

afterAll(async () => {
  await backend.close();
  removeTempDirs();
});

it("reads every page of a walk, gets and counts at the walk's first timestamp", async () => {
  const writer = new ConvexHttpClient(backend.url);
  const ids = new Map<number, string>();
  for (const n of [1, 2, 3]) ids.set(n, await writer.mutation(add, { list: "walk", n }));
  const walker = new ConvexHttpClient(backend.url);
  const first = await walker.consistentQuery(page, { list: "walk", order: "asc", paginationOpts: { numItems: 2, cursor: null } });
  expect(first.ns).toEqual([1, 2]);

  // Meanwhile: one item inserted before the walk's position, one removed after it, one added at the end.
  await writer.mutation(add, { list: "walk", n: 1.5 });
  await writer.mutation(remove, { list: "walk", n: 3 });
  await writer.mutation(add, { list: "walk", n: 4 });

  const second = await walker.consistentQuery(page, { list: "walk", order: "asc", paginationOpts: { numItems: 2, cursor: first.continueCursor } });
  expect(second).toMatchObject({ ns: [3], isDone: true });
  expect(await walker.consistentQuery(get, { id: ids.get(3)! })).toBe(3);
  expect(await walker.consistentQuery(count, { list: "walk" })).toBe(3);
  // A plain query, and a new consistent walk, see the latest state.
  expect(await walker.query(count, { list: "walk" })).toBe(4);
  expect((await new ConvexHttpClient(backend.url).consistentQuery(page, { list: "walk", order: "asc", paginationOpts: { numItems: 9, cursor: null } })).ns).toEqual([
    1, 1.5, 2, 4,
  ]);
});

it("refuses a timestamp older than the history it keeps", async () => {
  const encoded = Buffer.alloc(8);
  encoded.writeBigUInt64LE(1n);
  const res = await fetch(`${backend.url}/api/query_at_ts`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ path: "items:count", args: [{ list: "walk" }], ts: encoded.toString("base64"), format: "json" }),
  });
  const body = (await res.json()) as { errorMessage?: string };
  expect(body.errorMessage).toContain("Reading at a timestamp this old is not supported by the local backend");
});

it("forgets the oldest writes past its limit, and then refuses the timestamps they covered", () => {
  const history = new WriteHistory(0n);
  for (let ts = 1n; ts <= 20_001n; ts++) history.record(ts, `doc${ts % 7n}`, "items", `{"v":${ts}}`);
  expect(() => history.changedSince(10n)).toThrow("Reading at a timestamp this old is not supported by the local backend");
  // Recent enough: each document as it was then, from its first write after the timestamp.
  const changed = history.changedSince(20_000n);
  expect([...changed]).toEqual([["doc2", { table: "items", json: '{"v":20001}' }]]);
});
