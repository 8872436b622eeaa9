/**
 * The editor pipeline: one note as one editor document shows it. Pure; the extension
 * feeds it the document's change events and applies the edits it hands out.
 *
 * State: `shadow`, the document's text as the note has it (line breaks as on the wire,
 * see editorText.ts), and `queue`, the ops the session has and the document has not yet
 * shown, the first against `shadow`, each against the one before. So, always:
 *
 *   session.text === shadow + queue applied in order
 *
 * A user's change is an op on `shadow`; it moves past the queue (and the queue past it)
 * to reach the session. The document takes one edit at a time from `next()`: the queue's
 * head, or one of our own undo/redo steps (only when the queue is empty, where the
 * session's text and the document's agree). Undo history lives here too, fed with every
 * op in the session's order.
 *
 * Nothing is dropped when things do not line up: any mismatch between the document, the
 * shadow and the session is repaired by a three-way diff (`repair`), and reported.
 */
import { describeError } from "./describeError";
import { replacementOp } from "./diff";
import { documentEdits, insertsCarriageReturn, lineBreakFix, Lines, opFromChanges, toWire, type DocumentChange, type DocumentEdit, type Position } from "./editorText";
import { UndoHistory } from "./editorUndo";
import { apply, baseLength, compose, editsFromOp, invert, isNoop, transform, transformPosition, type Edit, type TextOp } from "./textOp";

/** The part of a note session the pipeline uses. */
export interface PipelineSession {
  readonly text: string;
  applyLocal(op: TextOp): void;
}

/** Where a local op came from: typing, our undo or redo, or a repair. */
export type LocalKind = "edit" | "undo" | "redo" | "fix";

export interface LocalEdit {
  /** The op as given to the session (against `before`). */
  readonly op: TextOp;
  /** The session text just before it. */
  readonly before: string;
  readonly kind: LocalKind;
}

export interface PipelineEvents {
  /** A local op reached the session. */
  readonly local?: (edit: LocalEdit) => void;
  /** Something did not line up and was repaired, or could not be given to the session. */
  readonly warn: (message: string) => void;
}

/**
 * What the document shows next: a teammate's op, the reversal of VS Code's own undo
 * (see `userChange`), or one of our undo/redo steps. `edits` are in `shadow` offsets.
 */
export interface PlannedEdit {
  readonly kind: "remote" | "revert" | "undo" | "redo";
  readonly op: TextOp;
  readonly edits: readonly Edit[];
}

/** Why the document changed when VS Code says so (its own undo and redo). */
export type ChangeReason = "undo" | "redo" | undefined;

interface Waiting {
  op: TextOp;
  readonly kind: "remote" | "revert";
}

interface StepRequest {
  readonly kind: "undo" | "redo";
  readonly done: (applied: boolean) => void;
}

interface InFlight {
  readonly edit: PlannedEdit;
  /** The queue entries it shows (from the front), or the undo/redo request. */
  readonly covers: number;
  readonly request: StepRequest | undefined;
}

export class EditorPipeline {
  private shadow = "";
  private queue: Waiting[] = [];
  private readonly history: UndoHistory;
  private readonly steps: StepRequest[] = [];
  private inFlight: InFlight | undefined;
  private readDocument: (() => string) | undefined;
  private lines: Lines | undefined;
  /**
   * The session refused the last op (closed, say). The document keeps the user's text
   * and nothing is taken out of it to match the session; the next edit tries again.
   */
  private sessionRefuses = false;
  /** Counters for the log and the suites. */
  readonly stats = { remoteApplied: 0, reverted: 0, repaired: 0 };

  constructor(
    private readonly session: PipelineSession,
    private readonly events: PipelineEvents,
    now: () => number = Date.now,
  ) {
    this.history = new UndoHistory(now);
    this.load();
  }

  /** The document's text as the note has it. */
  get text(): string {
    return this.shadow;
  }

  /** Nothing waits to be shown, nothing in flight, no undo/redo asked for. */
  get idle(): boolean {
    return this.queue.length === 0 && this.inFlight === undefined && this.steps.length === 0;
  }

  /** What waits to be shown next (without taking it). */
  get head(): { readonly kind: Waiting["kind"]; readonly op: TextOp } | undefined {
    return this.frontRun();
  }

  get canUndo(): boolean {
    return this.history.canUndo;
  }

  get canRedo(): boolean {
    return this.history.canRedo;
  }

  /**
   * The text a newly loaded document shows: the session's, from now on. A note whose
   * text has `\r` line breaks (written by an older client or a tool) is brought to the
   * wire's convention first.
   */
  load(): string {
    this.queue = [];
    this.inFlight = undefined;
    const text = this.session.text;
    const fix = lineBreakFix(text);
    if (!isNoop(fix)) {
      this.events.warn("The note had \\r line breaks; they are sent as \\n (one line ending on the wire).");
      if (this.give(fix)) this.sessionMoved(fix);
    }
    this.shadow = toWire(this.session.text);
    return this.shadow;
  }

  /** A document shows the note now; `read` gives its text, for repairs. */
  attach(read: () => string): void {
    this.readDocument = read;
    if (!this.matches(read())) this.repair("the document was loaded with a different text");
  }

  /** The document is gone: undo/redo requests end unapplied. */
  detach(): void {
    this.readDocument = undefined;
    if (this.inFlight?.request) {
      this.history.restore();
      this.inFlight.request.done(false);
    }
    this.inFlight = undefined;
    for (const s of this.steps.splice(0)) s.done(false);
  }

  /** True when a document's text is the shadow (in any line ending). */
  matches(documentText: string): boolean {
    return documentText === this.shadow || toWire(documentText) === this.shadow;
  }

  /** A teammate's op (or a reload's correction), already in the session's text. */
  remote(op: TextOp): void {
    this.sessionMoved(op);
    let waiting = op;
    if (insertsCarriageReturn(op)) {
      // Keep the wire to one line ending, and the document addressable by line.
      const fix = lineBreakFix(this.session.text);
      if (this.give(fix)) {
        this.sessionMoved(fix);
        waiting = compose(op, fix);
      }
    }
    this.queue.push({ op: waiting, kind: "remote" });
  }

  /**
   * A change of the document by the user (or another extension). VS Code's own undo and
   * redo (the Edit menu, the "Undo" command) may take back a teammate's text: such a
   * change never reaches the note. It is reverted in the document, and our own undo or
   * redo runs instead, so every way to undo in a shared note undoes only the user.
   */
  userChange(changes: readonly DocumentChange[], reason: ChangeReason = undefined): void {
    if (this.inFlight) throw new Error("a document change arrived while an edit was in flight");
    const base = this.shadow;
    let op: TextOp;
    try {
      op = opFromChanges(base, changes);
    } catch (err) {
      this.repair(`a change did not fit the text we track (${describeError(err)})`);
      return;
    }
    if (isNoop(op)) return;
    this.shadow = apply(base, op);
    if (reason !== undefined) {
      this.queue.unshift({ op: invert(op, base), kind: "revert" });
      this.steps.push({ kind: reason, done: () => undefined });
      return;
    }
    if (!this.sendLocal(op, "edit")) this.repair("an edit could not be given to the note session", base);
  }

  /** Asks for one of our own undo/redo steps; resolves whether the document changed. */
  step(kind: "undo" | "redo"): Promise<boolean> {
    return new Promise((done) => this.steps.push({ kind, done }));
  }

  /** Ends the undo group of a typing burst (e.g. when the caret jumps elsewhere). */
  closeUndoGroup(): void {
    this.history.closeGroup();
  }

  /** Takes the next edit for the document; one at a time, settled by applied, refused or recover. */
  next(): PlannedEdit | undefined {
    if (this.inFlight) return undefined;
    const run = this.frontRun();
    if (run) {
      const edit = { kind: run.kind, op: run.op, edits: editsFromOp(run.op) };
      this.inFlight = { edit, covers: run.covers, request: undefined };
      return edit;
    }
    if (this.steps.length > 0 && this.session.text !== this.shadow) {
      // History is against the session's text: it must be the document's to apply a step.
      this.repair("the note's text and the document's differed before an undo");
      if (this.queue.length > 0) return this.next();
      if (this.session.text !== this.shadow) {
        for (const s of this.steps.splice(0)) s.done(false);
        return undefined;
      }
    }
    for (let request = this.steps.shift(); request; request = this.steps.shift()) {
      const op = request.kind === "undo" ? this.history.takeUndo() : this.history.takeRedo();
      if (op === undefined || isNoop(op)) {
        this.history.dropTaken();
        request.done(false);
        continue;
      }
      const edit = { kind: request.kind, op, edits: editsFromOp(op) };
      this.inFlight = { edit, covers: 0, request };
      return edit;
    }
    return undefined;
  }

  /** The document took the edit from `next()`; `changes` is its change event. */
  applied(changes: readonly DocumentChange[]): void {
    const flight = this.takeInFlight();
    const before = this.shadow;
    let actual: TextOp;
    try {
      actual = opFromChanges(before, changes);
    } catch (err) {
      if (flight.request) {
        this.history.dropTaken();
        flight.request.done(false);
      }
      this.repair(`our own edit came back in an unexpected shape (${describeError(err)})`);
      return;
    }
    const expected = apply(before, flight.edit.op);
    this.shadow = apply(before, actual);
    if (flight.request) {
      // The step as planned when the document shows what it should: the change event
      // spells it minimally, which would move differently past teammates' ops than the
      // history moved it (UndoHistory.remote).
      const given = this.sendLocal(this.shadow === expected ? flight.edit.op : actual, flight.request.kind);
      this.history.dropTaken();
      if (!given) this.repair("an undo step could not be given to the note session", before);
      flight.request.done(true);
      return;
    }
    // Nothing changes the queue's front while an edit is in flight (remote ops are appended).
    this.queue.splice(0, flight.covers);
    if (flight.edit.kind === "remote") this.stats.remoteApplied += flight.covers;
    else this.stats.reverted++;
    // The document may store an edit differently from how it was given: the note follows it.
    if (this.shadow !== expected && !this.sendLocal(replacementOp(expected, this.shadow), "fix")) {
      this.repair("a correction could not be given to the note session", expected);
    }
  }

  /** The document refused the edit (it changed since we looked): it is tried again later. */
  refused(): void {
    const flight = this.takeInFlight();
    if (!flight.request) return;
    // The step moved with the teammates' ops that came meanwhile (see UndoHistory.remote).
    this.history.restore();
    this.steps.unshift(flight.request);
  }

  /**
   * Something unexpected happened (an edit accepted whose change never came, a failure
   * handling an event): whatever was in flight is settled as not applied, and the
   * document, the shadow and the session are brought together.
   */
  recover(why: string): void {
    const flight = this.inFlight;
    this.inFlight = undefined;
    if (flight?.request) {
      this.history.dropTaken();
      flight.request.done(false);
    }
    this.repair(why);
  }

  /**
   * Checks, once everything is shown, that the document, the shadow and the session
   * agree; repairs and reports when they do not. Costs one comparison of the texts.
   */
  verify(): void {
    if (!this.idle || this.sessionRefuses) return;
    const read = this.readDocument;
    if (read && !this.matches(read())) this.repair("the document changed without telling us");
    else if (this.session.text !== this.shadow) this.repair("the note's text and the document's differed with nothing left to apply");
  }

  /**
   * A document position as an offset in the session's text (through what waits to be
   * shown). Nearest, for a position the shadow does not have yet (a change still held).
   */
  toSessionOffset(pos: Position): number {
    let at = this.linesOf().nearestOffset(pos);
    for (const w of this.queue) at = transformPosition(at, w.op);
    return at;
  }

  /** A document position as an offset in the shadow. */
  offsetAt(pos: Position): number {
    return this.linesOf().offsetAt(pos);
  }

  /** Shadow offsets as document edits (after the caret policy has had its say). */
  toDocument(edits: readonly Edit[]): DocumentEdit[] {
    return documentEdits(this.shadow, edits);
  }

  /** The document position of a shadow offset (the session's, when idle). */
  positionAt(offset: number): Position {
    return this.linesOf().positionAt(offset);
  }

  /**
   * Brings the document and the session together without losing either side: the
   * user's changes since `base` (diffed from the document) move past the session's
   * changes since `base` (diffed from its text); the first goes to the session, the
   * second waits to be shown in the document.
   */
  private repair(why: string, agreed = this.shadow): void {
    this.stats.repaired++;
    const shown = this.readDocument ? toWire(this.readDocument()) : this.shadow;
    const sessionText = this.session.text;
    // After a refusal the session lacks what the document has since: the document wins.
    const base = this.sessionRefuses ? sessionText : agreed;
    const [mine, theirs] = transform(replacementOp(base, shown), replacementOp(base, sessionText), true);
    this.shadow = shown;
    this.queue = [];
    if (!isNoop(mine)) {
      // A session that refuses (reported once, by give) gets the document's text when it takes ops again.
      if (!this.give(mine)) return;
      this.sessionMoved(mine);
    }
    if (!isNoop(theirs)) this.queue.push({ op: theirs, kind: "remote" });
    this.events.warn(
      `${why}; repaired by a diff against the note's text (${isNoop(mine) ? "nothing" : "the document's changes"} sent, ` +
        `${isNoop(theirs) ? "nothing" : "the note's changes"} to show).`,
    );
  }

  /**
   * Gives an op made on the shadow to the session. The shadow lacks the queued ops, so
   * the op moves past them, and they past it. False when the session did not take it.
   */
  private sendLocal(op: TextOp, kind: LocalKind): boolean {
    let mine = op;
    // Typing goes left of a teammate's insert at the same spot, next to our caret. An undo
    // or redo step goes right of it, as the history moved it (UndoHistory.remote).
    const mineFirst = kind === "edit" || kind === "fix";
    for (const w of this.queue) {
      const [m, q] = transform(mine, w.op, mineFirst);
      w.op = q;
      mine = m;
    }
    if (isNoop(mine)) return true;
    const before = this.session.text;
    if (before.length !== baseLength(mine)) {
      // Expected while the session refuses edits (reported once); a mismatch otherwise.
      if (!this.sessionRefuses) this.events.warn(`The note's text (${before.length} code units) is not what the document's edit was made on.`);
      return false;
    }
    if (!this.give(mine)) return false;
    if (kind === "fix") this.sessionMoved(mine);
    else this.history.local(mine, before, kind);
    this.events.local?.({ op: mine, before, kind });
    return true;
  }

  /** An op reached the session's text that is not one of our undoable steps. */
  private sessionMoved(op: TextOp): void {
    this.history.remote(op);
  }

  private give(op: TextOp): boolean {
    try {
      this.session.applyLocal(op);
      this.sessionRefuses = false;
      return true;
    } catch (err) {
      if (!this.sessionRefuses) this.events.warn(`The note session refused an edit (the document keeps it): ${describeError(err)}`);
      this.sessionRefuses = true;
      return false;
    }
  }

  /**
   * The front of the queue as one edit: every remote op waiting there, composed. On a slow
   * link or a busy editor, each edit costs a round trip to VS Code's main thread; a burst
   * of a teammate's keys then lands at once instead of one key per round trip.
   */
  private frontRun(): { kind: Waiting["kind"]; op: TextOp; covers: number } | undefined {
    while (this.queue[0] && isNoop(this.queue[0].op)) this.queue.shift();
    const first = this.queue[0];
    if (!first) return undefined;
    let op = first.op;
    let covers = 1;
    if (first.kind === "remote") {
      for (let next = this.queue[covers]; next?.kind === "remote"; next = this.queue[++covers]) op = compose(op, next.op);
    }
    return { kind: first.kind, op, covers };
  }

  private takeInFlight(): InFlight {
    const flight = this.inFlight;
    if (!flight) throw new Error("no edit is in flight");
    this.inFlight = undefined;
    return flight;
  }

  private linesOf(): Lines {
    if (this.lines?.text !== this.shadow) this.lines = new Lines(this.shadow);
    return this.lines;
  }
}
