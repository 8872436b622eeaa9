/**
 * Which space this window is in: create, join (by link or id + key), leave, and the
 * commands for them. Keys live in SecretStorage (spaceStore.ts).
 */
import * as vscode from "vscode";
import { joinLink, parseJoinLink, webJoinLink } from "../client/joinLink";
import { createSpace } from "../client/space";
import { DEFAULT_SPACE_NAME, spaceNameProblem } from "../sync/rules";
import { describeError, type Log } from "./log";
import { serverUrl } from "./settings";
import { connect } from "../client/connect";
import { SpaceConnection } from "./spaceConnection";
import type { JoinedSpace, SpaceStore } from "./spaceStore";

export class Spaces implements vscode.Disposable {
  private current: SpaceConnection | undefined;
  private readonly changed = new vscode.EventEmitter<SpaceConnection | undefined>();
  readonly onDidChange = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [];
  /** Explicit choices of space begun so far (join, create, leave): a restore yields to any begun while it ran. */
  private choices = 0;
  /** Changes of space, one after another: each event then names what `current` holds. */
  private switching: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: SpaceStore,
    private readonly log: Log,
  ) {
    this.subscriptions.push(
      vscode.commands.registerCommand("sharedNotes.createSpace", (name?: string) => this.create(name)),
      vscode.commands.registerCommand("sharedNotes.joinSpace", (link?: string) => this.joinFromInput(link)),
      vscode.commands.registerCommand("sharedNotes.leaveSpace", () => this.leave()),
      vscode.commands.registerCommand("sharedNotes.copyJoinLink", (form?: "desktop" | "web", address?: string) => this.copyLink(form, address)),
    );
  }

  get connection(): SpaceConnection | undefined {
    return this.current;
  }

  /**
   * Rejoins the stored space, or the one named by SHARED_NOTES_SPACE_ID/KEY (automation).
   * A window opened by a join link joins that space while this runs (reading the store,
   * asking the server): then the link's space stays, whichever answer comes last.
   */
  async restore(): Promise<void> {
    const before = this.choices;
    const superseded = (): boolean => this.choices !== before;
    const spaceId = process.env.SHARED_NOTES_SPACE_ID;
    const key = process.env.SHARED_NOTES_SPACE_KEY;
    const name = process.env.SHARED_NOTES_SPACE_NAME;
    const joined: JoinedSpace | undefined =
      spaceId && key ? { serverUrl: serverUrl(), spaceId, key, ...(name ? { name } : {}) } : await this.store.load();
    if (superseded()) return;
    if (joined) await this.join(joined, { quiet: true, superseded });
    else await this.setCurrent(undefined);
  }

  /**
   * Joins a space after checking its key with the server, which also tells its name (a
   * link's name is only a hint). The name is fixed for the connection: it is part of
   * every note's address.
   */
  async join(space: JoinedSpace, opts: { quiet?: boolean; superseded?: () => boolean } = {}): Promise<boolean> {
    const { superseded } = opts;
    if (!superseded) this.choices++;
    const connection = new SpaceConnection(space, this.log);
    try {
      connection.named(await withTimeout(connection.space.name(), 15_000, "the server did not answer"));
    } catch (err) {
      const message = `Could not reach the space on ${space.serverUrl}: ${describeError(err)}`;
      this.log.error(message);
      if (!opts.quiet || superseded?.()) {
        connection.dispose();
        if (!opts.quiet) void vscode.window.showErrorMessage(message);
        return false;
      }
      // At startup the backend may not be running yet: stay in the space and let the
      // connection retry; the status bar shows it offline meanwhile.
      void vscode.window.showWarningMessage(message);
      await this.setCurrent(connection);
      return false;
    }
    if (superseded?.()) {
      this.log.info(`Not rejoining space ${space.spaceId}: another was chosen meanwhile.`);
      connection.dispose();
      return false;
    }
    await this.store.save({ ...space, name: connection.name });
    await this.setCurrent(connection);
    this.log.info(`Joined space "${connection.name}" (${space.spaceId}) on ${space.serverUrl}.`);
    return true;
  }

  async create(name?: string): Promise<JoinedSpace | undefined> {
    const chosen =
      name ??
      (await vscode.window.showInputBox({
        title: "Create a Space",
        prompt: "A name for the space: your team sees it in the notes view, in tabs and in join links.",
        value: DEFAULT_SPACE_NAME,
        ignoreFocusOut: true,
        validateInput: (value) => spaceNameProblem(value) ?? null,
      }));
    if (chosen === undefined) return undefined;
    const url = serverUrl();
    const convex = connect(url, (line) => this.log.info(`server connection: ${line}`));
    try {
      const creds = await withTimeout(createSpace(convex, chosen.trim()), 15_000, "the server did not answer");
      const space: JoinedSpace = { serverUrl: url, ...creds };
      if (!(await this.join(space))) return undefined;
      const copy = "Copy Join Link";
      void vscode.window
        .showInformationMessage("Space created. Share its join link with your team.", copy)
        .then((answer) => (answer === copy ? this.copyLink() : undefined));
      return space;
    } catch (err) {
      void vscode.window.showErrorMessage(`Could not create a space on ${url}: ${describeError(err)}`);
      return undefined;
    } finally {
      void convex.close().catch(() => undefined);
    }
  }

  private async joinFromInput(link?: string): Promise<boolean> {
    const text =
      link ??
      (await vscode.window.showInputBox({
        prompt: "Paste a Shared Notes join link",
        placeHolder: "vscode://shared-notes.shared-notes/join?server=…&space=…&key=…",
        ignoreFocusOut: true,
        validateInput: (v) => {
          try {
            parseJoinLink(v.trim());
            return undefined;
          } catch (err) {
            return describeError(err);
          }
        },
      }));
    if (!text) return false;
    return await this.join(parseJoinLink(text.trim()));
  }

  async leave(): Promise<void> {
    this.choices++;
    if (!this.current) return;
    this.log.info(`Left space ${this.current.spaceId}.`);
    await this.store.clearCurrent();
    await this.setCurrent(undefined);
  }

  /**
   * Copies a join link in the form the teammate's VS Code needs: a `vscode://` link for
   * desktop VS Code, or the address of their VS Code in a browser (code-server) with the
   * join request in it. `form` and `webAddress` skip the questions (for automation).
   */
  async copyLink(form?: "desktop" | "web", webAddress?: string): Promise<string | undefined> {
    const c = this.current;
    if (!c) return undefined;
    const info = { serverUrl: c.joined.serverUrl, spaceId: c.joined.spaceId, key: c.joined.key, name: c.name };
    const picked =
      form ??
      (
        await vscode.window.showQuickPick(
          [
            { label: "Desktop VS Code", description: "a vscode:// link", form: "desktop" as const },
            { label: "VS Code in a browser", description: "code-server: the address of your teammate's VS Code", form: "web" as const },
          ],
          { title: `Copy a join link for "${c.name}"`, placeHolder: "Where will your teammate open it?" },
        )
      )?.form;
    if (picked === undefined) return undefined;
    let link: string;
    if (picked === "desktop") link = joinLink(info);
    else {
      const address =
        webAddress ??
        (await vscode.window.showInputBox({
          title: "Address of your teammate's VS Code in a browser",
          value: process.env.SHARED_NOTES_WORKBENCH_URL ?? "http://127.0.0.1:8080",
          ignoreFocusOut: true,
          validateInput: (v) => (/^https?:\/\/[^\s/]+/.test(v.trim()) ? null : "An address such as http://127.0.0.1:8080"),
        }));
      if (address === undefined) return undefined;
      link = webJoinLink(address.trim(), info);
    }
    await vscode.env.clipboard.writeText(link);
    void vscode.window.showInformationMessage("Join link copied. It holds the space's key: share it privately.");
    return link;
  }

  private setCurrent(next: SpaceConnection | undefined): Promise<void> {
    const change = this.switching.then(async () => {
      const previous = this.current;
      this.current = next;
      await vscode.commands.executeCommand("setContext", "sharedNotes.joined", next !== undefined);
      this.changed.fire(next);
      previous?.dispose();
    });
    this.switching = change.catch(() => undefined);
    return change;
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.current?.dispose();
    this.changed.dispose();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(what)), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err instanceof Error ? err : new Error(String(err)));
      },
    );
  });
}
