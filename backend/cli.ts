// `shared-notes serve [--port 3210] [--host 127.0.0.1] [--data DIR] [--functions DIR]`
import path from "node:path";
import { parseArgs } from "node:util";
import { faultsFromEnv, parseFaults } from "./faults.js";
import { repoRoot, startBackend } from "./serve.js";
import { onInterrupt } from "./watchdog.js";

const USAGE =
  "usage: shared-notes serve [--port 3210] [--host 127.0.0.1] [--data DIR] [--functions DIR] [--site-port N]\n" +
  "         [--env NAME=VALUE]... [--allow-origin ORIGIN]... [--allow-host NAME]... [--admin-key KEY] [--serial-mutations] [--faults conflictRate=0.1,overloadRate=0.05,dropAfterCommitRate=0.05,delayMs=20,restartEveryMs=30000,seed=1]";

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
        "site-port": { type: "string", default: "0" },
        env: { type: "string", multiple: true, default: [] },
        "allow-origin": { type: "string", multiple: true, default: [] },
        "allow-host": { type: "string", multiple: true, default: [] },
        faults: { type: "string" },
        "admin-key": { type: "string" },
        "serial-mutations": { type: "boolean", default: false },
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
  const env: Record<string, string> = {};
  let faults;
  try {
    for (const pair of values.env) {
      const at = pair.indexOf("=");
      if (at <= 0) throw new Error(`--env expects NAME=VALUE, got "${pair}"`);
      env[pair.slice(0, at)] = pair.slice(at + 1);
    }
    faults = values.faults ? parseFaults(values.faults) : faultsFromEnv();
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  let backend;
  try {
    backend = await startBackend({
      port,
      host: values.host,
      dataDir,
      sitePort: Number(values["site-port"]),
      env,
      allowedOrigins: values["allow-origin"],
      allowedHosts: values["allow-host"],
      serialMutations: values["serial-mutations"],
      ...(values["admin-key"] !== undefined ? { adminKey: values["admin-key"] } : {}),
      ...(faults ? { faults } : {}),
      ...(values.functions ? { functionsDir: values.functions } : {}),
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === "EADDRINUSE" ? `port ${port} on ${values.host} is already in use` : err.message;
    process.stderr.write(`shared-notes serve: could not start: ${why}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`Shared Notes backend listening on ${backend.url} (site: ${backend.siteUrl}, data: ${backend.dataDir})\n`);
  if (faults) process.stdout.write(`Injecting faults: ${JSON.stringify(faults)}\n`);
  // Started by a parent with a channel (the benchmarks): it may ask how the mutations
  // contended, as `backend.contention()` tells a caller in the same process.
  const answer = (message: unknown): void => {
    if ((message as { type?: unknown } | null)?.type === "contention") process.send?.({ type: "contention", contention: backend.contention() });
  };
  if (process.send) process.on("message", answer);
  await new Promise<void>((resolve) => {
    const stop = () => {
      offInterrupt();
      process.off("SIGTERM", stop);
      process.off("message", answer);
      void backend.close().then(resolve);
    };
    const offInterrupt = onInterrupt(stop);
    process.on("SIGTERM", stop);
  });
}
