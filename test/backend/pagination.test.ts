// Live pagination as on Convex: a subscribed page keeps the end it first had (the query
// journal), so inserts and deletes grow or shrink it instead of moving items between pages;
// the journal goes to the client and back when it resubscribes; budgets, splits and bad
// options follow Convex's rules and words.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConvexClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import { afterAll, beforeAll, expect, it } from "vitest";
import WebSocket from "ws";
import type { RunningBackend } from "../../backend/serve.js";
import { removeTempDirs, startFixture, waitFor } from "./helpers.js";

type PageOpts = { numItems: number; cursor: string | null; endCursor?: string | null; maximumRowsRead?: number; maximumBytesRead?: number };
type PageArgs = { list: string; order: "asc" | "desc"; tag?: string; paginationOpts: PageOpts };
type PageResult = {
  ns: number[];
  isDone: boolean;
  continueCursor: string;
  splitCursor?: string | null;
  pageStatus?: "SplitRecommended" | "SplitRequired" | null;
};

const add = makeFunctionReference<"mutation", { list: string; n: number; tag?: string; text?: string }, string>("items:add");
const remove = makeFunctionReference<"mutation", { list: string; n: number }, null>("items:remove");
const page = makeFunctionReference<"query", PageArgs, PageResult>("items:page");
const twoPages = makeFunctionReference<"query", { list: string }, number>("items:twoPages");

const functionsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixture-reads", "convex");
let backend: RunningBackend;
let client: ConvexClient;
/** Lists whose next `items:add` loses the adding client's socket right after its commit. */
const dropAfterAdd = new Set<string>();

beforeAll(async () => {
  backend = await startFixture(undefined, {
    functionsDir,
    hooks: {
      afterMutationCommit: (udfPath) => {
        if (udfPath !== "items:add" || dropAfterAdd.size === 0) return;
        dropAfterAdd.clear();
        return "drop";
      },
    },
  });
  client = new ConvexClient(backend.url, { logger: false });
});

afterAll(async () => {
  await client.close();
  await backend.close();
  removeTempDirs();
});

async function fill(list: string, ns: number[], tag?: (n: number) => string): Promise<void> {
  for (const n of ns) await client.mutation(add, { list, n, ...(tag ? { tag: tag(n) } : {}) });
}

/** A live subscription: its latest result, and a wait for one that passes a check. */
function watch(args: PageArgs) {
  const results: PageResult[] = [];
  const errors: Error[] = [];
  const stop = client.onUpdate(page, args, (r) => results.push(r), (e) => errors.push(e));
  return {
    stop,
    errors,
    async until(check: (r: PageResult) => boolean, what: string): Promise<PageResult> {
      await waitFor(() => results.some(check), what);
      return results.filter(check).at(-1)!;
    },
    latest: () => results.at(-1),
  };
}

it("an insert into a live first page makes it longer instead of pushing its last item out of every page", async () => {
  await fill("insert", [1, 2, 3, 4]);
  const first = watch({ list: "insert", order: "desc", paginationOpts: { numItems: 2, cursor: null } });
  const one = await first.until((r) => r.ns.length > 0, "the first page");
  expect(one.ns).toEqual([4, 3]);
  const second = await client.query(page, { list: "insert", order: "desc", paginationOpts: { numItems: 2, cursor: one.continueCursor } });
  expect(second.ns).toEqual([2, 1]);

  await client.mutation(add, { list: "insert", n: 5 });
  await client.mutation(add, { list: "insert", n: 3.5 });
  const grown = await first.until((r) => r.ns.length === 4, "the first page with both inserts");
  expect(grown.ns).toEqual([5, 4, 3.5, 3]);
  // Its end did not move, so the second page still starts right after it.
  expect(grown.continueCursor).toBe(one.continueCursor);
  const again = await client.query(page, { list: "insert", order: "desc", paginationOpts: { numItems: 2, cursor: grown.continueCursor } });
  expect([...grown.ns, ...again.ns]).toEqual([5, 4, 3.5, 3, 2, 1]);
  first.stop();
});

it("a fresh subscriber to a page someone already watches gets its own page, not the grown one", async () => {
  await fill("fresh", [1, 2, 3]);
  const args: PageArgs = { list: "fresh", order: "asc", paginationOpts: { numItems: 2, cursor: null } };
  const first = watch(args);
  expect((await first.until((r) => r.ns.length > 0, "the first page")).ns).toEqual([1, 2]);
  await client.mutation(add, { list: "fresh", n: 1.5 });
  await first.until((r) => r.ns.length === 3, "the watched page with the insert");
  // Same query, same arguments, no journal: a page of its own, two items long.
  const other = new ConvexClient(backend.url, { logger: false });
  try {
    const results: PageResult[] = [];
    other.onUpdate(page, args, (r) => results.push(r));
    await waitFor(() => results.length > 0, "the fresh subscriber's page");
    expect(results[0]!.ns).toEqual([1, 1.5]);
    // Both stay live, each with its own end.
    await client.mutation(add, { list: "fresh", n: 0.5 });
    await waitFor(() => results.at(-1)!.ns.length === 3, "the fresh page with the second insert");
    expect(results.at(-1)!.ns).toEqual([0.5, 1, 1.5]);
    expect((await first.until((r) => r.ns.length === 4, "the first page with both inserts")).ns).toEqual([0.5, 1, 1.5, 2]);
  } finally {
    await other.close();
    first.stop();
  }
});

it("a delete in a live first page makes it shorter instead of showing the next page's first item twice", async () => {
  await fill("delete", [1, 2, 3, 4]);
  const first = watch({ list: "delete", order: "asc", paginationOpts: { numItems: 2, cursor: null } });
  const one = await first.until((r) => r.ns.length > 0, "the first page");
  expect(one.ns).toEqual([1, 2]);

  await client.mutation(remove, { list: "delete", n: 1 });
  const shrunk = await first.until((r) => r.ns.length === 1, "the first page without the deleted item");
  expect(shrunk.ns).toEqual([2]);
  expect(shrunk.isDone).toBe(false);
  const second = await client.query(page, { list: "delete", order: "asc", paginationOpts: { numItems: 2, cursor: shrunk.continueCursor } });
  expect(second.ns).toEqual([3, 4]);
  first.stop();
});

it("a client that reconnects resends its journal, and its page keeps its end", async () => {
  await fill("reconnect", [1, 2, 3]);
  const own = new ConvexClient(backend.url, { logger: false });
  const results: PageResult[] = [];
  const stop = own.onUpdate(page, { list: "reconnect", order: "asc", paginationOpts: { numItems: 2, cursor: null } }, (r) => results.push(r));
  await waitFor(() => results.length > 0, "the first page");
  expect(results[0]!.ns).toEqual([1, 2]);
  // The insert's socket drops before any update of it goes out: the page that comes back is
  // the resubscription's, made from the journal the client sent with it.
  dropAfterAdd.add("reconnect");
  await own.mutation(add, { list: "reconnect", n: 1.5 });
  await waitFor(() => results.some((r) => r.ns.includes(1.5)), "the page after the reconnect");
  expect(results.at(-1)!.ns).toEqual([1, 1.5, 2]);
  expect(dropAfterAdd.size).toBe(0);
  stop();
  await own.close();
});

it("a first page that reached the end keeps every item added after it", async () => {
  const first = watch({ list: "empty", order: "asc", paginationOpts: { numItems: 1, cursor: null } });
  const none = await first.until(() => true, "the empty page");
  expect(none).toMatchObject({ ns: [], isDone: true });
  await fill("empty", [1, 2]);
  const both = await first.until((r) => r.ns.length === 2, "both new items");
  expect(both).toMatchObject({ ns: [1, 2], isDone: true });
  first.stop();
});

it("a page read to exactly numItems is not done: the next one, empty, is", async () => {
  await fill("exact", [1, 2]);
  const one = await client.query(page, { list: "exact", order: "asc", paginationOpts: { numItems: 2, cursor: null } });
  expect(one).toMatchObject({ ns: [1, 2], isDone: false });
  const two = await client.query(page, { list: "exact", order: "asc", paginationOpts: { numItems: 2, cursor: one.continueCursor } });
  expect(two).toMatchObject({ ns: [], isDone: true });
});

it("an end cursor bounds the page, whatever numItems asks for", async () => {
  await fill("bounded", [1, 2, 3, 4]);
  const one = await client.query(page, { list: "bounded", order: "asc", paginationOpts: { numItems: 2, cursor: null } });
  const pinned = await client.query(page, {
    list: "bounded",
    order: "asc",
    paginationOpts: { numItems: 100, cursor: null, endCursor: one.continueCursor },
  });
  expect(pinned).toMatchObject({ ns: [1, 2], isDone: false, continueCursor: one.continueCursor });
});

it("row and byte budgets end a page early and ask for a split", async () => {
  await fill("budget", [1, 2, 3, 4, 5, 6], (n) => (n % 2 ? "odd" : "even"));
  const opts = (extra: Partial<PageOpts>): PageOpts => ({ numItems: 10, cursor: null, ...extra });
  // Two rows read, one of them odd: the page stops before the third row.
  const odd = await client.query(page, { list: "budget", order: "asc", tag: "odd", paginationOpts: opts({ maximumRowsRead: 2 }) });
  expect(odd).toMatchObject({ ns: [1], isDone: false, pageStatus: "SplitRequired" });
  const next = await client.query(page, {
    list: "budget",
    order: "asc",
    tag: "odd",
    paginationOpts: opts({ cursor: odd.continueCursor, maximumRowsRead: 2 }),
  });
  expect(next).toMatchObject({ ns: [3], pageStatus: "SplitRequired" });
  // A full page past 3/4 of its budget: a split is recommended, at the middle row.
  const near = await client.query(page, { list: "budget", order: "asc", paginationOpts: opts({ numItems: 4, maximumRowsRead: 4 }) });
  expect(near).toMatchObject({ ns: [1, 2, 3, 4], pageStatus: "SplitRecommended" });
  expect(typeof near.splitCursor).toBe("string");
  const head = await client.query(page, {
    list: "budget",
    order: "asc",
    paginationOpts: opts({ numItems: 4, endCursor: near.splitCursor! }),
  });
  expect(head.ns).toEqual([1, 2, 3]);
  const small = await client.query(page, { list: "budget", order: "asc", paginationOpts: opts({ numItems: 1, maximumRowsRead: 4 }) });
  expect(small).toMatchObject({ ns: [1], pageStatus: null, splitCursor: null });
  // Bytes: every document is well over 100 bytes, so the budget stops the page after the first.
  const bytes = await client.query(page, { list: "budget", order: "asc", paginationOpts: opts({ maximumBytesRead: 100 }) });
  expect(bytes).toMatchObject({ ns: [1], pageStatus: "SplitRequired" });
});

it("refuses bad pagination options and a second paginate with Convex's words", async () => {
  const fails = async (p: Promise<unknown>) => ((await p.then(() => null, (e: Error) => e)) as Error | null)?.message ?? "";
  expect(await fails(client.query(page, { list: "x", order: "asc", paginationOpts: { numItems: 0, cursor: null } }))).toContain(
    "Must request at least 1 document while paginating",
  );
  expect(
    await fails(client.query(page, { list: "x", order: "asc", paginationOpts: { numItems: 1, cursor: null, maximumRowsRead: 0 } })),
  ).toContain("maximumRowsRead and maximumBytesRead must be greater than 0");
  expect(await fails(client.query(twoPages, { list: "x" }))).toContain(
    "This query or mutation function ran multiple paginated queries. Convex only supports a single paginated query in each function.",
  );
});

// The client's side of the journal, spoken on a raw socket: what the server sends with a
// result, and what it does with the journal a resubscribing client sends back.
type Modification = { type: string; queryId: number; value?: PageResult; journal?: string | null; errorMessage?: string };

async function subscribeRaw(args: PageArgs, journal: unknown): Promise<Modification> {
  const ws = new WebSocket(`${backend.url.replace("http", "ws")}/api/1.48.0/sync`);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  const reply = new Promise<Modification>((resolve, reject) => {
    ws.on("message", (data: Buffer) => {
      const message = JSON.parse(data.toString()) as { type: string; modifications?: Modification[] };
      const mod = message.modifications?.find((m) => m.queryId === 0);
      if (message.type === "Transition" && mod) resolve(mod);
    });
    ws.once("close", (code, reason) => reject(new Error(`closed ${code}: ${reason.toString()}`)));
  });
  ws.send(JSON.stringify({ type: "Connect", sessionId: "raw-journal", connectionCount: 0, lastCloseReason: null, clientTs: 0 }));
  const add = { type: "Add", queryId: 0, udfPath: "items:page", args: [args], journal };
  ws.send(JSON.stringify({ type: "ModifyQuerySet", baseVersion: 0, newVersion: 1, modifications: [add] }));
  try {
    return await reply;
  } finally {
    ws.close();
  }
}

it("sends the journal with each result and keeps a resubscribing client's page end", async () => {
  await fill("journal", [1, 2, 3]);
  const args: PageArgs = { list: "journal", order: "asc", paginationOpts: { numItems: 2, cursor: null } };
  const first = await subscribeRaw(args, undefined);
  expect(first.value!.ns).toEqual([1, 2]);
  expect(typeof first.journal).toBe("string");

  await client.mutation(add, { list: "journal", n: 1.5 });
  // Coming back with its journal, the client's page still ends after 2; a fresh one reads two items.
  expect((await subscribeRaw(args, first.journal)).value!.ns).toEqual([1, 1.5, 2]);
  expect((await subscribeRaw(args, null)).value!.ns).toEqual([1, 1.5]);
  // A journal that is not ours fails the query as a bad cursor does (the hooks then restart).
  const foreign = await subscribeRaw(args, "not-a-journal");
  expect(foreign.type).toBe("QueryFailed");
  expect(foreign.errorMessage).toContain("InvalidCursor");
  await expect(subscribeRaw(args, 42)).rejects.toThrow("Add.journal must be null or a string");
});
