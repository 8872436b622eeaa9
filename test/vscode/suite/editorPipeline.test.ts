import * as assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import * as vscode from "vscode";
import { Teammate, closeAllEditors, extensionApi, insertOp, openNewNote, typeText, waitFor, waitForText } from "./helpers";

describe("the editor pipeline in real VS Code: line endings, the Edit menu's undo, repairs", () => {
  let mate: Teammate;
  before(() => {
    mate = new Teammate();
  });
  after(async () => {
    await vscode.workspace.getConfiguration("files").update("eol", undefined, vscode.ConfigurationTarget.Global);
    await closeAllEditors();
    await mate.close();
  });

  it("a CRLF document (files.eol \\r\\n) is edited and synchronised with \\n on the wire", async () => {
    await vscode.workspace.getConfiguration("files").update("eol", "\r\n", vscode.ConfigurationTarget.Global);
    const api = await extensionApi();
    // No line break yet: VS Code gives the document the configured line ending.
    const { noteId, editor } = await openNewNote(api, mate, "Crlf", "first");
    const doc = editor.document;
    assert.equal(doc.eol, vscode.EndOfLine.CRLF);
    const theirs = await mate.open(noteId);
    editor.selection = new vscode.Selection(0, 5, 0, 5);
    await typeText("\nsecond");
    await waitForText("the teammate to get \\n line breaks", () => theirs.text, "first\nsecond");
    assert.equal(doc.getText(), "first\r\nsecond");
    // A teammate's line breaks, and text after them, land in the right place.
    theirs.applyLocal(insertOp(theirs.text.length, 5, "\nmiddle"));
    theirs.applyLocal(insertOp(theirs.text.length, theirs.text.length, "\nlast"));
    await waitForText("the teammate's lines in the document", () => doc.getText(), "first\r\nmiddle\r\nsecond\r\nlast");
    // Typing on a line after them, and deleting across a line break.
    editor.selection = new vscode.Selection(2, 6, 2, 6);
    await typeText("!");
    await editor.edit((b) => b.delete(new vscode.Range(0, 5, 1, 0)));
    await waitForText("the teammate to converge", () => theirs.text, "firstmiddle\nsecond!\nlast");
    assert.equal(doc.getText(), "firstmiddle\r\nsecond!\r\nlast");
    await vscode.workspace.getConfiguration("files").update("eol", undefined, vscode.ConfigurationTarget.Global);
  });

  it("the Edit menu's Undo (VS Code's own undo command) never sends a deletion of a teammate's text", async () => {
    const api = await extensionApi();
    const { noteId, editor } = await openNewNote(api, mate, "EditMenuUndo", "note: ");
    const theirs = await mate.open(noteId);
    const doc = editor.document;
    editor.selection = new vscode.Selection(0, 6, 0, 6);
    await typeText("mine");
    await waitFor("the teammate to see the local edit", () => theirs.text === "note: mine");
    theirs.applyLocal(insertOp(theirs.text.length, 0, "THEIRS "));
    await waitFor("the remote edit in the document", () => doc.getText() === "THEIRS note: mine");
    const binding = api.bindings.get(doc.uri)!;
    await waitFor("the binding to be idle", () => binding.idle);
    // What Edit > Undo runs: VS Code's own undo, whose stack holds the teammate's edit too.
    await vscode.commands.executeCommand("undo");
    await waitForText("only our word undone", () => doc.getText(), "THEIRS note: ");
    await waitForText("the teammate to agree", () => theirs.text, "THEIRS note: ");
    assert.ok(binding.stats.reverted >= 1, "VS Code's own undo was taken back in the document");
  });

  it("repairs a note whose session moved without telling the document, keeping the typing (loss path E)", async () => {
    const api = await extensionApi();
    const { noteId, editor } = await openNewNote(api, mate, "Repair", "one two");
    const theirs = await mate.open(noteId);
    const doc = editor.document;
    const binding = api.bindings.get(doc.uri)!;
    await waitFor("the binding to be idle", () => binding.idle);
    // A change of the session the editor never hears of (as a bug would make one).
    binding.session.applyLocal(insertOp(7, 0, "zero "));
    const repairedBefore = binding.stats.repaired;
    editor.selection = new vscode.Selection(0, 7, 0, 7);
    await typeText(" three");
    await waitForText("the teammate to have both", () => theirs.text, "zero one two three");
    await waitForText("the document to show both", () => doc.getText(), "zero one two three");
    assert.ok(binding.stats.repaired > repairedBefore, "the mismatch was repaired (and logged)");
  });

  it("shows the user what a deleted note could not save, with the text to keep", async () => {
    const api = await extensionApi();
    const { noteId, editor } = await openNewNote(api, mate, "Refused", "kept");
    const doc = editor.document;
    const binding = api.bindings.get(doc.uri)!;
    editor.selection = new vscode.Selection(0, 4, 0, 4);
    await typeText(" typed");
    await waitFor("the typing confirmed", () => binding.session.status.unconfirmed === 0 && binding.idle);
    await mate.space.remove(noteId);
    await typeText(" after");
    const logFile = process.env.SHARED_NOTES_LOG_FILE;
    assert.ok(logFile, "the runner asks for a copy of the log");
    await waitFor("the refusal reported to the user", () => /"Refused [^"]*" can no longer be saved \(NOT_FOUND, \d+ characters not saved\)/.test(readFileSync(logFile, "utf8")), 30_000);
    assert.equal(doc.getText(), "kept typed after", "the document keeps what the user typed");
    // Nothing of it is on its way any more: the status bar says "not saved", and does not
    // count its edits as waiting to be confirmed (they never will be).
    await waitFor("the status bar to say not saved", () => api.statusBar.snapshot.text.includes("not saved"));
    assert.equal(binding.session.status.stopped, true);
    await waitFor("the refused edits not counted as unconfirmed", () => api.statusBar.snapshot.unconfirmed === 0);
  });
});
