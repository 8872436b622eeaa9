/** Join links: `vscode://shared-notes.shared-notes/join?server=…&space=…&key=…`. */
import * as vscode from "vscode";
import { parseJoinLink } from "../client/joinLink";
import { describeError } from "./log";
import type { JoinedSpace } from "./spaceStore";

export class JoinLinkHandler implements vscode.UriHandler {
  constructor(private readonly join: (space: JoinedSpace) => Promise<boolean>) {}

  async handleUri(uri: vscode.Uri): Promise<void> {
    if (uri.path !== "/join") {
      void vscode.window.showWarningMessage(`Shared Notes does not know the link ${uri.path}.`);
      return;
    }
    let info: JoinedSpace;
    try {
      info = parseJoinLink(uri.query);
    } catch (err) {
      void vscode.window.showErrorMessage(describeError(err));
      return;
    }
    const answer = await vscode.window.showInformationMessage(
      info.name ? `Join the space "${info.name}" on ${info.serverUrl}?` : `Join the shared notes space on ${info.serverUrl}?`,
      { modal: true },
      "Join",
    );
    if (answer === "Join") await this.join(info);
  }
}
