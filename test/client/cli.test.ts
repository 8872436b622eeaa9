// The shared-notes command as a user runs it: real processes against a real backend.
import { afterEach, describe, expect, it } from "vitest";
import type { ChildProcess } from "node:child_process";
import { cleanup, cli, newSpaceWithNote, startLocalBackend, tempDir } from "./helpers";
import { freePort } from "../backend/helpers";
import { DEFAULT_WAIT_SECONDS, parseOptions, takeFlags } from "../../cli/options";
import { MAX_NOTE_BYTES } from "../../convex/limits";

afterEach(cleanup);

async function run(child: ChildProcess, input?: string): Promise<{ code: number | null; out: string; err: string }> {
  let out = "";
  let err = "";
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  if (input !== undefined) child.stdin?.end(input);
  else child.stdin?.end();
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  return { code, out, err };
}

describe("shared-notes CLI", () => {
  it("creates, appends (argument and stdin), lists, prints and removes notes", async () => {
    const backend = await startLocalBackend();
    const { creds } = await newSpaceWithNote(backend.url, "Plan");
    const env = { SHARED_NOTES_URL: backend.url, SHARED_NOTES_SPACE: creds.spaceId, SHARED_NOTES_KEY: creds.key, XDG_STATE_HOME: tempDir() };
    try {
      expect((await run(cli(["create", "Diary"], env))).code).toBe(0);
      expect((await run(cli(["append", "Diary", "first", "line\n"], env))).code).toBe(0);
      expect((await run(cli(["append", "Diary"], env), "from stdin\n")).code).toBe(0);
      expect((await run(cli(["ls"], env))).out).toBe("Diary\nPlan\n");
      expect((await run(cli(["cat", "Diary"], env))).out).toBe("first line\nfrom stdin\n");
      expect((await run(cli(["rm", "Diary"], env))).code).toBe(0);
      expect((await run(cli(["ls"], env))).out).toBe("Plan\n");
    } finally {
      await backend.close();
    }
  });

  it("an append the server refuses for good fails and says so, and changes nothing", async () => {
    const backend = await startLocalBackend();
    const { creds } = await newSpaceWithNote(backend.url, "Plan");
    const env = { SHARED_NOTES_URL: backend.url, SHARED_NOTES_SPACE: creds.spaceId, SHARED_NOTES_KEY: creds.key, XDG_STATE_HOME: tempDir() };
    try {
      const tooLarge = await run(cli(["append", "Plan"], env), "x".repeat(MAX_NOTE_BYTES + 1));
      expect(tooLarge.code).toBe(1);
      expect(tooLarge.err).toMatch(/refused the edit \(TOO_LARGE\).*Nothing was appended/);
      expect((await run(cli(["cat", "Plan"], env))).out).toBe("");
    } finally {
      await backend.close();
    }
  });

  it("says clearly when the backend is down, the note unknown, or the key wrong", async () => {
    const down = await run(cli(["ls", "--url", `http://127.0.0.1:${await freePort()}`, "--space", "x", "--key", "y"]));
    expect(down.code).toBe(1);
    expect(down.err).toMatch(/no Shared Notes server answers at .*shared-notes serve/);

    const backend = await startLocalBackend();
    const { creds } = await newSpaceWithNote(backend.url);
    const base = ["--url", backend.url, "--space", creds.spaceId];
    try {
      const unknown = await run(cli(["cat", "Nope", ...base, "--key", creds.key]));
      expect(unknown.code).toBe(1);
      expect(unknown.err).toMatch(/no note titled "Nope"/);
      const wrongKey = await run(cli(["ls", ...base, "--key", "A".repeat(43)]));
      expect(wrongKey.code).toBe(1);
      expect(wrongKey.err).toMatch(/shared-notes ls: .*(key|access)/i);
      const noSpace = await run(cli(["ls", "--url", backend.url], { SHARED_NOTES_SPACE: "", SHARED_NOTES_KEY: "" }));
      expect(noSpace.err).toMatch(/No space given/);
    } finally {
      await backend.close();
    }
  });

  it("takes --wait in seconds (or SHARED_NOTES_WAIT) and refuses anything else", () => {
    expect(parseOptions([], {}).waitMs).toBe(DEFAULT_WAIT_SECONDS * 1000);
    expect(parseOptions(["--wait", "2.5"], {}).waitMs).toBe(2500);
    expect(parseOptions([], { SHARED_NOTES_WAIT: "0" }).waitMs).toBe(0);
    for (const bad of ["soon", "-1", ""]) expect(() => parseOptions([`--wait=${bad}`], {})).toThrow(/--wait takes a number of seconds/);
  });

  it("takes only the flags it is given, in either form, and leaves the rest in order", () => {
    const { flags, rest } = takeFlags(["Plan", "--rev", "3", "--url=http://x", "--other", "text"], ["rev", "url"]);
    expect(Object.fromEntries(flags)).toEqual({ rev: "3", url: "http://x" });
    expect(rest).toEqual(["Plan", "--other", "text"]);
    expect(() => takeFlags(["Plan", "--rev"], ["rev"])).toThrow(/--rev needs a value/);
  });
});
