import { execFile } from "node:child_process";
import * as vscode from "vscode";
import { DEFAULT_SERVER_URL } from "../client/connect";
import type { UserInfo } from "../client/types";
import { colorProblem, displayNameProblem } from "../sync/rules";

/** Shown for someone who dismissed the question; they are asked again next time. */
const ANONYMOUS = "Anonymous";

const SECTION = "sharedNotes";

/** Colours that read on both light and dark themes; a user without a setting gets one by name. */
export const PALETTE = ["#e06c75", "#61afef", "#98c379", "#c678dd", "#d19a66", "#56b6c2", "#e5c07b", "#be5046"] as const;

export function colorForName(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return PALETTE[h % PALETTE.length]!;
}

/**
 * The server to use. SHARED_NOTES_SERVER_URL wins over the setting so that automation
 * (the test runner, a demo script) can point a fresh window at its own backend.
 */
export function serverUrl(): string {
  const fromEnv = process.env.SHARED_NOTES_SERVER_URL;
  if (fromEnv) return fromEnv;
  const configured = vscode.workspace.getConfiguration(SECTION).get<string>("serverUrl");
  return configured && configured.trim() !== "" ? configured.trim() : DEFAULT_SERVER_URL;
}

function gitUserName(): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile("git", ["config", "--get", "user.name"], { timeout: 2000 }, (err, stdout) => {
      const name = err ? "" : stdout.trim();
      resolve(name === "" ? undefined : name);
    });
  });
}

/**
 * Asks once for the name teammates will see and keeps it in the user's settings. An OS
 * account name ("root", "ubuntu") would say nothing about who is typing.
 */
let asking: Promise<string | undefined> | undefined;
let dismissed = false;
function askForName(): Promise<string | undefined> {
  if (dismissed) return Promise.resolve(undefined);
  asking ??= (async () => {
    const name = (
      await vscode.window.showInputBox({
        title: "Shared Notes: your name",
        prompt: "Teammates see this name next to your cursor. You can change it in the setting sharedNotes.userName.",
        ignoreFocusOut: true,
        validateInput: (value) => displayNameProblem(value) ?? null,
      })
    )?.trim();
    if (name) await vscode.workspace.getConfiguration(SECTION).update("userName", name, vscode.ConfigurationTarget.Global);
    else dismissed = true; // asked again in the next window, not at every note
    return name;
  })().finally(() => (asking = undefined));
  return asking;
}

/** Who we are to teammates: setting, then the environment, then git, then asked once. */
export async function currentUser(): Promise<UserInfo> {
  const config = vscode.workspace.getConfiguration(SECTION);
  const configuredName = config.get<string>("userName")?.trim();
  const name = configuredName || process.env.SHARED_NOTES_USER_NAME || (await gitUserName()) || (await askForName()) || ANONYMOUS;
  const configuredColor = config.get<string>("color")?.trim();
  const color = configuredColor && colorProblem(configuredColor) === undefined ? configuredColor : colorForName(name);
  return { name, color };
}

export function onSettingsChanged(listener: (e: vscode.ConfigurationChangeEvent) => void): vscode.Disposable {
  return vscode.workspace.onDidChangeConfiguration((e) => {
    if (e.affectsConfiguration(SECTION)) listener(e);
  });
}
