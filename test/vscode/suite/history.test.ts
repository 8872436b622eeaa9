import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import { NoteHistory } from "../../../client/noteHistory";
import type { NoteSession } from "../../../client/types";
import { VersionContent } from "../../../extension/historyContent";
import { HISTORY_SCHEME } from "../../../extension/historyUri";
import type { SharedNotesApi } from "../../../extension/extension";
import { Teammate, closeAllEditors, env, extensionApi, insertOp, openNewNote, typeText, waitFor } from "./helpers";

/** The note's latest revision as the server has it. */
async function head(api: SharedNotesApi, noteId: string): Promise<number> {
  const connection = api.registry.space;
  assert.ok(connection);
  return (await new NoteHistory(connection.convex, connection.space.credentials, noteId).sessions()).head;
}

describe("note history", () => {
  let mate: Teammate;
  let api: SharedNotesApi;
  let noteId: string;
  let title: string;
  let editor: vscode.TextEditor;
  let theirs: NoteSession;
  /** The text after our own typing, and its revision. */
  let ours: { text: string; rev: number };

  before(async () => {
    mate = new Teammate("Robo");
    api = await extensionApi();
    ({ noteId, editor, title } = await openNewNote(api, mate, "History", ""));
    theirs = await mate.open(noteId);
    await typeText("alpha ");
    await waitFor("the teammate to have our typing", () => theirs.text === "alpha ");
    await theirs.flush();
    ours = { text: "alpha ", rev: await head(api, noteId) };
    theirs.applyLocal(insertOp(theirs.text.length, theirs.text.length, "beta"));
    await theirs.flush();
    await waitFor("the teammate's typing in the document", () => editor.document.getText() === "alpha beta");
  });
  after(async () => {
    await closeAllEditors();
    await mate.close();
  });

  it("lists the session with both authors after two people type", async () => {
    const view = api.history.view;
    await waitFor("the history view to follow the note", () => view.items().length > 0 && view.sessions[0]?.lastRev === ours.rev + 1, 20_000);
    const [session] = view.sessions;
    assert.ok(session);
    assert.deepEqual(
      session.authors.map((a) => [a.name, a.inserted, a.deleted]),
      [
        ["Suite User", 6, 0],
        ["Robo", 4, 0],
      ],
    );
    assert.equal(session.firstRev, 1);
    const [item] = view.getChildren();
    assert.ok(item && typeof item.label === "string" && item.label.includes("Robo") && item.label.includes("Suite User"));
    assert.match(String(item.description), /^\+10 −0 · /);
    assert.ok(item.iconPath instanceof vscode.Uri && item.iconPath.scheme === "data", "the item shows the authors' colours");
  });

  it("opens a version read-only with exactly the text at that revision, its title and time in the tab", async () => {
    const uri = VersionContent.uri({ spaceId: env("SHARED_NOTES_SPACE_ID"), noteId, title, rev: ours.rev, at: Date.now() });
    const doc = await vscode.workspace.openTextDocument(uri);
    assert.equal(doc.getText(), ours.text);
    // The session's version (its last revision) from the view's own command.
    const [item] = api.history.view.items();
    assert.ok(item);
    const shown = await api.history.view.openVersion(item);
    assert.equal(shown.document.uri.scheme, HISTORY_SCHEME);
    assert.equal(shown.document.getText(), "alpha beta");
    const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
    assert.match(tab?.label ?? "", new RegExp(`^${title} \\(r${item.session.lastRev}, \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d\\)\\.md$`));
    // Read-only: served by a file system VS Code knows cannot be written.
    assert.equal(vscode.workspace.fs.isWritableFileSystem(HISTORY_SCHEME), false);
  });

  it("opens the diff with the current text and with the text before the session", async () => {
    const [item] = api.history.view.items();
    assert.ok(item);
    await vscode.commands.executeCommand("sharedNotes.history.compareWithCurrent", item);
    const input = await waitFor("a diff tab", () => {
      const i = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return i instanceof vscode.TabInputTextDiff ? i : undefined;
    });
    assert.equal(input.original.scheme, HISTORY_SCHEME);
    assert.equal(input.modified.toString(), editor.document.uri.toString());
    // With the session before: the text before the session (revision 0, empty) against after it.
    await vscode.commands.executeCommand("sharedNotes.history.compareWithPrevious", item);
    const previous = await waitFor("a diff tab of two versions", () => {
      const i = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
      return i instanceof vscode.TabInputTextDiff && i.modified.scheme === HISTORY_SCHEME ? i : undefined;
    });
    assert.equal((await vscode.workspace.openTextDocument(previous.original)).getText(), "");
    assert.equal((await vscode.workspace.openTextDocument(previous.modified)).getText(), "alpha beta");
  });

  it("says who wrote the text under the pointer, and tints the note by author on request", async () => {
    const doc = editor.document;
    await vscode.window.showTextDocument(doc);
    const hoverText = async (offset: number): Promise<string> => {
      const hovers = await vscode.commands.executeCommand<vscode.Hover[]>("vscode.executeHoverProvider", doc.uri, doc.positionAt(offset));
      return hovers.flatMap((h) => h.contents.map((c) => (typeof c === "string" ? c : c.value))).join("\n");
    };
    assert.match(await hoverText(1), /Last written by \*\*Suite User\*\*, (just now|\d+ minutes? ago)/);
    assert.match(await hoverText(doc.getText().indexOf("beta") + 1), /Last written by \*\*Robo\*\*/);
    assert.equal(await vscode.commands.executeCommand("sharedNotes.toggleAuthorTint"), true);
    assert.equal(api.history.authorship.tinted, true);
    assert.equal(await vscode.commands.executeCommand("sharedNotes.toggleAuthorTint"), false);
  });

  it("restores while the teammate types: their typing is kept, and only the restorer's undo takes it back", async () => {
    const doc = editor.document;
    await vscode.window.showTextDocument(doc);
    const session = { ...api.history.view.sessions[0]!, lastRev: ours.rev };
    const [item] = api.history.view.items();
    assert.ok(item);
    const toOurs = Object.assign(Object.create(Object.getPrototypeOf(item) as object) as typeof item, item, { session });
    assert.equal(await vscode.commands.executeCommand("sharedNotes.history.restore", toOurs, "confirmed"), true);
    // The teammate types at that moment, before our restore reaches them.
    theirs.applyLocal(insertOp(theirs.text.length, 0, "X"));
    await waitFor("restore and the teammate's typing, both kept", () => doc.getText() === "Xalpha " && theirs.text === "Xalpha ", 20_000);
    assert.equal(await vscode.commands.executeCommand("sharedNotes.undo"), true);
    await waitFor("our undo to take back the restore only", () => doc.getText() === "Xalpha beta" && theirs.text === "Xalpha beta", 20_000);
  });

  it("restore changes only the lines that differ: a teammate's deletion in a line between is kept", async () => {
    const other = await openNewNote(api, mate, "Lines", "one\ntwo\nthree\n");
    const mine = other.editor.document;
    const mates = await mate.open(other.noteId);
    mates.applyLocal(["ONE", -3, 5, "THREE", -5, 1]);
    await mates.flush();
    await waitFor("the teammate's change in the document", () => mine.getText() === "ONE\ntwo\nTHREE\n");
    const view = api.history.view;
    await waitFor("the history view to show the new note", () => view.sessions[0]?.lastRev === 1, 20_000);
    const [item] = view.items();
    assert.ok(item);
    const toFirst = Object.assign(Object.create(Object.getPrototypeOf(item) as object) as typeof item, item, { session: { ...item.session, lastRev: 0 } });
    assert.equal(await vscode.commands.executeCommand("sharedNotes.history.restore", toFirst, "confirmed"), true);
    mates.applyLocal([5, -1, 8]); // "two" → "to", while the restore is on its way
    await waitFor("the restored lines with the teammate's deletion", () => mine.getText() === "one\nto\nthree\n" && mates.text === "one\nto\nthree\n", 20_000);
    assert.equal(await vscode.commands.executeCommand("sharedNotes.undo"), true);
    await waitFor("undo of the restore only", () => mine.getText() === "ONE\nto\nTHREE\n" && mates.text === "ONE\nto\nTHREE\n", 20_000);
  });
});
