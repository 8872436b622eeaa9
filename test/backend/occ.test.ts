// Optimistic concurrency: a mutation waiting for something outside the database (Web
// Crypto) does not hold the others up; when its answer comes it is resumed if nothing it
// read was overwritten meanwhile, run again if something was, and failed with Convex's
// error after the last retry. The test seam only decides when the outside answer is
// handed back (after a write the test makes), so every interleaving here is deterministic.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ContentionStats } from "../../backend/engine.js";
import type { RunningBackend } from "../../backend/serve.js";
import { api } from "../../harness/backendFixture/convex/_generated/api";
import { removeTempDirs, startFixture, waitFor } from "./helpers.js";

afterAll(() => removeTempDirs());

/** What to do before an outside answer of `udfPath`'s attempt `attempt` is handed back. */
let meanwhile: (udfPath: string, attempt: number) => Promise<unknown> = async () => {};
let dropNextCommitOf: string | null = null;

function delta(before: ContentionStats, after: ContentionStats): { retries: number; failed: number; mutations: number } {
  return { retries: after.retries - before.retries, failed: after.failedAfterRetries - before.failedAfterRetries, mutations: after.mutations - before.mutations };
}

describe("optimistic mutations", () => {
  let backend: RunningBackend;
  let http: ConvexHttpClient;
  /** Writes made while a mutation waits (a client of their own: ConvexHttpClient sends one mutation at a time). */
  let other: ConvexHttpClient;

  beforeAll(async () => {
    backend = await startFixture(undefined, {
      hooks: {
        holdOutsideAnswer: (udfPath, attempt) => meanwhile(udfPath, attempt).then(() => {}),
        afterMutationCommit: (udfPath) => {
          if (udfPath !== dropNextCommitOf) return;
          dropNextCommitOf = null;
          return "drop";
        },
      },
    });
    http = new ConvexHttpClient(backend.url);
    other = new ConvexHttpClient(backend.url);
    // The table exists before the tests (a table created while a mutation waits is a conflict of its own).
    await http.mutation(api.counters.increment, { name: "warm-up" });
  });

  afterAll(async () => {
    meanwhile = async () => {};
    await backend.close();
  });

  it("retries a mutation whose read was overwritten while it waited outside, and both results are serializable", async () => {
    let theirs: number | undefined;
    meanwhile = async (udfPath, attempt) => {
      if (udfPath.includes("readWaitIncrement") && attempt === 0) theirs = await other.mutation(api.counters.increment, { name: "x" });
    };
    const before = backend.contention();
    const mine = await http.mutation(api.occ.readWaitIncrement, { name: "x" });
    // The other increment committed while this one waited (it could not have, had this one
    // held the engine); this one then ran again on top of it: the order other → mine.
    expect(theirs).toBe(1);
    expect(mine).toBe(2);
    expect(await http.query(api.counters.get, { name: "x" })).toBe(2);
    expect(delta(before, backend.contention())).toEqual({ retries: 1, failed: 0, mutations: 2 });
  });

  it("does not retry a mutation when what committed while it waited is outside what it read", async () => {
    let theirs: number | undefined;
    meanwhile = async (_udfPath, attempt) => {
      if (attempt === 0) theirs = await other.mutation(api.counters.increment, { name: "y-other" });
    };
    const before = backend.contention();
    expect(await http.mutation(api.occ.readWaitIncrement, { name: "y" })).toBe(1);
    expect(theirs).toBe(1);
    expect(delta(before, backend.contention())).toEqual({ retries: 0, failed: 0, mutations: 2 });
  });

  it("fails a mutation that conflicts on every retry with Convex's error, and writes nothing of it", async () => {
    meanwhile = async (udfPath) => {
      if (udfPath.includes("readWaitIncrement")) await other.mutation(api.counters.increment, { name: "z" });
    };
    const before = backend.contention();
    const error = await http.mutation(api.occ.readWaitIncrement, { name: "z" }).then(
      () => null,
      (e: Error) => e.message,
    );
    expect(error).toContain('Documents read from or written to the "counters" table changed while this mutation was being run and on every subsequent retry');
    // Five attempts (Convex's four retries), each overtaken by one increment; none of its own.
    expect(await http.query(api.counters.get, { name: "z" })).toBe(5);
    expect(delta(before, backend.contention())).toEqual({ retries: 4, failed: 1, mutations: 6 });
  });

  it("marks a scheduled mutation that conflicts on every retry failed", async () => {
    meanwhile = async (udfPath) => {
      if (udfPath.includes("readWaitIncrement")) await other.mutation(api.counters.increment, { name: "sz" });
    };
    const job = await http.mutation(api.occ.scheduleReadWaitIncrement, { name: "sz" });
    await waitFor(async () => (await http.query(api.jobs.state, { id: job })) === "failed", "the job to fail");
    expect(await http.query(api.counters.get, { name: "sz" })).toBe(5);
  });

  it("keeps exactly-once for a retried mutation whose answer is lost", async () => {
    const client = new ConvexClient(backend.url, { logger: false });
    try {
      meanwhile = async (udfPath, attempt) => {
        if (udfPath.includes("readWaitIncrement") && attempt === 0) await other.mutation(api.counters.increment, { name: "w" });
      };
      dropNextCommitOf = "occ:readWaitIncrement";
      const before = backend.contention();
      // Retried once, committed, its socket dropped before the answer: the resend gets the stored answer.
      expect(await client.mutation(api.occ.readWaitIncrement, { name: "w" })).toBe(2);
      expect(dropNextCommitOf).toBeNull();
      expect(await http.query(api.counters.get, { name: "w" })).toBe(2);
      expect(delta(before, backend.contention()).retries).toBe(1);
    } finally {
      await client.close();
    }
  });

  it("answers a resend that arrives while the first is still waiting from that one run", async () => {
    const client = new ConvexClient(backend.url, { logger: false });
    try {
      let dropped = false;
      meanwhile = async (udfPath, attempt) => {
        if (!udfPath.includes("readWaitIncrement") || attempt !== 0 || dropped) return;
        // The socket drops after another mutation's commit: the client reconnects and resends
        // the waiting one (before that other's resend, whose answer ends this wait).
        dropped = true;
        dropNextCommitOf = "counters:increment";
        await client.mutation(api.counters.increment, { name: "r-other" });
      };
      const before = backend.contention();
      expect(await client.mutation(api.occ.readWaitIncrement, { name: "r" })).toBe(1);
      expect(dropNextCommitOf).toBeNull();
      expect(await http.query(api.counters.get, { name: "r" })).toBe(1);
      expect(delta(before, backend.contention()).retries).toBe(0);
    } finally {
      await client.close();
    }
  });

  it("commits a mutation that waited at its commit timestamp: a read at a timestamp in between does not see it", async () => {
    const snapshot = new ConvexHttpClient(backend.url);
    let between: number | undefined;
    meanwhile = async (udfPath, attempt) => {
      // The snapshot client takes its timestamp here, after the mutation started and before it commits.
      if (udfPath.includes("readWaitIncrement") && attempt === 0) between = await snapshot.consistentQuery(api.counters.get, { name: "t" });
    };
    expect(await http.mutation(api.occ.readWaitIncrement, { name: "t" })).toBe(1);
    expect(between).toBe(0);
    expect(await snapshot.consistentQuery(api.counters.get, { name: "t" })).toBe(0);
    expect(await http.query(api.counters.get, { name: "t" })).toBe(1);
  });

  it("fails only a mutation that runs away after it resumed; others commit meanwhile", async () => {
    meanwhile = async () => {};
    const runaway = http.mutation(api.occ.spinAfterWait, {}).then(
      () => "returned",
      (e: Error) => e.message,
    );
    expect(await other.mutation(api.counters.increment, { name: "after-runaway" })).toBe(1);
    expect(await runaway).toContain("Function execution timed out");
    expect(await other.mutation(api.counters.increment, { name: "after-runaway" })).toBe(2);
  });

  it("keeps a waiting mutation out of a runaway query's failure", async () => {
    let query: string | undefined;
    meanwhile = async (udfPath, attempt) => {
      if (!udfPath.includes("readWaitIncrement") || attempt !== 0) return;
      // A query that runs away after its own outside wait fails while this mutation waits.
      query = await other.query(api.hostile.spinAfterOutsideWait, {}).then(
        () => "returned",
        (e: Error) => e.message,
      );
    };
    expect(await http.mutation(api.occ.readWaitIncrement, { name: "v" })).toBe(1);
    expect(query).toContain("Function execution timed out");
  });

  it("reads its own writes in index order, merged with what committed while it waited", async () => {
    meanwhile = async (udfPath, attempt) => {
      if (udfPath.includes("insertWaitList") && attempt === 0) await other.mutation(api.counters.increment, { name: "p-c" });
    };
    const before = backend.contention();
    const seen = await http.mutation(api.occ.insertWaitList, { prefix: "p-", names: ["d", "b"] });
    expect(seen).toEqual({ all: ["p-b", "p-c", "p-d"], firstPage: ["p-b", "p-c"] });
    expect(delta(before, backend.contention()).retries).toBe(0);
  });
});

describe("a table created while a mutation waits", () => {
  it("runs the mutation that created it too again, on the table as it now is", async () => {
    const backend = await startFixture(undefined, {
      hooks: {
        holdOutsideAnswer: async (udfPath, attempt) => {
          if (udfPath.includes("insertWaitList") && attempt === 0) await new ConvexHttpClient(backend.url).mutation(api.counters.increment, { name: "q-b" });
        },
      },
    });
    try {
      const http = new ConvexHttpClient(backend.url);
      // Both create the counters table (the fixture's first write to it): the waiting one's table
      // number is taken meanwhile, so it cannot put its writes back and runs again.
      const seen = await http.mutation(api.occ.insertWaitList, { prefix: "q-", names: ["a"] });
      expect(seen.all).toEqual(["q-a", "q-b"]);
      expect(backend.contention().retries).toBe(1);
    } finally {
      await backend.close();
    }
  });
});

describe("serial mutations (--serial-mutations)", () => {
  it("runs each mutation to completion before the next, and counts the conflicts Convex would have retried", async () => {
    let consulted = false;
    const backend = await startFixture(undefined, {
      serialMutations: true,
      hooks: {
        holdOutsideAnswer: async () => {
          consulted = true;
        },
      },
    });
    const client = new ConvexClient(backend.url, { logger: false });
    try {
      // Sent together: the second arrives while the first waits outside, and waits for it.
      const first = client.mutation(api.occ.readWaitIncrement, { name: "s" });
      const second = client.mutation(api.counters.increment, { name: "s" });
      expect(await first).toBe(1);
      expect(await second).toBe(2);
      const stats = backend.contention();
      expect(consulted).toBe(false);
      expect(stats.retries).toBe(0);
      // The second read the counter the first wrote after the second arrived.
      expect(stats.byFunction["counters:increment"]?.wouldConflict).toBe(1);
    } finally {
      await client.close();
      await backend.close();
    }
  });
});
