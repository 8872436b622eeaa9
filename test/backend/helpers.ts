// Shared setup for the backend tests: temp data dirs, in-process and child-process
// backends, and polling.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startBackend, type RunningBackend } from "../../backend/serve.js";

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, "../..");
export const fixtureDir = path.join(here, "../../harness/backendFixture/convex");

const dirs: string[] = [];

export function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "shared-notes-backend-"));
  dirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function startFixture(dataDir = tempDir(), extra: Partial<Parameters<typeof startBackend>[0]> = {}): Promise<RunningBackend> {
  return startBackend({ port: 0, dataDir, functionsDir: fixtureDir, ...extra });
}

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export type ServeProcess = { child: ChildProcess; url: string; exited: Promise<number | null> };

/** Runs `shared-notes serve` as a child process and waits for its one-line banner. */
export async function spawnServe(dataDir: string, port: number, functionsDir = fixtureDir): Promise<ServeProcess> {
  const child = spawn(
    process.execPath,
    [path.join(repo, "dist", "cli.mjs"), "serve", "--port", String(port), "--data", dataDir, "--functions", functionsDir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      const match = /listening on (\S+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  return { child, url, exited };
}

export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
