// A query or mutation that awaits something outside the realm (Web Crypto on the thread
// pool) resumes when the answer settles, and a runaway loop after such a wait fails that
// call alone.
import { ConvexHttpClient } from "convex/browser";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunningBackend } from "../../backend/serve.js";
import { api } from "../../harness/backendFixture/convex/_generated/api";
import { removeTempDirs, startFixture } from "./helpers.js";

let backend: RunningBackend;
let http: ConvexHttpClient;

beforeAll(async () => {
  backend = await startFixture();
  http = new ConvexHttpClient(backend.url);
});

afterAll(async () => {
  await backend.close();
  removeTempDirs();
});

it("resumes a call waiting on Web Crypto, and fails only a call that runs away after its wait", async () => {
  // Over the size hashed at once: this digest is Web Crypto's own, answered from its thread pool.
  expect(await http.query(api.hostile.digest, { text: "x".repeat(100_000) })).toBe(32);
  const runaway = http.query(api.hostile.spinAfterOutsideWait, {}).then(
    () => "returned",
    (e: Error) => e.message,
  );
  const meanwhile = http.mutation(api.counters.increment, { name: "outside-wait" });
  expect(await runaway).toContain("Function execution timed out");
  expect(await meanwhile).toBe(1);
  expect(await http.query(api.hostile.digest, { text: "y".repeat(100_000) })).toBe(32);
});
