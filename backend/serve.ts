// Starts the embedded backend: storage + function runtime + HTTP/WebSocket server.
import { existsSync, readFileSync } from "node:fs";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ConnectionHooks } from "./connection.js";
import { Engine, type ContentionStats, type EngineOptions } from "./engine.js";
import { FaultDice, faultsFromEnv, type Faults } from "./faults.js";
import { Scheduler } from "./scheduler.js";
import { BackendServer } from "./server.js";

export type BackendOptions = {
  port?: number;
  host?: string;
  dataDir: string;
  functionsDir?: string;
  /** Port of the site URL serving convex/http.ts (0: any free port). */
  sitePort?: number;
  /** Environment variables visible to the functions, besides CONVEX_CLOUD_URL and CONVEX_SITE_URL. */
  env?: Record<string, string>;
  /** Failures to inject (see faults.ts); also read from SHARED_NOTES_BACKEND_FAULTS when not given. */
  faults?: Faults;
  /** Browser origins allowed to call the backend (e.g. "vscode-webview://…"); none by default. */
  allowedOrigins?: string[];
  /** Host names the backend answers to besides loopback ones (when it is reached by another name). */
  allowedHosts?: string[];
  /** Accepts `Convex <key>` admin headers (optionally acting as a user), as Convex's admin keys. */
  adminKey?: string;
  /** Run mutations strictly one after another, even while one waits outside (`--serial-mutations`; debugging). */
  serialMutations?: boolean;
  /** Test seams; not part of the CLI. */
  hooks?: ConnectionHooks & Pick<EngineOptions, "holdOutsideAnswer" | "holdDurable" | "pushBudget">;
};

export type RunningBackend = {
  url: string;
  siteUrl: string;
  port: number;
  dataDir: string;
  close(): Promise<void>;
  /** Stops and starts again on the same ports and data: every socket drops, state comes back from disk. */
  restart(): Promise<void>;
  /** Optimistic-concurrency conflicts and retries since the last (re)start. */
  contention(): ContentionStats;
};

/** The repository root: the nearest folder upwards whose package.json is this project's. */
export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = path.join(dir, "package.json");
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, "utf8")) as { name?: string }).name === "shared-notes") return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

type Started = { engine: Engine; server: BackendServer; scheduler: Scheduler; port: number; sitePort: number };

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

async function startOnce(options: BackendOptions, host: string, functionsDir: string, dataDir: string, ports: { port: number; sitePort: number }, faults: Faults | undefined): Promise<Started> {
  const env: Record<string, string> = { ...options.env };
  const { holdOutsideAnswer, holdDurable, pushBudget } = options.hooks ?? {};
  const engine = await Engine.open(dataDir, functionsDir, { env }, {
    serialMutations: options.serialMutations ?? false,
    ...(holdOutsideAnswer ? { holdOutsideAnswer } : {}),
    ...(holdDurable ? { holdDurable } : {}),
    ...(pushBudget ? { pushBudget } : {}),
  });
  if (faults) engine.dice = new FaultDice(faults);
  const scheduler = new Scheduler(engine);
  const server = new BackendServer(engine, {
    hooks: options.hooks ?? {},
    faults: faults ?? {},
    allowedOrigins: options.allowedOrigins ?? [],
    allowedHosts: options.allowedHosts ?? [],
    ...(options.adminKey !== undefined ? { adminKey: options.adminKey } : {}),
  });
  try {
    const port = await listen(server.http, ports.port, host);
    const sitePort = await listen(server.site, ports.sitePort, host);
    const shown = host.includes(":") ? `[${host}]` : host;
    env.CONVEX_CLOUD_URL = `http://${shown}:${port}`;
    env.CONVEX_SITE_URL = `http://${shown}:${sitePort}`;
    server.start();
    await scheduler.start();
    return { engine, server, scheduler, port, sitePort };
  } catch (e) {
    scheduler.close();
    await server.close();
    await engine.close();
    throw e;
  }
}

export async function startBackend(options: BackendOptions): Promise<RunningBackend> {
  const host = options.host ?? "127.0.0.1";
  const functionsDir = path.resolve(options.functionsDir ?? path.join(repoRoot(), "convex"));
  const dataDir = path.resolve(options.dataDir);
  if (!existsSync(functionsDir)) throw new Error(`the functions directory ${functionsDir} does not exist`);
  const faults = options.faults ?? faultsFromEnv();
  let current = await startOnce(options, host, functionsDir, dataDir, { port: options.port ?? 3210, sitePort: options.sitePort ?? 0 }, faults);
  const shownHost = host.includes(":") ? `[${host}]` : host;
  const stop = async (s: Started) => {
    s.scheduler.close();
    await s.server.close();
    await s.engine.close();
  };
  let closing: Promise<void> | null = null;
  let restarting: Promise<void> | null = null;
  const restart = () =>
    (restarting ??= (async () => {
      await stop(current);
      current = await startOnce(options, host, functionsDir, dataDir, { port: current.port, sitePort: current.sitePort }, faults);
    })().finally(() => (restarting = null)));
  const timer = faults?.restartEveryMs
    ? setInterval(() => {
        if (!closing) restart().catch((e: Error) => process.stderr.write(`[local backend] restart failed: ${e.message}\n`));
      }, faults.restartEveryMs)
    : null;
  timer?.unref();
  return {
    url: `http://${shownHost}:${current.port}`,
    siteUrl: `http://${shownHost}:${current.sitePort}`,
    port: current.port,
    dataDir,
    restart,
    contention: () => current.engine.contention(),
    close: () =>
      (closing ??= (async () => {
        if (timer) clearInterval(timer);
        await restarting?.catch(() => {});
        await stop(current);
      })()),
  };
}
