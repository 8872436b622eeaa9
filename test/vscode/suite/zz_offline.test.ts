import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import { Teammate, backendControl, closeAllEditors, extensionApi, openNewNote, typeText, waitFor } from "./helpers";

// Runs last (name sorts last): it stops the backend.
describe("offline and back", () => {
  let mate: Teammate;
  before(() => {
    mate = new Teammate();
  });
  after(async () => {
    await backendControl("start");
    await closeAllEditors();
    await mate.close();
  });

  it("status bar goes offline when the backend stops and back when it starts, with pending edits delivered", async () => {
    const api = await extensionApi();
    const { noteId, editor } = await openNewNote(api, mate, "Offline", "kept: ");
    const doc = editor.document;
    editor.selection = new vscode.Selection(doc.positionAt(6), doc.positionAt(6));
    await waitFor("connected", () => api.statusBar.snapshot.connection === "connected");
    await backendControl("stop");
    await waitFor("the status bar to say offline", () => api.statusBar.snapshot.connection === "offline", 30_000);
    await typeText("typed while offline");
    await waitFor("unconfirmed edits counted", () => api.statusBar.snapshot.unconfirmed > 0);
    assert.equal(doc.isDirty, true, "unconfirmed edits show as unsaved");
    await backendControl("start");
    await waitFor("the status bar to say connected", () => api.statusBar.snapshot.connection === "connected", 60_000);
    // On a timeout, say which note still holds unconfirmed edits.
    const holders = (): string =>
      api.bindings
        .all()
        .map((b) => `${b.document.uri.path}: ${JSON.stringify(b.session.status)}`)
        .join("; ");
    await waitFor("the edits to be confirmed", () => api.statusBar.snapshot.unconfirmed === 0, 30_000).catch((err: Error) => {
      throw new Error(`${err.message} (${holders()})`);
    });
    const theirs = await mate.open(noteId);
    await waitFor("the teammate to get the offline edits", () => theirs.text === "kept: typed while offline", 30_000);
    await waitFor("no dirty dot once confirmed", () => !doc.isDirty);
  });
});
