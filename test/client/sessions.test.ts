// Several real sessions over real ConvexClients against the real local backend.
import { afterEach, describe, expect, it } from "vitest";
import { TcpProxy } from "../support/tcpProxy";
import { seededRandom } from "../support/random";
import {
  cleanup,
  converged,
  countChars,
  insertAtRandom,
  newSpaceWithNote,
  openSessions,
  randomEdit,
  sleep,
  startLocalBackend,
} from "./helpers";

afterEach(cleanup);

describe("note sessions", () => {
  it("five clients typing random edits at once converge to the server's text", async () => {
    const backend = await startLocalBackend();
    const { creds, noteId } = await newSpaceWithNote(backend.url);
    const sessions = await openSessions(backend.url, creds, noteId, 5);
    const { rng, seed } = seededRandom();
    try {
      for (let round = 0; round < 40; round++) {
        for (const [i, s] of sessions.entries()) randomEdit(s, rng, "abcdefghij".slice(i * 2, i * 2 + 2));
        await sleep(rng.int(15));
      }
      const text = await converged(backend.url, creds, noteId, sessions);
      expect(text.length).toBeGreaterThan(0);
    } catch (err) {
      throw new Error(`seed ${seed}: ${(err as Error).message}`);
    } finally {
      await backend.close();
    }
  });

  it("loses nothing when the link is cut 50 times while everyone types", async () => {
    const backend = await startLocalBackend();
    const proxy = await new TcpProxy({ targetPort: backend.port }).start();
    const { creds, noteId } = await newSpaceWithNote(backend.url);
    const sessions = await openSessions(proxy.url, creds, noteId, 3);
    const { rng, seed } = seededRandom();
    const typed = ["", "", ""];
    try {
      for (let cut = 0; cut < 50; cut++) {
        for (const [i, s] of sessions.entries()) {
          const ch = "xyz"[i]!;
          insertAtRandom(s, rng, ch);
          typed[i] += ch;
        }
        await sleep(5 + rng.int(40));
        proxy.cut();
      }
      const text = await converged(backend.url, creds, noteId, sessions);
      const counts = countChars(text);
      expect(text.length).toBe(typed.join("").length);
      for (const [i, t] of typed.entries()) expect(counts.get("xyz"[i]!)).toBe(t.length);
    } catch (err) {
      throw new Error(`seed ${seed}: ${(err as Error).message}`);
    } finally {
      await proxy.close();
      await backend.close();
    }
  });
});
