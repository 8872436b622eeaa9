// Loads a project's convex/ directory: esbuild bundles every function module and the
// schema into one CommonJS bundle (one copy of the `convex` package for all of them),
// evaluated with `Convex` bound as a parameter, so the functions reach our syscall layer
// without a process-wide global.
import { build } from "esbuild";
import { readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

/** The surface of a registered Convex function that the backend relies on. */
export interface RegisteredFunction {
  isQuery?: boolean;
  isMutation?: boolean;
  isAction?: boolean;
  isPublic?: boolean;
  isInternal?: boolean;
  invokeQuery?: (argsJson: string) => Promise<string>;
  invokeMutation?: (argsJson: string) => Promise<string>;
  invokeAction?: (requestId: string, argsJson: string) => Promise<string>;
  exportArgs: () => string;
  exportReturns: () => string;
}

export type FunctionKind = "query" | "mutation" | "action";

export type LoadedFunction = {
  udfPath: string;
  kind: FunctionKind;
  isPublic: boolean;
  fn: RegisteredFunction;
};

/** The JSON shape of `defineSchema(...).export()`, narrowed to what we use. */
export type SchemaJson = {
  tables: Array<{
    tableName: string;
    indexes: Array<{ indexDescriptor: string; fields: string[] }>;
    documentType: unknown;
  }>;
  schemaValidation: boolean;
};

export type LoadedProject = {
  functions: Map<string, LoadedFunction>;
  schema: SchemaJson | null;
};

export interface ConvexGlobal {
  syscall(op: string, jsonArgs: string): string;
  asyncSyscall(op: string, jsonArgs: string): Promise<string>;
  jsSyscall(op: string, args: Record<string, unknown>): unknown;
}

const SOURCE_EXT = /\.(ts|tsx|js|jsx|mjs|cjs|mts|cts)$/;

function listModules(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const relPath = rel ? `${rel}/${name}` : name;
    if (name.startsWith(".") || name === "_generated" || name === "node_modules") continue;
    if (statSync(path.join(dir, relPath)).isDirectory()) {
      out.push(...listModules(dir, relPath));
    } else if (SOURCE_EXT.test(name) && !/\.(d|test|spec|config)\.[a-z]+$/.test(name)) {
      out.push(relPath);
    }
  }
  return out;
}

function isRegistered(value: unknown): value is RegisteredFunction {
  if (typeof value !== "function" && (typeof value !== "object" || value === null)) return false;
  const f = value as Partial<RegisteredFunction>;
  return (f.isQuery === true || f.isMutation === true || f.isAction === true) && typeof f.exportArgs === "function";
}

/** Where the functions' console output goes (Convex returns it to the caller as log lines). */
export type LogSink = { log(level: string, args: unknown[]): void };

function captureConsole(sink: LogSink): Pick<Console, "log" | "info" | "warn" | "error" | "debug"> {
  const level = (name: string) => (...args: unknown[]) => sink.log(name, args);
  return { log: level("log"), info: level("info"), warn: level("warn"), error: level("error"), debug: level("debug") };
}

export async function loadProject(functionsDir: string, convex: ConvexGlobal, sink: LogSink): Promise<LoadedProject> {
  const files = listModules(functionsDir);
  const modulePaths = files.map((f) => f.replace(SOURCE_EXT, ""));
  const lines = files.map((f, i) => `import * as m${i} from ${JSON.stringify("./" + f)};`);
  lines.push(`export const modules = {${modulePaths.map((p, i) => `${JSON.stringify(p)}: m${i}`).join(", ")}};`);
  const result = await build({
    stdin: { contents: lines.join("\n"), resolveDir: functionsDir, sourcefile: "functions-entry.js", loader: "js" },
    bundle: true,
    write: false,
    platform: "node",
    format: "cjs",
    target: "node20",
    logLevel: "silent",
  });
  const code = result.outputFiles[0]?.text ?? "";
  const mod: { exports: Record<string, unknown> } = { exports: {} };
  const entryFile = path.join(functionsDir, "functions-entry.js");
  // Network access from functions would make the local backend behave unlike Convex
  // (queries and mutations have no fetch there) and is not what it is for.
  const fetch = () => Promise.reject(new Error("fetch is not supported by the local backend."));
  const evaluate = new Function("Convex", "console", "fetch", "module", "exports", "require", "__filename", "__dirname", code);
  evaluate(convex, captureConsole(sink), fetch, mod, mod.exports, createRequire(entryFile), entryFile, functionsDir);
  const modules = (mod.exports.modules ?? {}) as Record<string, Record<string, unknown>>;

  const functions = new Map<string, LoadedFunction>();
  let schema: SchemaJson | null = null;
  for (const [modulePath, exports] of Object.entries(modules)) {
    if (modulePath === "schema") {
      const def = exports.default as { export?: () => string } | undefined;
      if (def && typeof def.export === "function") schema = JSON.parse(def.export()) as SchemaJson;
      continue;
    }
    for (const [name, value] of Object.entries(exports)) {
      if (!isRegistered(value)) continue;
      const kind: FunctionKind = value.isQuery ? "query" : value.isMutation ? "mutation" : "action";
      const udfPath = `${modulePath}:${name}`;
      functions.set(udfPath, { udfPath, kind, isPublic: value.isPublic === true, fn: value });
    }
  }
  return { functions, schema };
}

/** "notes:list", "notes.js:list", "notes" (default export) → canonical "notes:list". */
export function canonicalUdfPath(udfPath: string): string {
  const [modulePart = "", name = "default"] = udfPath.split(":");
  return `${modulePart.replace(/\.js$/, "")}:${name}`;
}
