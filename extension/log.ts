import * as vscode from "vscode";

/**
 * The extension's one place to report things. Everything goes to the "Shared Notes"
 * output channel rather than the console, so normal use leaves the console clean.
 */
export class Log implements vscode.Disposable {
  private readonly channel = vscode.window.createOutputChannel("Shared Notes", { log: true });

  info(message: string): void {
    this.channel.info(message);
  }

  warn(message: string): void {
    this.channel.warn(message);
  }

  error(message: string, err?: unknown): void {
    this.channel.error(err === undefined ? message : `${message}: ${describeError(err)}`);
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}

/** A sentence for a user from whatever was thrown, preferring a Convex error's message. */
export function describeError(err: unknown): string {
  if (err && typeof err === "object" && "data" in err) {
    const data = (err as { data: unknown }).data;
    if (typeof data === "string") return data;
    if (data && typeof data === "object" && "message" in data && typeof data.message === "string") return data.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
