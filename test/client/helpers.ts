// Shared setup for the client tests: a real local backend running the project's own
// Convex functions, real ConvexClients, and notes typed into by several sessions.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ConvexClient } from "convex/browser";
import { startBackend, type RunningBackend } from "../../backend/serve";
import { connect } from "../../client/connect";
import { createSpace, Space } from "../../client/space";
import type { NoteSession, SpaceCredentials } from "../../client/types";
import { OpBuilder } from "../../sync/textOp";
import type { Random } from "../../harness/random";
import { spawnServe as spawnFixtureServe, waitFor, type ServeProcess } from "../backend/helpers";

export { waitFor };

export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const dirs: string[] = [];
const clients: ConvexClient[] = [];
const children: ChildProcess[] = [];

export function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "shared-notes-client-"));
  dirs.push(dir);
  return dir;
}

export function startLocalBackend(dataDir = tempDir(), port = 0): Promise<RunningBackend> {
  return startBackend({ port, dataDir });
}

export function client(url: string): ConvexClient {
  const c = connect(url);
  clients.push(c);
  return c;
}

export async function cleanup(): Promise<void> {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export async function newSpaceWithNote(url: string, title = "Plan"): Promise<{ creds: SpaceCredentials; noteId: string }> {
  const convex = client(url);
  const creds = await createSpace(convex);
  const noteId = await new Space(convex, creds).create(title);
  return { creds, noteId };
}

export async function openSessions(url: string, creds: SpaceCredentials, noteId: string, count: number): Promise<NoteSession[]> {
  return await Promise.all(
    Array.from({ length: count }, (_, i) =>
      new Space(client(url), creds).open(noteId, { user: { name: `user${i}`, color: "#00aaff" } }),
    ),
  );
}

/** Inserts `text` at a random place of the session's current text. */
export function insertAtRandom(session: NoteSession, rng: Random, text: string): void {
  const at = rng.int(session.text.length + 1);
  session.applyLocal(new OpBuilder().retain(at).insert(text).retain(session.text.length - at).build());
}

/** A random small edit: mostly typing, sometimes deleting a little. */
export function randomEdit(session: NoteSession, rng: Random, alphabet: string): void {
  const length = session.text.length;
  if (length > 0 && rng.int(4) === 0) {
    const at = rng.int(length);
    const n = 1 + rng.int(Math.min(5, length - at));
    session.applyLocal(new OpBuilder().retain(at).delete(n).retain(length - at - n).build());
  } else {
    insertAtRandom(session, rng, alphabet[rng.int(alphabet.length)]!.repeat(1 + rng.int(3)));
  }
}

export async function serverText(url: string, creds: SpaceCredentials, noteId: string): Promise<string> {
  const convex = client(url);
  const session = await new Space(convex, creds).open(noteId, { user: { name: "reader", color: "#000000" }, presence: false });
  const text = session.text;
  await session.close();
  return text;
}

/** Waits until every session and the server hold the same text, and returns it. */
export async function converged(url: string, creds: SpaceCredentials, noteId: string, sessions: readonly NoteSession[]): Promise<string> {
  await Promise.all(sessions.map((s) => s.flush()));
  let server = "";
  await waitFor(async () => {
    server = await serverText(url, creds, noteId);
    return sessions.every((s) => s.text === server);
  }, "every session to match the server", 30_000);
  return server;
}

export function countChars(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const ch of text) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  return counts;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs the shared-notes command as another process. */
export function cli(args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [path.join(repo, "dist", "cli.mjs"), ...args], {
    env: { ...process.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.push(child);
  return child;
}

export function spawnTs(entry: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const child = spawn(process.execPath, [path.join(repo, "scripts", "run-ts.mjs"), entry, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  return child;
}

/** Resolves with everything the stream printed once it contains `needle`. */
export function waitForOutput(child: ChildProcess, needle: string, timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`no "${needle}" in output: ${out}\nstderr: ${err}`)), timeoutMs);
    child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes(needle)) {
        clearTimeout(timer);
        resolve(out);
      }
    });
  });
}

/** `shared-notes serve` with the project's functions, as a child process that can be killed. */
export function spawnServe(dataDir: string, port: number): Promise<ServeProcess> {
  return spawnFixtureServe(dataDir, port, path.join(repo, "convex"));
}
