/**
 * Shows one note in one VS Code document: applies the edits the note's pipeline hands
 * out (sync/editorPipeline.ts, which owns the mapping between document and session) and
 * tells it every change of the document, recognising which change events are its own.
 *
 * Edits are applied with an edit VS Code refuses when the document changed since we
 * looked (TextEditor.edit and workspace.applyEdit carry the document version; the main
 * thread compares it with its model's). A refused edit goes back to the pipeline, which
 * moves it past what the user typed meanwhile, and it is tried again.
 *
 * Telling our own edits from the user's: while an edit is in flight, change events are
 * held. If VS Code accepted the edit, the event carrying version+1 is ours; every other
 * event is the user's. Our events are never sent back.
 */
import * as vscode from "vscode";
import type { LocalEdit, PlannedEdit } from "../sync/editorPipeline";
import { toWire, type DocumentChange } from "../sync/editorText";
import { CaretPolicy } from "./caretPolicy";
import { describeError, type Log } from "./log";
import type { NoteBinding, OpenNote } from "./noteRegistry";

/** How long to wait for the change event of an edit VS Code said it applied. */
const OWN_EVENT_TIMEOUT_MS = 5000;

interface InFlight {
  readonly version: number;
  accepted: boolean;
  arrived: (() => void) | undefined;
}

export class DocumentBinding implements vscode.Disposable, NoteBinding {
  private inFlight: InFlight | undefined;
  /**
   * Events that arrived while an edit was in flight, with the version each one made:
   * `document.version` is live, so by the time they are handled it has moved on.
   */
  private held: { event: vscode.TextDocumentChangeEvent; version: number }[] = [];
  private pumping = false;
  private pumpAgain = false;
  private retry: ReturnType<typeof setTimeout> | undefined;
  private readonly caret = new CaretPolicy();
  /** How often VS Code refused a stale edit (for the log and the suites). */
  refusedCount = 0;
  private disposed = false;
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly localEdits = new vscode.EventEmitter<LocalEdit>();
  private readonly becameIdle = new vscode.EventEmitter<void>();
  /** A local op reached the session (typing, our undo/redo, or a repair). */
  readonly onLocalEdit = this.localEdits.event;
  /** The document shows everything the session has. */
  readonly onIdle = this.becameIdle.event;

  constructor(
    readonly document: vscode.TextDocument,
    readonly note: OpenNote,
    private readonly log: Log,
  ) {
    note.bind(this);
    note.pipeline.attach(() => document.getText());
    this.subscriptions.push(
      vscode.workspace.onDidChangeTextDocument((e) => this.onChange(e)),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        if (e.textEditor.document === this.document) this.publishSelections(e.selections);
      }),
    );
    void this.pump();
  }

  get session(): OpenNote["session"] {
    return this.note.session;
  }

  get pipeline(): OpenNote["pipeline"] {
    return this.note.pipeline;
  }

  /** Counters for the log and the suites. */
  get stats(): { remoteApplied: number; reverted: number; repaired: number; refused: number } {
    return { ...this.pipeline.stats, refused: this.refusedCount };
  }

  /** True when the document shows exactly the session's text. */
  get idle(): boolean {
    return this.pipeline.idle && !this.inFlight && this.held.length === 0;
  }

  /** The pipeline has something new for the document. */
  wake(): void {
    void this.pump();
  }

  localEdit(edit: LocalEdit): void {
    this.localEdits.fire(edit);
  }

  /** Runs one of our own undo/redo steps; resolves whether the document changed. */
  step(kind: "undo" | "redo"): Promise<boolean> {
    const done = this.pipeline.step(kind);
    void this.pump();
    return done;
  }

  /** A position of the session's text in the document (meaningful while idle). */
  positionAt(offset: number): vscode.Position {
    const p = this.pipeline.positionAt(offset);
    return new vscode.Position(p.line, p.character);
  }

  private publishSelections(selections: readonly vscode.Selection[]): void {
    this.session.setSelections(
      selections.map((s) => ({ anchor: this.pipeline.toSessionOffset(s.anchor), head: this.pipeline.toSessionOffset(s.active) })),
    );
  }

  private onChange(e: vscode.TextDocumentChangeEvent): void {
    if (this.disposed || e.document !== this.document || e.contentChanges.length === 0) return;
    this.guarded(() => this.route(e));
    void this.pump();
  }

  /** A bug handling an event must not leave the note silently out of step: log it and repair. */
  private guarded(handle: () => void): void {
    try {
      handle();
    } catch (err) {
      this.log.error(`${this.document.uri.toString()}: handling a document change failed`, err);
      this.inFlight = undefined;
      this.pipeline.recover("handling a change failed");
    }
  }

  private route(e: vscode.TextDocumentChangeEvent): void {
    const inFlight = this.inFlight;
    if (inFlight && !inFlight.accepted) {
      this.held.push({ event: e, version: e.document.version });
      return;
    }
    if (inFlight && e.document.version === inFlight.version + 1) this.acceptOwn(e);
    else this.acceptUser(e);
  }

  /** A change the user (or VS Code, or another extension) made. */
  private acceptUser(e: vscode.TextDocumentChangeEvent): void {
    const reason =
      e.reason === vscode.TextDocumentChangeReason.Undo ? "undo" : e.reason === vscode.TextDocumentChangeReason.Redo ? "redo" : undefined;
    if (reason) {
      this.log.info(`${this.document.uri.toString()}: VS Code's own ${reason} ran in a shared note; it is taken back and the shared note's ${reason} runs instead.`);
    }
    const changes = changesOf(e);
    this.log.trace(() => `${this.document.uri.toString()}: typed ${JSON.stringify(changes.map((c) => c.text).join(""))}`);
    this.pipeline.userChange(changes, reason);
    if (!reason) this.caret.typed(this.caretAfter(changes), this.pipeline.text);
  }

  /** Where a one-range change leaves the caret (in the text after it). */
  private caretAfter(changes: readonly DocumentChange[]): number | undefined {
    const [only] = changes;
    return changes.length === 1 && only ? this.pipeline.offsetAt(only.range.start) + toWire(only.text).length : undefined;
  }

  /** The change event of an edit we made. */
  private acceptOwn(e: vscode.TextDocumentChangeEvent): void {
    const inFlight = this.inFlight!;
    this.inFlight = undefined;
    const changes = changesOf(e);
    this.log.trace(() => `${this.document.uri.toString()}: applied ${JSON.stringify(changes.map((c) => c.text).join(""))}`);
    inFlight.arrived?.();
    this.pipeline.applied(changes);
  }

  /** Applies what the pipeline has for the document, one edit at a time. */
  private async pump(): Promise<void> {
    if (this.pumping) {
      // Whatever asked (a held op's timer, say) is looked at once the running pass ends.
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    this.pumpAgain = false;
    try {
      // A closed document waits for its binding to end (onDidCloseTextDocument).
      while (!this.disposed && !this.document.isClosed && !this.inFlight && this.held.length === 0) {
        const head = this.pipeline.head;
        if (head?.kind === "remote") {
          const wait = this.caret.holdFor(head.op, this.pipeline.text, this.caretOffsets());
          if (wait > 0) {
            this.retryAfter(wait);
            break;
          }
        }
        const edit = this.pipeline.next();
        if (!edit) break;
        await this.issue(edit);
      }
    } finally {
      this.pumping = false;
    }
    if (this.disposed) return;
    if (this.pumpAgain) return this.pump();
    if (!this.idle) return;
    // Everything is shown: check that document, pipeline and session agree (repairs if not).
    this.pipeline.verify();
    if (this.pipeline.idle) this.becameIdle.fire();
    else return this.pump();
  }

  private retryAfter(ms: number): void {
    if (this.retry !== undefined) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.pump();
    }, ms);
  }

  private editor(): vscode.TextEditor | undefined {
    return vscode.window.visibleTextEditors.find((ed) => ed.document === this.document);
  }

  /** The carets of the visible editor, as pipeline offsets. */
  private caretOffsets(): number[] {
    const editor = this.editor();
    try {
      return editor ? editor.selections.flatMap((s) => [this.pipeline.offsetAt(s.anchor), this.pipeline.offsetAt(s.active)]) : [];
    } catch {
      // A document out of step is found and repaired before the next edit (see issue).
      return [];
    }
  }

  private async issue(edit: PlannedEdit): Promise<void> {
    const doc = this.document;
    if (!this.pipeline.matches(doc.getText())) {
      this.pipeline.recover("the document and the text we track differed before an edit");
      return;
    }
    const version = doc.version;
    const editor = this.editor();
    const text = this.pipeline.text;
    const carets = editor && edit.kind === "remote" ? this.caretOffsets() : undefined;
    const edits = this.pipeline.toDocument(carets ? this.caret.keepBefore(edit.edits, text, carets) : edit.edits);
    const ranges = edits.map((e) => ({ range: new vscode.Range(e.start.line, e.start.character, e.end.line, e.end.character), text: e.text }));
    const inFlight: InFlight = { version, accepted: false, arrived: undefined };
    this.inFlight = inFlight;
    this.log.trace(() => `${doc.uri.toString()}: applying ${edit.kind} ${JSON.stringify(ranges.map((r) => r.text).join(""))}`);
    let ok: boolean;
    try {
      if (editor) {
        // No undo stops: VS Code's own undo is taken back in shared notes (see the pipeline).
        ok = await editor.edit(
          (b) => {
            for (const r of ranges) b.replace(r.range, r.text);
          },
          { undoStopBefore: false, undoStopAfter: false },
        );
      } else {
        const we = new vscode.WorkspaceEdit();
        for (const r of ranges) we.replace(doc.uri, r.range, r.text);
        ok = await vscode.workspace.applyEdit(we);
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
      this.refusedCount++;
      this.inFlight = undefined;
      this.pipeline.refused();
      for (const h of held) this.guarded(() => this.acceptUser(h.event));
      return;
    }
    inFlight.accepted = true;
    for (const h of held) {
      this.guarded(() => (this.inFlight === inFlight && h.version === version + 1 ? this.acceptOwn(h.event) : this.acceptUser(h.event)));
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
      this.pipeline.recover("an accepted edit never reported its change");
    }
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.note.unbind(this);
    this.pipeline.detach();
    for (const s of this.subscriptions) s.dispose();
    this.localEdits.dispose();
    this.becameIdle.dispose();
  }
}

function changesOf(e: vscode.TextDocumentChangeEvent): DocumentChange[] {
  return e.contentChanges.map((c) => ({ range: c.range, text: c.text }));
}
