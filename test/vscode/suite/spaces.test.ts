import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import { parseJoinLink, WEB_JOIN_PATH } from "../../../client/joinLink";
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
});
