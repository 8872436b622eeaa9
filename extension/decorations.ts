/**
 * Teammates inline: a caret (thin border), a selection highlight and a name label at the
 * caret, in each collaborator's colour. Decoration types are made once per colour and
 * kept (creating them per update would leak and flicker); every decoration is cleared on
 * dispose.
 */
import * as vscode from "vscode";
import type { DocumentBinding } from "./documentBinding";
import type { DocumentBindings } from "./documentBindings";

interface ColourTypes {
  readonly caret: vscode.TextEditorDecorationType;
  readonly selection: vscode.TextEditorDecorationType;
  readonly label: vscode.TextEditorDecorationType;
}

/** What the decorations of one editor show, for tests and the collaborators view. */
export interface RenderedCollaborator {
  readonly name: string;
  readonly color: string;
  readonly carets: readonly vscode.Position[];
  readonly selections: readonly vscode.Range[];
}

function withAlpha(hex: string, alpha: number): string {
  const a = Math.round(alpha * 255).toString(16).padStart(2, "0");
  return `${hex}${a}`;
}

/** Black or white text, whichever reads better on the colour. */
function labelText(hex: string): string {
  const n = Number.parseInt(hex.slice(1), 16);
  const r = (n >> 16) & 255;
  const g = (n >> 8) & 255;
  const b = n & 255;
  return 0.299 * r + 0.587 * g + 0.114 * b > 150 ? "#1e1e1e" : "#ffffff";
}

export class CollaboratorDecorations implements vscode.Disposable {
  private readonly types = new Map<string, ColourTypes>();
  private readonly perBinding = new Map<DocumentBinding, vscode.Disposable[]>();
  private readonly rendered = new Map<string, RenderedCollaborator[]>();
  private readonly subscriptions: vscode.Disposable[] = [];
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  /** Decorations of a document were redrawn. */
  readonly onDidRender = this.changed.event;

  constructor(private readonly bindings: DocumentBindings) {
    this.subscriptions.push(
      bindings.onDidCreate((b) => this.watch(b)),
      bindings.onDidRemove((b) => this.unwatch(b)),
      vscode.window.onDidChangeVisibleTextEditors(() => this.renderAll()),
    );
    for (const b of bindings.all()) this.watch(b);
  }

  /** What is drawn in the document now, per collaborator. */
  renderedFor(uri: vscode.Uri): readonly RenderedCollaborator[] {
    return this.rendered.get(uri.toString()) ?? [];
  }

  private typesFor(color: string): ColourTypes {
    const key = color.toLowerCase();
    let t = this.types.get(key);
    if (!t) {
      t = {
        caret: vscode.window.createTextEditorDecorationType({
          borderStyle: "solid",
          borderColor: color,
          borderWidth: "0 0 0 2px",
          rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
        }),
        selection: vscode.window.createTextEditorDecorationType({
          light: { backgroundColor: withAlpha(color, 0.25) },
          dark: { backgroundColor: withAlpha(color, 0.35) },
          rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
        }),
        label: vscode.window.createTextEditorDecorationType({
          after: {
            backgroundColor: color,
            color: labelText(color),
            margin: "0 0 0 2px",
            fontWeight: "normal",
            textDecoration: "none; font-size: 0.8em; padding: 0 3px; border-radius: 2px; vertical-align: top",
          },
          rangeBehavior: vscode.DecorationRangeBehavior.ClosedClosed,
        }),
      };
      this.types.set(key, t);
    }
    return t;
  }

  private watch(binding: DocumentBinding): void {
    const render = () => this.render(binding);
    this.perBinding.set(binding, [binding.session.onCollaborators(render), binding.onIdle(render)]);
    render();
  }

  private unwatch(binding: DocumentBinding): void {
    for (const d of this.perBinding.get(binding) ?? []) d.dispose();
    this.perBinding.delete(binding);
    this.rendered.delete(binding.document.uri.toString());
    for (const editor of this.editorsOf(binding)) this.clear(editor);
  }

  private renderAll(): void {
    for (const b of this.perBinding.keys()) this.render(b);
  }

  private editorsOf(binding: DocumentBinding): vscode.TextEditor[] {
    return vscode.window.visibleTextEditors.filter((e) => e.document === binding.document);
  }

  private render(binding: DocumentBinding): void {
    // Teammates' positions are in the session's text; wait until the document shows it.
    if (!binding.idle) return;
    const doc = binding.document;
    // Session offsets, which in a CRLF document are not the document's own.
    const at = (offset: number) => binding.positionAt(offset);
    const others = binding.session.collaborators.filter((c) => c.clientId !== binding.session.clientId);
    const byColour = new Map<string, { carets: vscode.DecorationOptions[]; selections: vscode.Range[]; labels: vscode.DecorationOptions[] }>();
    const rendered: RenderedCollaborator[] = [];
    for (const c of others) {
      const key = c.color.toLowerCase();
      let group = byColour.get(key);
      if (!group) byColour.set(key, (group = { carets: [], selections: [], labels: [] }));
      const carets: vscode.Position[] = [];
      const selections: vscode.Range[] = [];
      c.selections.forEach((s, i) => {
        const head = at(s.head);
        carets.push(head);
        group.carets.push({ range: new vscode.Range(head, head), hoverMessage: c.name });
        if (s.anchor !== s.head) {
          const range = new vscode.Range(at(Math.min(s.anchor, s.head)), at(Math.max(s.anchor, s.head)));
          selections.push(range);
          group.selections.push(range);
        }
        // One label per person, at their main caret.
        if (i === 0) {
          group.labels.push({ range: new vscode.Range(head, head), renderOptions: { after: { contentText: c.name } } });
        }
      });
      rendered.push({ name: c.name, color: c.color, carets, selections });
    }
    this.rendered.set(doc.uri.toString(), rendered);
    for (const c of others) this.typesFor(c.color);
    for (const editor of this.editorsOf(binding)) {
      // Every known colour is set, so a teammate who left or changed colour is wiped.
      for (const [key, types] of this.types) {
        const group = byColour.get(key);
        editor.setDecorations(types.caret, group?.carets ?? []);
        editor.setDecorations(types.selection, group?.selections ?? []);
        editor.setDecorations(types.label, group?.labels ?? []);
      }
    }
    this.changed.fire(doc.uri);
  }

  private clear(editor: vscode.TextEditor): void {
    for (const t of this.types.values()) {
      editor.setDecorations(t.caret, []);
      editor.setDecorations(t.selection, []);
      editor.setDecorations(t.label, []);
    }
  }

  dispose(): void {
    for (const b of [...this.perBinding.keys()]) this.unwatch(b);
    for (const s of this.subscriptions) s.dispose();
    for (const t of this.types.values()) {
      t.caret.dispose();
      t.selection.dispose();
      t.label.dispose();
    }
    this.types.clear();
    this.changed.dispose();
  }
}

