/**
 * The `shared-notes` command: `serve` runs the local backend, every other command works on
 * the notes of a space (cli/commands.ts, which also holds the one usage text). Bundled by
 * scripts/build.mjs into dist/cli.mjs, the package's bin; nothing is compiled at run time.
 */
import { runServe } from "../backend/cli";
import { runCli } from "./commands";

const argv = process.argv.slice(2);
if (argv[0] === "serve") await runServe(argv.slice(1));
else process.exitCode = await runCli(argv);
