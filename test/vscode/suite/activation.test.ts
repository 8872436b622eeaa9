import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import { Teammate, env, extensionApi, waitFor, uniqueTitle } from "./helpers";

describe("activation and the notes view", () => {
  let mate: Teammate;
  before(() => {
    mate = new Teammate();
  });
  after(async () => {
    await mate.close();
  });

  it("activates, registers its commands and joins the space from the environment", async () => {
    const api = await extensionApi();
    const commands = await vscode.commands.getCommands(true);
    for (const c of ["sharedNotes.newNote", "sharedNotes.undo", "sharedNotes.redo", "sharedNotes.joinSpace", "sharedNotes.follow"]) {
      assert.ok(commands.includes(c), `${c} is registered`);
    }
    assert.equal(api.spaces.connection?.spaceId, env("SHARED_NOTES_SPACE_ID"));
    await waitFor("the status bar to say connected", () => api.statusBar.snapshot.connection === "connected");
  });

  it("lists the space's notes live, including one a teammate creates", async () => {
    const api = await extensionApi();
    const title = uniqueTitle("Listed");
    const noteId = await mate.space.create(title, "hello");
    await waitFor("the notes view to list the teammate's note", () =>
      api.notesView.items.some((i) => i.note.noteId === noteId && i.label === title),
    );
  });

  it("creates a note from the view and a teammate sees it", async () => {
    const api = await extensionApi();
    const title = uniqueTitle("Created");
    const editor = await api.notesView.create(title);
    assert.ok(editor, "the new note opens");
    assert.equal(editor.document.uri.scheme, "sharednotes");
    assert.equal(editor.document.languageId, "markdown");
    assert.equal(await mate.space.find(title) !== null, true);
    await vscode.commands.executeCommand("workbench.action.closeAllEditors");
  });

  it("renames a note", async () => {
    const api = await extensionApi();
    const title = uniqueTitle("Before");
    const noteId = await mate.space.create(title, "x");
    const item = await waitFor("the note in the view", () => api.notesView.items.find((i) => i.note.noteId === noteId));
    const renamed = uniqueTitle("After");
    assert.equal(await vscode.commands.executeCommand("sharedNotes.renameNote", item, renamed), true);
    await waitFor("the view to show the new title", () => api.notesView.items.some((i) => i.note.noteId === noteId && i.label === renamed));
    assert.equal(await mate.space.find(renamed), noteId);
    assert.equal(await mate.space.find(title), null);
  });

  it("deletes a note (confirmation given)", async () => {
    const api = await extensionApi();
    const title = uniqueTitle("Doomed");
    const noteId = await mate.space.create(title, "bye");
    const item = await waitFor("the note in the view", () => api.notesView.items.find((i) => i.note.noteId === noteId));
    assert.equal(await vscode.commands.executeCommand("sharedNotes.deleteNote", item, true), true);
    await waitFor("the view to drop the note", () => !api.notesView.items.some((i) => i.note.noteId === noteId));
    assert.equal(await mate.space.find(title), null);
  });
});
