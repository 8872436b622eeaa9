// `shared-notes log` and `cat --rev/--at` as a user runs them: real processes, a real local
// backend, two people typing through real sessions.
import { afterEach, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import { OpBuilder } from "../../sync/textOp";
import { cleanup, cli, converged, newSpaceWithNote, openSessions, sleep, startLocalBackend } from "./helpers";
import type { NoteSession } from "../../client/types";

afterEach(cleanup);

async function run(child: ChildProcess): Promise<{ code: number | null; out: string; err: string }> {
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  child.stdin?.end();
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { code, out, err };
}

async function typeAtEnd(session: NoteSession, text: string): Promise<void> {
  session.applyLocal(new OpBuilder().retain(session.text.length).insert(text).build());
  await session.flush();
}

describe("shared-notes log and cat --rev", () => {
  it("lists the session with both authors and prints the note as it was at a revision and a time", async () => {
    const backend = await startLocalBackend();
    try {
      const { creds, noteId } = await newSpaceWithNote(backend.url, "Plan");
      const [ada, grace] = (await openSessions(backend.url, creds, noteId, 2)) as [NoteSession, NoteSession];
      await typeAtEnd(ada, "Hello");
      await converged(backend.url, creds, noteId, [ada, grace]);
      await sleep(20);
      const between = Date.now();
      await sleep(20);
      await typeAtEnd(grace, " world");
      await typeAtEnd(grace, "!");
      await converged(backend.url, creds, noteId, [ada, grace]);
      const env = { SHARED_NOTES_URL: backend.url, SHARED_NOTES_SPACE: creds.spaceId, SHARED_NOTES_KEY: creds.key };

      const log = await run(cli(["log", "Plan"], env));
      expect(log.err).toBe("");
      expect(log.code).toBe(0);
      const lines = log.out.trim().split("\n");
      expect(lines).toHaveLength(1);
      // One session, r1-3, 12 characters added: user1 (Grace) typed 7, user0 (Ada) 5.
      expect(lines[0]).toMatch(/^r1-3\t\d{4}-\d\d-\d\d \d\d:\d\d:\d\d.*\t\+12 −0\tuser1 \(\+7 −0\), user0 \(\+5 −0\)$/);

      expect((await run(cli(["cat", "Plan", "--rev", "1"], env))).out).toBe("Hello");
      expect((await run(cli(["cat", "Plan", "--at", String(between)], env))).out).toBe("Hello");

      const ahead = await run(cli(["cat", "Plan", "--rev=9"], env));
      expect(ahead.code).toBe(1);
      expect(ahead.err).toMatch(/Revision 9 is ahead of the note, whose latest revision is 3/);
    } finally {
      await backend.close();
    }
  });
});
