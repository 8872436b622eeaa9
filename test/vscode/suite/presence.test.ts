import * as assert from "node:assert/strict";
import { Teammate, closeAllEditors, extensionApi, openNewNote, waitFor } from "./helpers";

describe("teammates inline", () => {
  let mate: Teammate;
  before(() => {
    mate = new Teammate("Robo Presence", "#c678dd");
  });
  after(async () => {
    await closeAllEditors();
    await mate.close();
  });

  it("a teammate's presence produces decorations with their name, caret and selection", async () => {
    const api = await extensionApi();
    const { noteId, editor } = await openNewNote(api, mate, "Presence", "hello shared world\n");
    const theirs = await mate.open(noteId);
    theirs.setSelections([{ anchor: 6, head: 12 }]);
    const shown = await waitFor("decorations for the teammate", () =>
      // Their first presence may come before their selection does: wait for the caret.
      api.decorations.renderedFor(editor.document.uri).find((c) => c.name === "Robo Presence" && c.carets.length > 0),
    );
    assert.equal(shown.color, "#c678dd");
    assert.equal(editor.document.offsetAt(shown.carets[0]!), 12);
    assert.equal(shown.selections.length, 1);
    assert.equal(editor.document.getText(shown.selections[0]), "shared");
    // The status bar counts the people in the note.
    await waitFor("two people in the note", () => api.statusBar.snapshot.people === 2);
    // Follow keeps the view on them; it can be stopped.
    assert.equal(api.follow.start(theirs.clientId), true);
    assert.equal(api.follow.following?.name, "Robo Presence");
    api.follow.stop();
    assert.equal(api.follow.following, undefined);
    // When they leave, their decorations go.
    await theirs.close();
    await waitFor("the decorations to clear", () => api.decorations.renderedFor(editor.document.uri).length === 0, 30_000);
  });
});
