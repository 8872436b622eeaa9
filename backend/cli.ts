// `shared-notes serve [--port 3210] [--host 127.0.0.1] [--data DIR] [--functions DIR]`
import path from "node:path";
import { parseArgs } from "node:util";
import { repoRoot, startBackend } from "./serve.js";

const USAGE = "usage: shared-notes serve [--port 3210] [--host 127.0.0.1] [--data DIR] [--functions DIR]";

export async function runServe(argv: string[]): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        port: { type: "string", default: "3210" },
        host: { type: "string", default: "127.0.0.1" },
        data: { type: "string" },
        functions: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`Invalid --port ${values.port}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const dataDir = path.resolve(values.data ?? path.join(repoRoot(), ".data", "backend"));
  let backend;
  try {
    backend = await startBackend({
      port,
      host: values.host,
      dataDir,
      ...(values.functions ? { functionsDir: values.functions } : {}),
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "EADDRINUSE" ? `port ${port} on ${values.host} is already in use` : err.message;
    process.stderr.write(`shared-notes serve: could not start: ${why}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`Shared Notes backend listening on ${backend.url} (data: ${backend.dataDir})\n`);
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      void backend.close().then(resolve);
    };
    process.on("SIGINT", stop);
    process.on("SIGTERM", stop);
  });
}
