import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import { Teammate, closeAllEditors, extensionApi, insertOp, openNewNote, sleep, typeText, waitFor } from "./helpers";

describe("undo that only undoes you", () => {
  let mate: Teammate;
  before(() => {
    mate = new Teammate();
  });
  after(async () => {
    await closeAllEditors();
    await mate.close();
  });

  it("undo after a teammate's edit removes only the local edit, redo brings it back", async () => {
    const api = await extensionApi();
    const { noteId, editor } = await openNewNote(api, mate, "Undo", "note: ");
    const theirs = await mate.open(noteId);
    const doc = editor.document;
    editor.selection = new vscode.Selection(doc.positionAt(6), doc.positionAt(6));
    await typeText("mine");
    await waitFor("the teammate to see the local edit", () => theirs.text === "note: mine");
    // The teammate types after us, at the start and in the middle of our word's neighbourhood.
    theirs.applyLocal(insertOp(theirs.text.length, 0, "THEIRS "));
    await waitFor("the remote edit in the document", () => doc.getText() === "THEIRS note: mine");
    assert.equal(await vscode.commands.executeCommand("sharedNotes.undo"), true);
    await waitFor("undo to remove only our word", () => doc.getText() === "THEIRS note: ");
    await waitFor("the teammate to see the undo", () => theirs.text === "THEIRS note: ");
    assert.equal(await vscode.commands.executeCommand("sharedNotes.redo"), true);
    await waitFor("redo to restore our word", () => doc.getText() === "THEIRS note: mine");
    await waitFor("the teammate to see the redo", () => theirs.text === "THEIRS note: mine");
  });

  it("groups a typing burst into one step and never undoes a teammate's text", async () => {
    const api = await extensionApi();
    const { noteId, editor } = await openNewNote(api, mate, "Burst", "");
    const theirs = await mate.open(noteId);
    await typeText("one");
    await sleep(1200);
    await typeText(" two");
    await waitFor("the teammate to have our text", () => theirs.text === "one two");
    theirs.applyLocal(insertOp(theirs.text.length, theirs.text.length, "!"));
    await waitFor("the remote edit", () => editor.document.getText() === "one two!");
    await vscode.commands.executeCommand("sharedNotes.undo");
    await waitFor("the second burst undone", () => editor.document.getText() === "one!");
    await vscode.commands.executeCommand("sharedNotes.undo");
    await waitFor("the first burst undone", () => editor.document.getText() === "!");
    // Nothing of ours is left: another undo changes nothing.
    assert.equal(await vscode.commands.executeCommand("sharedNotes.undo"), false);
    await waitFor("the teammate to agree", () => theirs.text === "!");
  });

  it("binds Ctrl+Z to the shared-note undo only while a shared note has focus", async () => {
    const ext = vscode.extensions.getExtension("shared-notes.shared-notes")!;
    const keybindings = (ext.packageJSON as { contributes: { keybindings: { command: string; key: string; when: string }[] } })
      .contributes.keybindings;
    const undo = keybindings.find((k) => k.command === "sharedNotes.undo");
    assert.ok(undo);
    assert.equal(undo.key, "ctrl+z");
    assert.match(undo.when, /resourceScheme == '?sharednotes'?/);
  });
});
