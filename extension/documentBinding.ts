/**
 * Keeps one VS Code document and one note session in step.
 *
 * Local side: each change event (all of whose contentChanges refer to the text before
 * it) becomes one op for the session. Remote side: ops from the session wait in a queue
 * and are applied one at a time with an edit that VS Code refuses when the document
 * changed since we looked (TextEditor.edit and workspace.applyEdit both carry the
 * document version; the main thread compares it with its model's). When the user typed
 * meanwhile, the refused op is transformed past what they typed and tried again, so a
 * remote edit never lands at a stale position.
 *
 * Telling our own edits from the user's: while an edit is in flight, change events are
 * held. If VS Code accepted the edit, the event carrying version+1 is ours; every other
 * event is the user's. Our events are never sent back.
 */
import * as vscode from "vscode";
import { apply, editsFromOp, isNoop, transform, transformPosition, type Edit, type TextOp } from "../sync/textOp";
import { diffOp, opFromChanges } from "./edits";
import { describeError, type Log } from "./log";
import type { BoundDocument, NoteRegistry, OpenNote } from "./noteRegistry";
import { SCHEME } from "./noteUri";

/** Where a local op came from: typing, our undo or redo, or a repair of the document. */
export type LocalKind = "edit" | "undo" | "redo" | "fix";

export interface LocalEdit {
  /** The op as given to the session (against `before`). */
  readonly op: TextOp;
  /** The session text just before it. */
  readonly before: string;
  readonly kind: LocalKind;
}

interface OwnRequest {
  readonly kind: "undo" | "redo";
  /** Produces the op, against the current session text (which equals the document then). */
  readonly take: () => TextOp | undefined;
  /** Gives the op back when VS Code refused it. */
  readonly giveBack: (op: TextOp) => void;
  readonly done: (applied: boolean) => void;
}

interface InFlight {
  readonly op: TextOp;
  readonly kind: "remote" | "undo" | "redo";
  readonly version: number;
  readonly request: OwnRequest | undefined;
  accepted: boolean;
  arrived: (() => void) | undefined;
}

/** How long to wait for the change event of an edit VS Code said it applied. */
const OWN_EVENT_TIMEOUT_MS = 5000;
/** A pause in the user's typing long enough to show a teammate's text at their caret (see holdFor). */
const TYPING_PAUSE_MS = 500;
/** How recently the user typed for a teammate's edit to put their caret back. */
const TYPING_RECENT_MS = 3000;

export class DocumentBinding implements vscode.Disposable, BoundDocument {
  private shadow: string;
  /** Remote ops not in the document yet; the first is against `shadow`, each against the one before. */
  private readonly queue: TextOp[];
  private inFlight: InFlight | undefined;
  /**
   * Events that arrived while an edit was in flight, with the version each one made:
   * `document.version` is live, so by the time they are handled it has moved on.
   */
  private held: { event: vscode.TextDocumentChangeEvent; version: number }[] = [];
  private readonly ownRequests: OwnRequest[] = [];
  private pumping = false;
  private pumpAgain = false;
  private lastTyped = 0;
  private retry: ReturnType<typeof setTimeout> | undefined;
  /** Counters for the log and the suites: how often VS Code refused a stale edit. */
  readonly stats = { remoteApplied: 0, refused: 0 };
  private disposed = false;
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly localEdits = new vscode.EventEmitter<LocalEdit>();
  private readonly remoteApplied = new vscode.EventEmitter<void>();
  private readonly becameIdle = new vscode.EventEmitter<void>();
  /** A local op reached the session (typing, our undo/redo, or a repair). */
  readonly onLocalEdit = this.localEdits.event;
  /** A remote op is now visible in the document. */
  readonly onRemoteApplied = this.remoteApplied.event;
  /** The document shows everything the session has. */
  readonly onIdle = this.becameIdle.event;

  constructor(
    readonly document: vscode.TextDocument,
    readonly note: OpenNote,
    private readonly log: Log,
  ) {
    const start = note.takeStart();
    this.shadow = start.text;
    this.queue = [...start.remoteSince];
    note.binding = this;
    this.subscriptions.push(
      vscode.workspace.onDidChangeTextDocument((e) => this.onChange(e)),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (e.textEditor.document === this.document) this.publishSelections(e.selections);
      }),
      note.session.onRemoteOp((op) => {
        this.queue.push(op);
        void this.pump();
      }),
    );
    // VS Code normalises line endings when it loads a file; if it did, the note follows
    // the document, because the document is what the user sees and edits.
    const shown = document.getText();
    if (shown !== this.shadow) {
      const fix = diffOp(this.shadow, shown);
      this.shadow = shown;
      this.sendLocal(fix, "fix");
    }
    void this.pump();
  }

  get documentText(): string {
    return this.shadow;
  }

  get session(): OpenNote["session"] {
    return this.note.session;
  }

  /** True when the document shows exactly the session's text. */
  get idle(): boolean {
    return this.queue.length === 0 && !this.inFlight && this.held.length === 0;
  }

  /** Applies one of our own undo/redo steps through the same ordered path as remote ops. */
  applyOwn(kind: "undo" | "redo", take: () => TextOp | undefined, giveBack: (op: TextOp) => void): Promise<boolean> {
    return new Promise((done) => {
      this.ownRequests.push({ kind, take, giveBack, done });
      void this.pump();
    });
  }

  /** Document offsets → session offsets (they differ while remote ops wait in the queue). */
  toSessionOffset(offset: number): number {
    let at = offset;
    for (const op of this.queue) at = transformPosition(at, op);
    return at;
  }

  private publishSelections(selections: readonly vscode.Selection[]): void {
    const doc = this.document;
    this.session.setSelections(
      selections.map((s) => ({
        anchor: this.toSessionOffset(doc.offsetAt(s.anchor)),
        head: this.toSessionOffset(doc.offsetAt(s.active)),
      })),
    );
  }

  private onChange(e: vscode.TextDocumentChangeEvent): void {
    if (this.disposed || e.document !== this.document || e.contentChanges.length === 0) return;
    try {
      this.route(e);
    } catch (err) {
      // A bug here must not leave the note silently out of step: log it and resync.
      this.log.error("Handling a document change failed", err);
      this.inFlight = undefined;
      this.repair("handling a change failed");
    }
  }

  private route(e: vscode.TextDocumentChangeEvent): void {
    const inFlight = this.inFlight;
    if (inFlight && !inFlight.accepted) {
      this.held.push({ event: e, version: e.document.version });
      return;
    }
    if (inFlight && e.document.version === inFlight.version + 1) {
      this.acceptOwn(e);
      void this.pump();
      return;
    }
    this.acceptUser(e);
  }

  /** A change the user (or VS Code, or another extension) made. */
  private acceptUser(e: vscode.TextDocumentChangeEvent): void {
    let op: TextOp;
    try {
      op = opFromChanges(this.shadow, e.contentChanges);
    } catch (err) {
      this.repair(`a change did not fit the text we track (${describeError(err)})`);
      return;
    }
    this.shadow = apply(this.shadow, op);
    this.lastTyped = Date.now();
    this.sendLocal(op, "edit");
  }

  /** The change event of an edit we made. */
  private acceptOwn(e: vscode.TextDocumentChangeEvent): void {
    const inFlight = this.inFlight!;
    this.inFlight = undefined;
    inFlight.arrived?.();
    let actual: TextOp;
    try {
      actual = opFromChanges(this.shadow, e.contentChanges);
    } catch (err) {
      this.repair(`our own edit came back in an unexpected shape (${describeError(err)})`);
      return;
    }
    const expected = apply(this.shadow, inFlight.op);
    this.shadow = apply(this.shadow, actual);
    if (inFlight.kind === "remote") {
      this.queue.shift();
      this.stats.remoteApplied++;
      // VS Code may store an edit differently from how it was given (line endings of
      // inserted text follow the document's). The note follows the document.
      if (this.shadow !== expected) this.sendLocal(diffOp(expected, this.shadow), "fix");
      this.remoteApplied.fire();
    } else {
      this.sendLocal(actual, inFlight.kind);
      inFlight.request?.done(true);
    }
  }

  /**
   * Sends an op made on the document to the session. The document lacks the queued
   * remote ops, so the op moves past them, and they move past it.
   */
  private sendLocal(op: TextOp, kind: LocalKind): void {
    let mine = op;
    for (let i = 0; i < this.queue.length; i++) {
      // Our text goes left of a teammate's insert at the same spot, next to our caret.
      const [m, q] = transform(mine, this.queue[i]!, true);
      this.queue[i] = q;
      mine = m;
    }
    if (isNoop(mine)) return;
    const before = this.session.text;
    try {
      this.session.applyLocal(mine);
    } catch (err) {
      this.log.error("An edit could not be given to the note session", err);
      return;
    }
    this.localEdits.fire({ op: mine, before, kind });
  }

  /** Applies waiting remote ops, then our undo/redo requests, one edit at a time. */
  private async pump(): Promise<void> {
    if (this.pumping) {
      // Whatever asked (a held op's timer, say) is looked at once the running pass ends.
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    this.pumpAgain = false;
    try {
      while (!this.disposed && !this.inFlight && this.held.length === 0) {
        const remote = this.queue[0];
        if (remote !== undefined) {
          if (isNoop(remote)) {
            this.queue.shift();
            continue;
          }
          const wait = this.holdFor(remote);
          if (wait > 0) {
            this.retryAfter(wait);
            break;
          }
          await this.issue(remote, "remote", undefined);
          continue;
        }
        const request = this.ownRequests.shift();
        if (!request) break;
        const op = request.take();
        if (op === undefined || isNoop(op)) {
          request.done(false);
          continue;
        }
        await this.issue(op, request.kind, request);
      }
    } finally {
      this.pumping = false;
    }
    if (this.pumpAgain && !this.disposed) return this.pump();
    if (!this.disposed && this.idle) this.becameIdle.fire();
  }

  /**
   * How long to hold a teammate's op back: while the user is typing at the very end of
   * the note and the op inserts right there. VS Code moves a caret past text inserted at
   * it, and at the end of the note no edit can avoid that (keepCaretBefore needs a next
   * character), so the user's next key would land behind the teammate's text and their
   * words would interleave. Held, the op moves along as the user types (their text goes
   * left of it, see sendLocal) and lands at the first pause, when the caret is put back.
   */
  private holdFor(op: TextOp): number {
    const wait = TYPING_PAUSE_MS - (Date.now() - this.lastTyped);
    if (wait <= 0) return 0;
    const editor = vscode.window.visibleTextEditors.find((ed) => ed.document === this.document);
    if (!editor) return 0;
    const end = this.shadow.length;
    const typingAtEnd = editor.selections.some((sel) => sel.isEmpty && this.document.offsetAt(sel.active) === end);
    const insertsAtEnd = editsFromOp(op).some((e) => e.offset === end && e.insert.length > 0);
    return typingAtEnd && insertsAtEnd ? wait : 0;
  }

  private retryAfter(ms: number): void {
    if (this.retry !== undefined) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.pump();
    }, ms);
  }

  private async issue(op: TextOp, kind: InFlight["kind"], request: OwnRequest | undefined): Promise<void> {
    const doc = this.document;
    if (doc.isClosed) return;
    if (doc.getText() !== this.shadow) {
      this.repair("the document and the text we track differed before an edit");
      if (request) this.requeue(request, op);
      return;
    }
    const version = doc.version;
    const editor = vscode.window.visibleTextEditors.find((ed) => ed.document === doc);
    const carets = editor && kind === "remote" ? new Set(editor.selections.flatMap((s) => [doc.offsetAt(s.anchor), doc.offsetAt(s.active)])) : undefined;
    const edits = editsFromOp(op).map((e, i, all) => {
      const kept = carets ? keepCaretBefore(doc, e, carets, all[i + 1]) : e;
      return {
        range: new vscode.Range(doc.positionAt(kept.offset), doc.positionAt(kept.offset + kept.deleteCount)),
        text: kept.insert,
      };
    });
    const inFlight: InFlight = { op, kind, version, request, accepted: false, arrived: undefined };
    this.inFlight = inFlight;
    let ok = false;
    try {
      if (editor) {
        const wanted = kind === "remote" ? caretsAfter(doc, editor.selections, op) : undefined;
        // No undo stops: VS Code's own undo is not used in shared notes (undo.ts is).
        ok = await editor.edit(
          (b) => {
            for (const e of edits) b.replace(e.range, e.text);
          },
          { undoStopBefore: false, undoStopAfter: false },
        );
        // Only for someone typing: an idle user's caret may move, and setting selections
        // from here can pull focus to this window in some hosts (web: one browser, two tabs).
        const typing = Date.now() - this.lastTyped < TYPING_RECENT_MS;
        if (ok && wanted && typing && doc.version === version + 1) keepCarets(editor, wanted);
      } else {
        const edit = new vscode.WorkspaceEdit();
        for (const e of edits) edit.replace(doc.uri, e.range, e.text);
        ok = await vscode.workspace.applyEdit(edit);
      }
    } catch (err) {
      // An editor closed under us, or the document went away: treat as refused.
      this.log.info(`An edit was not applied (${describeError(err)}); trying again.`);
      ok = false;
    }
    if (this.disposed) return;
    const held = this.held;
    this.held = [];
    if (!ok) {
      this.stats.refused++;
      this.inFlight = undefined;
      if (request) this.requeue(request, op);
      for (const h of held) this.acceptUser(h.event);
      return;
    }
    inFlight.accepted = true;
    for (const h of held) {
      if (this.inFlight === inFlight && h.version === version + 1) this.acceptOwn(h.event);
      else this.acceptUser(h.event);
    }
    if (this.inFlight !== inFlight) return;
    // Accepted, but its change event has not reached us yet.
    const arrived = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), OWN_EVENT_TIMEOUT_MS);
      inFlight.arrived = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
    if (!arrived && this.inFlight === inFlight && !this.disposed) {
      this.inFlight = undefined;
      this.repair("an accepted edit never reported its change");
      if (kind === "remote") this.queue.shift();
      request?.done(false);
    }
  }

  private requeue(request: OwnRequest, op: TextOp): void {
    // The step goes back to its stack first, so the user's edits that beat it move it along.
    request.giveBack(op);
    this.ownRequests.unshift(request);
  }

  /**
   * Something we did not expect: take the document as the truth for what the user sees,
   * tell the session about the difference, and say so in the log.
   */
  private repair(why: string): void {
    this.log.warn(`${this.document.uri.toString()}: ${why}; taking the document's text.`);
    const shown = this.document.getText();
    if (shown === this.shadow) return;
    const fix = diffOp(this.shadow, shown);
    this.shadow = shown;
    this.sendLocal(fix, "fix");
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    if (this.note.binding === this) this.note.binding = undefined;
    for (const r of this.ownRequests.splice(0)) r.done(false);
    this.inFlight?.request?.done(false);
    for (const s of this.subscriptions) s.dispose();
    this.localEdits.dispose();
    this.remoteApplied.dispose();
    this.becameIdle.dispose();
  }
}

/** Creates a binding for every open shared-note document and ends it when the document closes. */
export class DocumentBindings implements vscode.Disposable {
  private readonly bindings = new Map<string, DocumentBinding>();
  private readonly created = new vscode.EventEmitter<DocumentBinding>();
  private readonly removed = new vscode.EventEmitter<DocumentBinding>();
  readonly onDidCreate = this.created.event;
  readonly onDidRemove = this.removed.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(
    private readonly registry: NoteRegistry,
    private readonly log: Log,
  ) {
    this.subscriptions.push(
      vscode.workspace.onDidOpenTextDocument((doc) => this.bind(doc)),
      vscode.workspace.onDidCloseTextDocument((doc) => void this.unbind(doc)),
      registry.onDidOpen((note) => {
        const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === note.uri.toString());
        if (doc) this.bind(doc);
      }),
      registry.onDidClose((note) => {
        const binding = this.bindings.get(note.uri.toString());
        if (binding) this.drop(binding);
      }),
    );
    for (const doc of vscode.workspace.textDocuments) this.bind(doc);
  }

  get(uri: vscode.Uri): DocumentBinding | undefined {
    return this.bindings.get(uri.toString());
  }

  all(): DocumentBinding[] {
    return [...this.bindings.values()];
  }

  /** The binding of the active editor's document, if it is a shared note. */
  active(): DocumentBinding | undefined {
    const doc = vscode.window.activeTextEditor?.document;
    return doc ? this.get(doc.uri) : undefined;
  }

  private bind(doc: vscode.TextDocument): void {
    if (doc.uri.scheme !== SCHEME || doc.isClosed) return;
    const key = doc.uri.toString();
    if (this.bindings.has(key)) return;
    const note = this.registry.get(doc.uri);
    if (!note || note.binding) return;
    const binding = new DocumentBinding(doc, note, this.log);
    this.bindings.set(key, binding);
    this.created.fire(binding);
  }

  private drop(binding: DocumentBinding): void {
    const key = binding.document.uri.toString();
    if (this.bindings.get(key) !== binding) return;
    this.bindings.delete(key);
    this.removed.fire(binding);
    binding.dispose();
  }

  private async unbind(doc: vscode.TextDocument): Promise<void> {
    if (doc.uri.scheme !== SCHEME) return;
    const binding = this.bindings.get(doc.uri.toString());
    if (binding) this.drop(binding);
    await this.registry.close(doc.uri);
  }

  dispose(): void {
    for (const b of this.all()) this.drop(b);
    for (const s of this.subscriptions) s.dispose();
    this.created.dispose();
    this.removed.dispose();
  }
}

/**
 * A teammate's text typed exactly at our caret belongs after the caret: when two people
 * type at one spot, each next key must land right after that person's own previous one,
 * or the editor interleaves runs ("axbyc") that the merge itself keeps whole. But VS Code
 * moves a caret past text inserted at it. It leaves the caret alone, though, when the
 * caret is where a replaced range starts, so such an insert is sent as "replace the next
 * character with the text plus that character": the same result, the caret stays put.
 * (At the very end of the note there is no next character: `holdFor` waits for a pause
 * in the user's typing there, and `keepCarets` puts the caret back after the edit.)
 */
function keepCaretBefore(doc: vscode.TextDocument, edit: Edit, carets: ReadonlySet<number>, next: Edit | undefined): Edit {
  if (edit.deleteCount > 0 || !carets.has(edit.offset)) return edit;
  const text = doc.getText();
  let width = 1;
  const code = text.charCodeAt(edit.offset);
  if ((code >= 0xd800 && code <= 0xdbff) || (code === 13 && text.charCodeAt(edit.offset + 1) === 10)) width = 2;
  if (edit.offset + width > text.length || (next !== undefined && next.offset < edit.offset + width)) return edit;
  return { offset: edit.offset, deleteCount: width, insert: edit.insert + text.slice(edit.offset, edit.offset + width) };
}

/** Where the user's carets belong after a teammate's edit (see keepCaretBefore). */
function caretsAfter(doc: vscode.TextDocument, selections: readonly vscode.Selection[], op: TextOp): { anchor: number; active: number }[] {
  return selections.map((sel) => ({
    anchor: transformPosition(doc.offsetAt(sel.anchor), op, "before"),
    active: transformPosition(doc.offsetAt(sel.active), op, "before"),
  }));
}

function keepCarets(editor: vscode.TextEditor, carets: readonly { anchor: number; active: number }[]): void {
  const doc = editor.document;
  const wanted = carets.map((c) => new vscode.Selection(doc.positionAt(c.anchor), doc.positionAt(c.active)));
  const moved = wanted.some((sel, i) => !editor.selections[i]?.isEqual(sel));
  if (moved) editor.selections = wanted;
}
