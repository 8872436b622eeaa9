/**
 * Joining from VS Code in a browser (code-server), which has no `vscode://` handler: the
 * link (client/joinLink.ts webJoinLink) makes the workbench open `sharednotes:/join?…`.
 * The file system answers that address with a placeholder and hands it here, which asks
 * the same question as a desktop join link, joins, closes the placeholder and shows the notes.
 */
import * as vscode from "vscode";
import { WEB_JOIN_PATH } from "../client/joinLink";
import type { JoinLinkHandler } from "./uriHandler";

export const WEB_JOIN_TEXT = "Joining a Shared Notes space… (this tab closes by itself)\n";

export function isWebJoin(uri: vscode.Uri): boolean {
  return uri.authority === "" && uri.path === WEB_JOIN_PATH && uri.query !== "";
}

export class WebJoin {
  /** Each request is handled once per window, however often the workbench reads the file. */
  private readonly handled = new Set<string>();

  constructor(private readonly links: JoinLinkHandler) {}

  request(uri: vscode.Uri): void {
    if (this.handled.has(uri.query)) return;
    this.handled.add(uri.query);
    void this.run(uri);
  }

  private async run(uri: vscode.Uri): Promise<void> {
    await this.links.handleUri(uri);
    const placeholders = vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .filter((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === uri.toString());
    await vscode.window.tabGroups.close(placeholders);
    await vscode.commands.executeCommand("workbench.view.extension.sharedNotes");
  }
}
