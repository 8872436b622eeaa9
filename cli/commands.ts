import type { ConvexClient } from "convex/browser";
import { homedir } from "node:os";
import { join } from "node:path";
import { describeError } from "../sync/describeError";
import { DEFAULT_SPACE_NAME, spaceNameProblem } from "../sync/rules";
import { OpBuilder } from "../sync/textOp";
import { connect } from "../client/connect";
import { joinLink } from "../client/joinLink";
import { FilePendingStore } from "../client/pendingStore";
import { createSpace, Space } from "../client/space";
import type { NoteSession, RejectedEdit } from "../client/types";
import { DEFAULT_WAIT_SECONDS, parseOptions, requireCredentials, UsageError, type CliOptions } from "./options";
import { catVersionCommand, HISTORY_USAGE, logCommand, wantsVersion } from "./history";

/** Exit status of a run whose edit is kept locally but not yet confirmed by the server. */
export const EXIT_NOT_CONFIRMED = 3;

export const USAGE = `usage: shared-notes <command> [--url URL] [--space ID --key KEY]

  serve [options]              run the local Convex-compatible backend (serve --help lists them)
  space create [name]          make a space; prints its id, key and join link
  ls                           list the notes of the space
  create <title>               make an empty note
  cat <title>                  print a note
${HISTORY_USAGE}
  append <title> [text]        add text at the end of a note (stdin when no text)
  watch <title>                print a note live as others type (Ctrl+C stops)
  rm <title>                   delete a note

--url defaults to SHARED_NOTES_URL or the local backend; --space and --key default to
SHARED_NOTES_SPACE and SHARED_NOTES_KEY.

append waits up to --wait SECONDS (SHARED_NOTES_WAIT, default ${DEFAULT_WAIT_SECONDS}) for the server to
confirm the edit. If it cannot (the server is down or its disk is full), the edit stays
in the pending store and is sent by the next append or watch of the note; the command
then exits with status ${EXIT_NOT_CONFIRMED}.`;

type Command = (options: CliOptions, convex: ConvexClient) => Promise<void>;

const commands: Record<string, Command> = {
  space: async (options, convex) => {
    if (options.positional[0] !== "create") throw new UsageError("usage: shared-notes space create [name]");
    const name = options.positional.slice(1).join(" ") || DEFAULT_SPACE_NAME;
    const problem = spaceNameProblem(name);
    if (problem !== undefined) throw new UsageError(problem);
    const creds = await createSpace(convex, name);
    process.stdout.write(
      `space: ${creds.spaceId} (${name.trim()})\nkey:   ${creds.key}\njoin:  ${joinLink({ ...creds, serverUrl: options.url, name })}\n` +
        `\nexport SHARED_NOTES_URL=${options.url} SHARED_NOTES_SPACE=${creds.spaceId} SHARED_NOTES_KEY=${creds.key}\n`,
    );
  },
  ls: async (options, convex) => {
    const notes = await spaceOf(options, convex).list();
    for (const note of notes) process.stdout.write(`${note.title}\n`);
  },
  create: async (options, convex) => {
    const title = needTitle(options, "create");
    await spaceOf(options, convex).create(title);
  },
  cat: async (options, convex) => {
    if (wantsVersion(options)) return await catVersionCommand(options, convex);
    const { session } = await openByTitle(options, convex, "cat");
    process.stdout.write(session.text);
    await session.close();
  },
  append: async (options, convex) => {
    const title = needTitle(options, "append");
    const text = options.positional.length > 1 ? options.positional.slice(1).join(" ") : await readStdin();
    const { session, lastProblem } = await openByTitle(options, convex, "append", title);
    // A refusal for good empties the queue too: it must not read as success.
    let refused: RejectedEdit | undefined;
    const listener = session.onRejected((edit) => (refused ??= edit));
    try {
      session.applyLocal(new OpBuilder().retain(session.text.length).insert(text).build());
      await confirmed(session, options.waitMs, lastProblem);
      if (refused) {
        throw new Error(`the server refused the edit (${refused.code}): ${refused.message} Nothing was appended; the text is still where you gave it from.`);
      }
    } finally {
      listener.dispose();
      await session.close();
    }
  },
  watch: async (options, convex) => {
    const { session } = await openByTitle(options, convex, "watch");
    const out = process.stdout;
    const redraw = (): void => {
      if (out.isTTY) out.write(`\x1b[2J\x1b[H${session.text}`);
    };
    let shown = session.text;
    if (out.isTTY) redraw();
    else out.write(shown);
    session.onRemoteOp(() => {
      const now = session.text;
      if (out.isTTY) redraw();
      else if (now.startsWith(shown)) out.write(now.slice(shown.length));
      else out.write(`\n--- changed ---\n${now}`);
      shown = now;
    });
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await session.close();
  },
  log: logCommand,
  rm: async (options, convex) => {
    const title = needTitle(options, "rm");
    const space = spaceOf(options, convex);
    await space.remove(await requireNote(space, title));
  },
};

export async function runCli(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  const command = name === undefined ? undefined : commands[name];
  if (!command) {
    process.stderr.write(`${name === undefined || name === "help" || name === "--help" ? "" : `unknown command: ${name}\n`}${USAGE}\n`);
    return name === "help" || name === "--help" ? 0 : 2;
  }
  let convex: ConvexClient | undefined;
  try {
    const options = parseOptions(rest, process.env);
    await requireServer(options.url);
    convex = connect(options.url);
    await command(options, convex);
    return 0;
  } catch (err) {
    process.stderr.write(`shared-notes ${name}: ${describeError(err)}\n`);
    return err instanceof NotConfirmedError ? EXIT_NOT_CONFIRMED : 1;
  } finally {
    await convex?.close();
  }
}

/** Fails fast with advice when nothing listens at the URL, instead of retrying forever. */
async function requireServer(url: string): Promise<void> {
  try {
    await fetch(url, { signal: AbortSignal.timeout(3000) });
  } catch {
    throw new UsageError(`no Shared Notes server answers at ${url}. Start the local one with \`shared-notes serve\` (or pass --url).`);
  }
}

function spaceOf(options: CliOptions, convex: ConvexClient): Space {
  return new Space(convex, requireCredentials(options));
}

function needTitle(options: CliOptions, command: string): string {
  const title = options.positional[0];
  if (!title) throw new UsageError(`usage: shared-notes ${command} <title>`);
  return title;
}

async function requireNote(space: Space, title: string): Promise<string> {
  const noteId = await space.find(title);
  if (noteId === null) throw new UsageError(`there is no note titled "${title}" in this space`);
  return noteId;
}

interface OpenedNote {
  readonly session: NoteSession;
  /** The last problem the session reported (a refused submit, a failed save), for the error message. */
  readonly lastProblem: () => string | undefined;
}

async function openByTitle(options: CliOptions, convex: ConvexClient, command: string, title = needTitle(options, command)): Promise<OpenedNote> {
  const space = spaceOf(options, convex);
  const noteId = await requireNote(space, title);
  let problem: string | undefined;
  const session = await space.open(noteId, {
    user: { name: process.env.USER ?? "cli", color: "#888888" },
    store: new FilePendingStore(pendingDir()),
    presence: command === "watch",
    log: (message) => (problem = message),
  });
  return { session, lastProblem: () => problem };
}

/** The edit is safe in the pending store, but this run could not deliver it. */
class NotConfirmedError extends Error {
  override name = "NotConfirmedError";
}

/** Waits up to `waitMs` for the server to confirm every edit of the session. */
async function confirmed(session: NoteSession, waitMs: number, lastProblem: () => string | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const inTime = await Promise.race([
    session.flush().then(() => true),
    new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), waitMs))),
  ]);
  clearTimeout(timer);
  if (inTime) return;
  const problem = lastProblem();
  throw new NotConfirmedError(
    `the server has not confirmed the edit after ${waitMs / 1000} s${problem ? ` (the session last said: ${problem})` : ""}. ` +
      `It is kept in ${pendingDir()} and will be sent by the next "shared-notes append" or "watch" of this note.`,
  );
}

/** Where unconfirmed CLI edits wait across restarts. */
function pendingDir(): string {
  const state = process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state");
  return join(state, "shared-notes", "pending");
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError("usage: shared-notes append <title> <text> (or pipe text on stdin)");
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
