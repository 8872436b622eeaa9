// "use node" actions run in worker threads: Node built-ins and npm packages work there, the
// engine is reached through ctx, and a crash, an exit, a runaway loop or a package that
// cannot load fails that one call with Convex's words while the server keeps serving.
import { createHash } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ConvexHttpClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunningBackend } from "../../backend/serve.js";
import { removeTempDirs, startFixture } from "./helpers.js";

const functionsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixture-node", "convex");
const action = <Result>(name: string) => makeFunctionReference<"action", Record<string, unknown>, Result>(name);
const nodeOnly = action<{ sha: string; envKeys: string[]; declaredAtLoad: string | null; viaEngine: number }>("node:nodeOnly");
const get = makeFunctionReference<"query", { name: string }, number>("counts:get");

let backend: RunningBackend;
const logged: string[] = [];
let http: ConvexHttpClient;

beforeAll(async () => {
  // Convex's knob for the action time limit, so the runaway action fails within the test.
  process.env.ACTIONS_USER_TIMEOUT_SECS = "1";
  try {
    backend = await startFixture(undefined, { functionsDir, env: { DECLARED: "yes" } });
  } finally {
    delete process.env.ACTIONS_USER_TIMEOUT_SECS;
  }
  const keep = (...args: unknown[]) => void logged.push(args.map(String).join(" "));
  http = new ConvexHttpClient(backend.url, { logger: { logVerbose: () => {}, log: keep, warn: keep, error: keep } });
});

afterAll(async () => {
  await backend.close();
  removeTempDirs();
});

async function failure(call: Promise<unknown>): Promise<string> {
  const error = await call.then(
    () => null,
    (e: Error) => e,
  );
  if (!error) throw new Error("expected the call to fail");
  return error.message;
}

it("runs Node.js actions with built-ins, the engine through ctx, and only the declared environment", async () => {
  const result = await http.action(nodeOnly, { text: "abc" });
  expect(result).toEqual({
    sha: createHash("sha256").update("abc").digest("hex").slice(0, 8),
    envKeys: ["CONVEX_CLOUD_URL", "CONVEX_SITE_URL", "DECLARED"],
    declaredAtLoad: "yes",
    viaEngine: 1,
  });
});

it("fails only the call whose action throws in a callback, exits or never yields, and keeps serving; actions stop at the time limit", async () => {
  expect(await failure(http.action(action("node:throwInCallback"), {}))).toContain("Uncaught Error: uncaughtException: Yikes");
  expect(await failure(http.action(action("node:exit"), {}))).toContain("exited (code 3)");
  const spin = failure(http.action(action("node:spin"), {}));
  // The server answers while a worker spins.
  expect(await http.query(get, { name: "abc" })).toBe(1);
  expect(await spin).toContain("Action `spin` execution timed out (maximum duration 1s)");
  // A default-runtime action is held to the same limit, in its own words.
  expect(await failure(http.action(action("counts:waitForever"), {}))).toContain("Function execution timed out (maximum duration: 1s)");
  expect((await http.action(nodeOnly, { text: "abc" })).viaEngine).toBe(2);
});

it("keeps console.time's lines, and fails calls into a module whose npm package cannot load", async () => {
  await http.action(action("node:timed"), {});
  const lines = logged.filter((l) => l.includes("step"));
  expect(lines).toHaveLength(3);
  expect(lines[0]).toMatch(/\[INFO\].*'step: \d+ms' 'half'/);
  expect(lines[1]).toMatch(/\[INFO\].*'step: \d+ms'/);
  expect(lines[2]).toMatch(/\[WARN\].*'Timer 'step' does not exist'/);
  const broken = await failure(http.action(action("broken:useIt"), {}));
  expect(broken).toContain("Failed to analyze broken.js: Uncaught Error: Cannot find module 'shared-notes-no-such-package'");
});
