/** The local backend with the server trace installed (see serverTrace.ts), started in this process. */
import * as runtimeModule from "../../backend/runtime";
import { startBackend, type BackendOptions, type RunningBackend } from "../../backend/serve";
import * as storageModule from "../../backend/storage";
import { installServerTrace, takeServerTrace, type ServerTrace } from "./serverTrace";

export { takeServerTrace, type ServerTrace };

export async function startTracedBackend(options: BackendOptions): Promise<RunningBackend & { tracesRuns: boolean }> {
  // Looked up by name so a reshaped runtime only costs the function-run timings.
  const runtime = (runtimeModule as Record<string, unknown>)["Runtime"] as { prototype?: { invoke?: unknown; invokeWith?: unknown } } | undefined;
  const entry = runtime?.prototype?.invokeWith ?? runtime?.prototype?.invoke;
  const prototype = typeof entry === "function" ? runtime!.prototype : undefined;
  const storage = (storageModule as Record<string, unknown>)["Storage"] as { prototype?: object } | undefined;
  installServerTrace(prototype, storage?.prototype);
  const backend = await startBackend(options);
  return { ...backend, tracesRuns: prototype !== undefined };
}
