/**
 * "Who wrote this": a hover on a shared note says who last wrote the text under the
 * pointer and when, and a command tints the whole note faintly in each author's colour.
 * Both read the authorship the server keeps (history:authorship), cached per note for a
 * moment so a burst of hovers asks once.
 */
import * as vscode from "vscode";
import { NoteHistory } from "../client/noteHistory";
import { spanAt, UNKNOWN_AUTHOR, type AuthorSpan } from "../sync/historyAuthorship";
import type { DocumentBindings } from "./documentBindings";
import { ago, authorColor } from "./historyColors";
import { shortTime } from "./historyUri";
import { describeError, type Log } from "./log";
import type { NoteRegistry, OpenNote } from "./noteRegistry";
import { SCHEME } from "./noteUri";

/** A cached answer is used this long; the tint refreshes at most this often while people type. */
const FRESH_MS = 1000;
/** Alpha appended to an author's #rrggbb for the tint: faint enough to read through. */
const TINT_ALPHA = "26";

interface Cached {
  readonly at: number;
  readonly spans: Promise<readonly AuthorSpan[]>;
}

export class AuthorshipFeature implements vscode.Disposable {
  private readonly cache = new Map<string, Cached>();
  private tinting = false;
  private readonly tints = new Map<string, vscode.TextEditorDecorationType>();
  private readonly watches = new Map<string, vscode.Disposable>();
  private tintTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly registry: NoteRegistry,
    private readonly bindings: DocumentBindings,
    private readonly log: Log,
  ) {
    this.subscriptions = [
      vscode.languages.registerHoverProvider({ scheme: SCHEME }, { provideHover: (doc, pos) => this.hover(doc, pos) }),
      vscode.commands.registerCommand("sharedNotes.toggleAuthorTint", () => this.toggleTint()),
      vscode.window.onDidChangeVisibleTextEditors(() => this.tinting && this.scheduleTint()),
      registry.onDidClose((note) => {
        this.cache.delete(note.noteId);
        this.watches.get(note.noteId)?.dispose();
        this.watches.delete(note.noteId);
      }),
    ];
  }

  get tinted(): boolean {
    return this.tinting;
  }

  /** Who last wrote each range of the note's text (the server's latest revision). */
  spans(note: OpenNote, fresh = false): Promise<readonly AuthorSpan[]> {
    const cached = this.cache.get(note.noteId);
    if (!fresh && cached && Date.now() - cached.at < FRESH_MS) return cached.spans;
    const connection = this.registry.space;
    if (!connection) return Promise.resolve([]);
    const spans = new NoteHistory(connection.convex, connection.space.credentials, note.noteId)
      .authorship()
      .then((r) => r.authorship.spans());
    this.cache.set(note.noteId, { at: Date.now(), spans });
    spans.catch(() => this.cache.delete(note.noteId));
    return spans;
  }

  private async hover(doc: vscode.TextDocument, pos: vscode.Position): Promise<vscode.Hover | undefined> {
    const note = this.registry.get(doc.uri);
    if (!note) return undefined;
    let spans: readonly AuthorSpan[];
    try {
      spans = await this.spans(note);
    } catch (err) {
      this.log.warn(`Who wrote this: asking the server failed: ${describeError(err)}`);
      return undefined;
    }
    const span = spanAt(spans, doc.offsetAt(pos));
    if (!span) return undefined;
    const who = span.author === UNKNOWN_AUTHOR ? "someone, before authorship was kept" : `**${span.author}**`;
    const when = span.at === 0 ? "" : `, ${ago(span.at)} (${shortTime(span.at)})`;
    const end = Math.min(span.end, doc.getText().length);
    return new vscode.Hover(new vscode.MarkdownString(`Last written by ${who}${when}`), new vscode.Range(doc.positionAt(span.start), doc.positionAt(end)));
  }

  /** Turns the per-author tint of shared notes on or off; resolves with the new state. */
  async toggleTint(): Promise<boolean> {
    this.tinting = !this.tinting;
    if (this.tinting) await this.tint();
    else this.clearTint();
    return this.tinting;
  }

  private scheduleTint(): void {
    if (this.tintTimer !== undefined) return;
    this.tintTimer = setTimeout(() => {
      this.tintTimer = undefined;
      if (this.tinting) void this.tint();
    }, FRESH_MS);
  }

  private async tint(): Promise<void> {
    for (const editor of vscode.window.visibleTextEditors) {
      const binding = this.bindings.get(editor.document.uri);
      if (!binding) continue;
      const note = binding.note;
      if (!this.watches.has(note.noteId)) {
        const connection = this.registry.space;
        if (connection) {
          const history = new NoteHistory(connection.convex, connection.space.credentials, note.noteId);
          this.watches.set(note.noteId, history.onHead(() => this.tinting && this.scheduleTint(), () => undefined));
        }
      }
      let spans: readonly AuthorSpan[];
      try {
        spans = await this.spans(note, true);
      } catch (err) {
        this.log.warn(`Author tint: asking the server failed: ${describeError(err)}`);
        continue;
      }
      if (!this.tinting) return;
      const byAuthor = new Map<string, vscode.Range[]>();
      const length = editor.document.getText().length;
      for (const s of spans) {
        if (s.author === UNKNOWN_AUTHOR || s.start >= length) continue;
        const ranges = byAuthor.get(s.author) ?? [];
        ranges.push(new vscode.Range(editor.document.positionAt(s.start), editor.document.positionAt(Math.min(s.end, length))));
        byAuthor.set(s.author, ranges);
      }
      const present = note.session.collaborators;
      for (const [author, type] of this.tints) if (!byAuthor.has(author)) editor.setDecorations(type, []);
      for (const [author, ranges] of byAuthor) {
        let type = this.tints.get(author);
        if (!type) {
          type = vscode.window.createTextEditorDecorationType({ backgroundColor: `${authorColor(author, present)}${TINT_ALPHA}` });
          this.tints.set(author, type);
        }
        editor.setDecorations(type, ranges);
      }
    }
  }

  private clearTint(): void {
    clearTimeout(this.tintTimer);
    this.tintTimer = undefined;
    for (const type of this.tints.values()) type.dispose();
    this.tints.clear();
    for (const w of this.watches.values()) w.dispose();
    this.watches.clear();
  }

  dispose(): void {
    this.clearTint();
    for (const s of this.subscriptions) s.dispose();
  }
}
