#!/usr/bin/env node
// Entry point of the `shared-notes` command. Each subcommand names a TypeScript module
// and the function it exports; scripts/run-ts.mjs loads it without a build step, in
// this process (so signals reach it directly).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { importTs } from "../scripts/run-ts.mjs";

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const COMMANDS = {
  serve: { module: "backend/cli.ts", fn: "runServe", help: "run the local Convex-compatible backend" },
};

const [name, ...args] = process.argv.slice(2);
const command = name === undefined ? undefined : COMMANDS[name];
if (!command) {
  const list = Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(8)} ${c.help}`).join("\n");
  process.stderr.write(`usage: shared-notes <command> [options]\n\ncommands:\n${list}\n`);
  process.exit(name === undefined || name === "help" || name === "--help" ? 0 : 2);
}
const mod = await importTs(path.join(repo, command.module));
await mod[command.fn](args);
