// What survives: a backend killed mid-typing, a client process killed while offline,
// and the CLI's live `watch`.
import { afterEach, describe, expect, it } from "vitest";
import path from "node:path";
import { FilePendingStore } from "../../client/pendingStore";
import { Space } from "../../client/space";
import { freePort } from "../backend/helpers";
import { TcpProxy } from "../../harness/tcpProxy";
import { seededRandom } from "../../harness/random";
import {
  cleanup,
  cli,
  client,
  converged,
  countChars,
  insertAtRandom,
  newSpaceWithNote,
  openSessions,
  repo,
  serverText,
  sleep,
  spawnServe,
  spawnTs,
  startLocalBackend,
  tempDir,
  waitFor,
  waitForOutput,
} from "./helpers";

afterEach(cleanup);

describe("durability", () => {
  it("keeps every confirmed and pending edit when the backend is killed and restarted", async () => {
    const dataDir = tempDir();
    const port = await freePort();
    let serve = await spawnServe(dataDir, port);
    const { creds, noteId } = await newSpaceWithNote(serve.url);
    const sessions = await openSessions(serve.url, creds, noteId, 3);
    const { rng, seed } = seededRandom();
    const typed = [0, 0, 0];
    try {
      for (let round = 0; round < 60; round++) {
        for (const [i, s] of sessions.entries()) {
          insertAtRandom(s, rng, "pqr"[i]!);
          typed[i]! += 1;
        }
        await sleep(rng.int(20));
        if (round === 20 || round === 40) {
          serve.child.kill("SIGKILL");
          await serve.exited;
          serve = await spawnServe(dataDir, port);
        }
      }
      const text = await converged(serve.url, creds, noteId, sessions);
      const counts = countChars(text);
      for (const [i, n] of typed.entries()) expect(counts.get("pqr"[i]!)).toBe(n);
    } catch (err) {
      throw new Error(`seed ${seed}: ${(err as Error).message}`, { cause: err });
    } finally {
      serve.child.kill("SIGKILL");
    }
  });

  it("delivers an edit made offline after the client process was killed", async () => {
    const backend = await startLocalBackend();
    const proxy = await new TcpProxy({ targetPort: backend.port }).start();
    const { creds, noteId } = await newSpaceWithNote(backend.url);
    const storeDir = tempDir();
    try {
      const writer = spawnTs(path.join(repo, "test/client/fixtures/offlineWriter.ts"), [
        proxy.url, creds.spaceId, creds.key, noteId, storeDir, "written while offline",
      ]);
      const typed = waitForOutput(writer, "typed offline");
      await waitForOutput(writer, "opened");
      proxy.goDown();
      await typed;
      // Until its parent reaps it, a killed process still answers kill(pid, 0), and its
      // saved edits look held by a live session: wait for the exit, as a restart would.
      const exited = new Promise((resolve) => writer.once("exit", resolve));
      writer.kill("SIGKILL");
      await exited;
      expect(await serverText(backend.url, creds, noteId)).toBe("");

      proxy.restore();
      const session = await new Space(client(proxy.url), creds).open(noteId, {
        user: { name: "next", color: "#00ff00" },
        store: new FilePendingStore(storeDir),
        presence: false,
      });
      await session.flush();
      await waitFor(async () => (await serverText(backend.url, creds, noteId)) === "written while offline", "the offline edit");
      expect(new FilePendingStore(storeDir).load(`${creds.spaceId}/${noteId}`)).toBeUndefined();
    } finally {
      await proxy.close();
      await backend.close();
    }
  });

  it("`watch` prints text appended by another process", async () => {
    const backend = await startLocalBackend();
    const { creds, noteId } = await newSpaceWithNote(backend.url, "Diary");
    const writer = (await openSessions(backend.url, creds, noteId, 1))[0]!;
    writer.applyLocal(["dear diary\n"]);
    await writer.flush();
    const env = { SHARED_NOTES_URL: backend.url, SHARED_NOTES_SPACE: creds.spaceId, SHARED_NOTES_KEY: creds.key, XDG_STATE_HOME: tempDir() };
    try {
      const watch = cli(["watch", "Diary"], env);
      await waitForOutput(watch, "dear diary");
      const seen = waitForOutput(watch, "hello from elsewhere");
      const append = cli(["append", "Diary", "hello from elsewhere"], env);
      const code = await new Promise<number | null>((resolve) => append.on("exit", resolve));
      expect(code).toBe(0);
      expect(await seen).toContain("hello from elsewhere");
    } finally {
      await backend.close();
    }
  });
});
