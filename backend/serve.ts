// Starts the embedded backend: storage + function runtime + HTTP/WebSocket server.
import { existsSync, readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ConnectionHooks } from "./connection.js";
import { Engine } from "./engine.js";
import { BackendServer } from "./server.js";

export type BackendOptions = {
  port?: number;
  host?: string;
  dataDir: string;
  functionsDir?: string;
  /** Test seams; not part of the CLI. */
  hooks?: ConnectionHooks;
};

export type RunningBackend = { url: string; port: number; dataDir: string; close(): Promise<void> };

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

export async function startBackend(options: BackendOptions): Promise<RunningBackend> {
  const host = options.host ?? "127.0.0.1";
  const functionsDir = path.resolve(options.functionsDir ?? path.join(repoRoot(), "convex"));
  const dataDir = path.resolve(options.dataDir);
  if (!existsSync(functionsDir)) throw new Error(`the functions directory ${functionsDir} does not exist`);
  const engine = await Engine.open(dataDir, functionsDir);
  const server = new BackendServer(engine, options.hooks);
  try {
    await new Promise<void>((resolve, reject) => {
      server.http.once("error", reject);
      server.http.listen(options.port ?? 3210, host, () => resolve());
    });
  } catch (e) {
    await engine.close();
    throw e;
  }
  const { port } = server.http.address() as AddressInfo;
  const shownHost = host.includes(":") ? `[${host}]` : host;
  let closing: Promise<void> | null = null;
  return {
    url: `http://${shownHost}:${port}`,
    port,
    dataDir,
    close: () =>
      (closing ??= (async () => {
        await server.close();
        await engine.close();
      })()),
  };
}
