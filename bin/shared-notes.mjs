#!/usr/bin/env node
// Entry point of the `shared-notes` command. Each subcommand names a TypeScript module
// and the function it exports; scripts/run-ts.mjs loads it without a build step, in
// this process (so signals reach it directly).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { importTs } from "../scripts/run-ts.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const notes = (help) => ({ module: "cli/commands.ts", fn: "runCli", withName: true, help });
const COMMANDS = {
  serve: { module: "backend/cli.ts", fn: "runServe", help: "run the local Convex-compatible backend" },
  space: notes("space create: make a space; prints its id, key and join link"),
  ls: notes("list the notes of the space"),
  create: notes("create <title>: make an empty note"),
  cat: notes("cat <title> [--rev N | --at TIME]: print a note (as it was then)"),
  log: notes("log <title>: the note's editing sessions: who, when, +/-"),
  append: notes("append <title> [text]: add text at the end (stdin when no text)"),
  watch: notes("watch <title>: print a note live as others type"),
  rm: notes("rm <title>: delete a note"),
};

const [name, ...args] = process.argv.slice(2);
const command = name === undefined ? undefined : COMMANDS[name];
if (!command) {
  const list = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(8)} ${c.help}`).join("\n");
  process.stderr.write(
    `usage: shared-notes <command> [options]\n\ncommands:\n${list}\n\n` +
      "Note commands take --url URL --space ID --key KEY, or SHARED_NOTES_URL, SHARED_NOTES_SPACE, SHARED_NOTES_KEY.\n",
  );
  process.exit(name === undefined || name === "help" || name === "--help" ? 0 : 2);
}
const mod = await importTs(path.join(repo, command.module));
const code = await mod[command.fn](command.withName ? [name, ...args] : args);
if (typeof code === "number") process.exitCode = code;
