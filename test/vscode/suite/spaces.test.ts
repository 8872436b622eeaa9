import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import { parseJoinLink, WEB_JOIN_PATH } from "../../../client/joinLink";
import { TcpProxy } from "../../../harness/tcpProxy";
import { env, extensionApi } from "./helpers";

describe("spaces by name", () => {
  it("shows the space by the name it was made with: in the notes view and in note addresses", async () => {
    const api = await extensionApi();
    assert.equal(api.spaces.connection?.name, "Suite space");
    assert.equal(api.notesView.description, "Suite space");
    const uri = api.registry.uriFor("Plan");
    // The breadcrumb and the tab's folder show the name; the id travels out of sight.
    assert.equal(uri.path, "/Suite space/Plan.md");
    assert.equal(uri.authority, env("SHARED_NOTES_SPACE_ID"));
  });

  it("copies a join link for desktop VS Code and one for VS Code in a browser", async () => {
    await extensionApi();
    const expected = { serverUrl: env("SHARED_NOTES_SERVER_URL"), spaceId: env("SHARED_NOTES_SPACE_ID"), key: env("SHARED_NOTES_SPACE_KEY"), name: "Suite space" };

    const desktop = await vscode.commands.executeCommand<string>("sharedNotes.copyJoinLink", "desktop");
    assert.match(desktop, /^vscode:\/\/shared-notes\.shared-notes\/join\?/);
    assert.deepEqual(parseJoinLink(desktop), expected);
    assert.equal(await vscode.env.clipboard.readText(), desktop);

    const web = await vscode.commands.executeCommand<string>("sharedNotes.copyJoinLink", "web", "http://127.0.0.1:9000/");
    const url = new URL(web);
    assert.equal(url.origin, "http://127.0.0.1:9000");
    const payload = JSON.parse(url.searchParams.get("payload") ?? "[]") as [string, string][];
    assert.equal(payload[0]?.[0], "openFile");
    const opened = vscode.Uri.parse(payload[0]?.[1] ?? "");
    assert.equal(opened.scheme, "sharednotes");
    assert.equal(opened.path, WEB_JOIN_PATH);
    assert.deepEqual(parseJoinLink(opened.query), expected);
  });

  it("keeps a space joined while the stored one was being restored, and announces changes in order", async () => {
    const api = await extensionApi();
    const suiteSpace = api.spaces.connection?.joined;
    assert.ok(suiteSpace, "the suite's space is joined");
    const other = await api.spaces.create("Other space");
    assert.ok(other, "a second space was made");
    const announced: Array<string | undefined> = [];
    const listening = api.spaces.onDidChange((c) => announced.push(c?.spaceId));
    // Restoring rejoins the suite's space (SHARED_NOTES_SPACE_ID, as a window opened by a
    // join link restores its stored one), here over a slow link, so that its answer comes
    // last; the link's join begins while it runs.
    const direct = env("SHARED_NOTES_SERVER_URL");
    const slow = await new TcpProxy({ targetPort: Number(new URL(direct).port), delayMs: 300 }).start();
    process.env.SHARED_NOTES_SERVER_URL = slow.url;
    try {
      const restoring = api.spaces.restore();
      const joining = api.spaces.join(other);
      await Promise.all([restoring, joining]);
      assert.equal(api.spaces.connection?.spaceId, other.spaceId);
      assert.equal(api.notesView.description, "Other space");
      assert.equal(announced.at(-1), other.spaceId);
    } finally {
      process.env.SHARED_NOTES_SERVER_URL = direct;
      listening.dispose();
      await slow.close();
      assert.ok(await api.spaces.join(suiteSpace), "back in the suite's space");
    }
    assert.equal(api.notesView.description, "Suite space");
  });
});
