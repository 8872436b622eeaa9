/// <reference types="mocha" />
// Shared by the suites (bundled into each). A second, headless client acts as a teammate.
import * as assert from "node:assert/strict";
import * as vscode from "vscode";
import type { Space } from "../../../client/space";
import type { NoteSession } from "../../../client/types";
import { OpBuilder, type TextOp } from "../../../sync/textOp";
import type { SharedNotesApi } from "../../../extension/extension";
import { connect } from "../../../client/connect";
import { Space as SpaceClass } from "../../../client/space";

export const EXTENSION_ID = "shared-notes.shared-notes";

export async function extensionApi(): Promise<SharedNotesApi> {
  const ext = vscode.extensions.getExtension<SharedNotesApi>(EXTENSION_ID);
  assert.ok(ext, "the extension is loaded");
  const api = await ext.activate();
  await api.ready;
  return api;
}

export function env(name: string): string {
  const v = process.env[name];
  assert.ok(v, `${name} is set by test/vscode/run-suites.mjs`);
  return v;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` returns true (or a truthy value), failing with `what` after the timeout. */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    }
    await sleep(25);
  }
}

/** Waits for a text to become `expected`, reporting the last text seen on failure. */
export async function waitForText(what: string, get: () => string, expected: string, timeoutMs = 15_000): Promise<void> {
  try {
    await waitFor(what, () => get() === expected, timeoutMs);
  } catch {
    assert.equal(JSON.stringify(get()), JSON.stringify(expected), `timed out waiting for ${what}`);
  }
}

/** A teammate: its own Convex connection to the same space. */
export class Teammate {
  readonly space: Space;
  private readonly sessions: NoteSession[] = [];
  private readonly convex = connect(env("SHARED_NOTES_SERVER_URL"));

  constructor(readonly name = "Robo", readonly color = "#56b6c2") {
    this.space = new SpaceClass(this.convex, { spaceId: env("SHARED_NOTES_SPACE_ID"), key: env("SHARED_NOTES_SPACE_KEY") });
  }

  async open(noteId: string): Promise<NoteSession> {
    const s = await this.space.open(noteId, { user: { name: this.name, color: this.color } });
    this.sessions.push(s);
    return s;
  }

  async close(): Promise<void> {
    for (const s of this.sessions) await s.close();
    await this.convex.close();
  }
}

export function insertOp(length: number, at: number, text: string): TextOp {
  return new OpBuilder().retain(at).insert(text).retain(length - at).build();
}

export function deleteOp(length: number, at: number, count: number): TextOp {
  return new OpBuilder().retain(at).delete(count).retain(length - at - count).build();
}

let counter = 0;
export function uniqueTitle(base: string): string {
  counter += 1;
  return `${base} ${Date.now().toString(36)}${counter}`;
}

/** Creates a note through the teammate and opens it in an editor. */
export async function openNewNote(
  api: SharedNotesApi,
  mate: Teammate,
  base: string,
  text: string,
): Promise<{ noteId: string; editor: vscode.TextEditor; title: string }> {
  const title = uniqueTitle(base);
  const noteId = await mate.space.create(title, text);
  await waitFor("the note list to show the new note", () => api.registry.space?.notes.some((n) => n.noteId === noteId));
  const editor = await api.notesView.open(noteId);
  assert.ok(editor, "the note opened in an editor");
  await waitFor("the document to be bound", () => api.bindings.get(editor.document.uri));
  return { noteId, editor, title };
}

/** Types like a user: through the `type` command at the cursor of the active editor. */
export async function typeText(text: string): Promise<void> {
  for (const ch of text) await vscode.commands.executeCommand("type", { text: ch });
}

export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand("workbench.action.closeAllEditors");
}

export async function backendControl(action: "stop" | "start"): Promise<void> {
  const res = await fetch(`${env("SHARED_NOTES_TEST_CONTROL_URL")}/backend/${action}`, { method: "POST" });
  assert.equal(res.status, 200, `backend ${action}`);
}
