// The real ConvexClient and ConvexHttpClient against the local backend.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { api } from "../../harness/backendFixture/convex/_generated/api";
import { makeFunctionReference } from "convex/server";
import { ConvexError } from "convex/values";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningBackend } from "../../backend/serve.js";
import { removeTempDirs, startFixture, waitFor } from "./helpers.js";

let backend: RunningBackend;
const clients: ConvexClient[] = [];

function client(): ConvexClient {
  const c = new ConvexClient(backend.url, { logger: false });
  clients.push(c);
  return c;
}

async function caught(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected the call to fail");
}

beforeAll(async () => {
  backend = await startFixture();
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await backend.close();
  removeTempDirs();
});

describe("ConvexClient", () => {
  it("subscribes, mutates, and pushes updates to a second client", async () => {
    const writer = client();
    const reader = client();
    const spaceId = await writer.mutation(api.spaces.create, { name: "push" });
    const seen: string[][] = [];
    reader.onUpdate(api.notes.inSpace, { spaceId }, (notes: Array<{ title: string }>) => seen.push(notes.map((n) => n.title)));
    await waitFor(() => seen.length > 0, "the first result");
    expect(seen[0]).toEqual([]);
    await writer.mutation(api.notes.add, { spaceId, title: "one" });
    await writer.mutation(api.notes.add, { spaceId, title: "two" });
    await waitFor(() => seen.at(-1)?.length === 2, "both notes");
    expect(seen.at(-1)).toEqual(["one", "two"]);
  });

  it("does not push results that did not change", async () => {
    const writer = client();
    const reader = client();
    const a = await writer.mutation(api.spaces.create, { name: "quiet-a" });
    const b = await writer.mutation(api.spaces.create, { name: "quiet-b" });
    let updates = 0;
    reader.onUpdate(api.notes.inSpace, { spaceId: a }, () => updates++);
    await waitFor(() => updates === 1, "the first result");
    await writer.mutation(api.notes.add, { spaceId: b, title: "elsewhere" });
    await writer.mutation(api.notes.add, { spaceId: a, title: "here" });
    await waitFor(() => updates === 2, "the update for space a");
    expect(updates).toBe(2);
  });

  it("applies optimistic updates and then the server's result", async () => {
    const c = client();
    const values: number[] = [];
    c.onUpdate(api.counters.get, { name: "opt" }, (v: number) => values.push(v));
    await waitFor(() => values.length === 1, "the first value");
    await c.mutation(
      api.counters.increment,
      { name: "opt" },
      {
        optimisticUpdate: (store) => {
          const current = store.getQuery(api.counters.get, { name: "opt" }) as number | undefined;
          store.setQuery(api.counters.get, { name: "opt" }, (current ?? 0) + 100);
        },
      },
    );
    await waitFor(() => values.at(-1) === 1, "the server value");
    expect(values).toContain(100);
    expect(values.at(-1)).toBe(1);
  });

  it("reports ConvexError data and argument validation errors", async () => {
    const c = client();
    await c.mutation(api.spaces.create, { name: "dup" });
    const dup = await caught(c.mutation(api.spaces.create, { name: "dup" }));
    expect(dup).toBeInstanceOf(ConvexError);
    expect((dup as ConvexError<{ code: string }>).data).toEqual({ code: "EXISTS", name: "dup" });

    const bad = await caught(c.mutation(api.spaces.create, { name: 7 } as never));
    expect(bad.message).toContain("ArgumentValidationError: Value does not match validator.");
    expect(bad.message).toContain("Path: .name");
    expect(bad.message).toContain("Validator: v.string()");

    const missing = await caught(c.mutation(api.spaces.create, {} as never));
    expect(missing.message).toContain("Object is missing the required field `name`");

    const extra = await caught(c.mutation(api.spaces.create, { name: "x", color: "red" } as never));
    expect(extra.message).toContain("Object contains extra field `color` that is not in the validator.");

    const unknown = await caught(c.query(makeFunctionReference<"query">("notes:nothingHere"), {}));
    expect(unknown.message).toContain("Could not find public function for 'notes:nothingHere'");
  });

  it("fails queries in subscriptions without breaking the connection", async () => {
    const c = client();
    const errors: Error[] = [];
    c.onUpdate(api.notes.badReturn, {}, () => {}, (e) => errors.push(e));
    await waitFor(() => errors.length === 1, "the query error");
    expect(errors[0]!.message).toContain("ReturnsValidationError");
    // Only a ConvexError carries errorData; anything else reaches the client as a plain Error.
    expect(errors[0]).not.toBeInstanceOf(ConvexError);
    expect(await c.query(api.counters.get, { name: "none" })).toBe(0);
  });
});

describe("actions", () => {
  it("run queries and mutations through the backend, and fetch as on Convex", async () => {
    const c = client();
    expect(await c.action(api.counters.incrementTwice, { name: "act" })).toBe(2);
    const http = new ConvexHttpClient(backend.url);
    expect(await http.action(api.counters.incrementTwice, { name: "act" })).toBe(4);
    const err = await caught(c.action(api.counters.download, {}));
    // Actions may fetch (nothing listens on port 9, so it fails as a real fetch does).
    expect(err.message).toContain("Uncaught TypeError: fetch failed");
  });
});

describe("ConvexHttpClient", () => {
  it("runs queries and mutations with indexes, filters, pagination and normalizeId", async () => {
    const http = new ConvexHttpClient(backend.url);
    const spaceId = await http.mutation(api.spaces.create, { name: "http" });
    for (const title of ["alpha", "beta", "alps", "gamma", "alto"]) {
      await http.mutation(api.notes.add, { spaceId, title });
    }
    expect(await http.query(api.notes.titled, { spaceId, prefix: "al" })).toEqual(["alpha", "alps", "alto"]);
    const after2 = await http.query(api.notes.inSpace, { spaceId, afterRev: 2, limit: 2 });
    expect(after2.map((n: { rev: number }) => n.rev)).toEqual([3, 4]);

    const titles: string[] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 10; i++) {
      const page: { titles: string[]; isDone: boolean; continueCursor: string } = await http.query(api.notes.page, {
        spaceId,
        paginationOpts: { numItems: 2, cursor },
      });
      titles.push(...page.titles);
      cursor = page.continueCursor;
      if (page.isDone) break;
    }
    expect(titles).toEqual(["alpha", "beta", "alps", "gamma", "alto"]);
    const badCursor = await caught(http.query(api.notes.page, { spaceId, paginationOpts: { numItems: 2, cursor: "bm90LWEtY3Vyc29y" } }));
    expect(badCursor).toBeInstanceOf(ConvexError);
    expect((badCursor as ConvexError<{ paginationError: string }>).data.paginationError).toBe("InvalidCursor");

    const [first] = await http.query(api.notes.inSpace, { spaceId, limit: 1 });
    if (!first) throw new Error("expected a note");
    expect(await http.query(api.notes.normalize, { id: first._id })).toBe(first._id);
    expect(await http.query(api.notes.normalize, { id: spaceId })).toBeNull();
    expect(await http.query(api.notes.normalize, { id: "not an id" })).toBeNull();

    await http.mutation(api.notes.edit, { id: first._id, body: "edited" });
    expect((await http.query(api.notes.get, { id: first._id }))?.body).toBe("edited");
    await http.mutation(api.notes.remove, { id: first._id });
    expect(await http.query(api.notes.get, { id: first._id })).toBeNull();
  });

  it("answers consistentQuery at its timestamp, also after later writes", async () => {
    const reader = new ConvexHttpClient(backend.url);
    const writer = new ConvexHttpClient(backend.url);
    await writer.mutation(api.counters.increment, { name: "snap" });
    expect(await reader.consistentQuery(api.counters.get, { name: "snap" })).toBe(1);
    expect(await reader.consistentQuery(api.counters.get, { name: "snap" })).toBe(1);
    await writer.mutation(api.counters.increment, { name: "snap" });
    expect(await reader.consistentQuery(api.counters.get, { name: "snap" })).toBe(1);
    expect(await reader.query(api.counters.get, { name: "snap" })).toBe(2);
  });

  it("says clearly what the local backend does not support", async () => {
    const http = new ConvexHttpClient(backend.url);
    const err = await caught(http.mutation(api.notes.useStorage, {}));
    expect(err.message).toContain("File storage is not supported by the local backend: storage");
    // Convex's upload endpoint answers as plainly, not as an unknown route.
    const upload = await fetch(`${backend.url}/api/storage/upload?token=x`, { method: "POST" });
    expect(upload.status).toBe(501);
    expect(await upload.json()).toEqual({ code: "NotSupported", message: "File storage is not supported by the local backend: POST /api/storage/upload" });
  });

});
