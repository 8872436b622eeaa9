import { appendFileSync } from "node:fs";
import * as vscode from "vscode";
import { describeError } from "../sync/describeError";

// The extension's modules take the one describer (sync/describeError.ts) from here, beside the log they report to.
export { describeError };

/**
 * The extension's one place to report things. Everything goes to the "Shared Notes"
 * output channel rather than the console, so normal use leaves the console clean.
 */
export class Log implements vscode.Disposable {
  private readonly channel = vscode.window.createOutputChannel("Shared Notes", { log: true });

  /** Automation (the test runner) can ask for a copy of the log in a file it reads. */
  private readonly copyTo = process.env.SHARED_NOTES_LOG_FILE;
  /** Automation (bench:e2e) can ask for trace lines without setting the channel's level. */
  private readonly traceAsked = process.env.SHARED_NOTES_TRACE === "1";

  /**
   * Where each edit is and when (typed, sent, received, applied): what a slow note spends
   * its time on. Written when the channel's level is Trace ("Developer: Set Log Level") or
   * automation asked; the line is built only then, so a keystroke costs nothing otherwise.
   */
  trace(message: () => string): void {
    if (!this.traceAsked && this.channel.logLevel !== vscode.LogLevel.Trace) return;
    const line = message();
    this.channel.trace(line);
    this.copy("trace", line);
  }

  info(message: string): void {
    this.channel.info(message);
    this.copy("info", message);
  }

  warn(message: string): void {
    this.channel.warn(message);
    this.copy("warn", message);
  }

  error(message: string, err?: unknown): void {
    const text = err === undefined ? message : `${message}: ${describeError(err)}`;
    this.channel.error(text);
    this.copy("error", err instanceof Error && err.stack ? `${text}\n${err.stack}` : text);
  }

  private copy(level: string, message: string): void {
    if (!this.copyTo) return;
    try {
      appendFileSync(this.copyTo, `${new Date().toISOString()} [${level}] ${message}\n`);
    } catch {
      // A missing log copy must never break the extension.
    }
  }

  show(): void {
    this.channel.show(true);
  }

  dispose(): void {
    this.channel.dispose();
  }
}
