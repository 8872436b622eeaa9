// Loads a project's convex/ directory: esbuild bundles the modules of each realm (the
// default Convex runtime, and "use node" files) into one CommonJS bundle each, with one
// copy of the `convex` package per bundle that reaches our syscall layer through `Convex`.
import { build } from "esbuild";
import { readdirSync, readFileSync, statSync } from "node:fs";
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
  realm: Realm;
};

/** The JSON shape of `defineSchema(...).export()`, narrowed to what we use. */
export type SchemaJson = {
  tables: Array<{
    tableName: string;
    indexes: Array<{ indexDescriptor: string; fields: string[] }>;
    /** Declared with `staged: true`: not queryable until enabled (older convex packages omit these). */
    stagedDbIndexes?: Array<{ indexDescriptor: string }>;
    searchIndexes?: Array<{ indexDescriptor: string }>;
    vectorIndexes?: Array<{ indexDescriptor: string }>;
    stagedSearchIndexes?: Array<{ indexDescriptor: string }>;
    stagedVectorIndexes?: Array<{ indexDescriptor: string }>;
    documentType: unknown;
  }>;
  schemaValidation: boolean;
};

export type LoadedProject = {
  functions: Map<string, LoadedFunction>;
  schema: SchemaJson | null;
  /** The default export of http.ts and crons.ts, if the project has them. */
  http: unknown;
  crons: unknown;
};

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

export type Realm = "isolate" | "node";

/** A project module starts with the "use node" directive: it runs in Node.js, not the Convex runtime. */
export function usesNode(source: string): boolean {
  return /^(?:\s|\/\/[^\n]*\n|\/\*[\s\S]*?\*\/)*["']use node["']/.test(source);
}

/**
 * Bundles the project's modules of one realm into one CommonJS script exporting
 * `modules` (path → module exports). Default-runtime code is bundled whole; "use node"
 * code keeps its npm packages (except `convex`, which must see our syscalls) external,
 * loaded from node_modules as on Convex's Node runtime.
 */
export async function bundleRealm(functionsDir: string, files: string[], realm: Realm): Promise<string> {
  const lines = files.map((f, i) => `import * as m${i} from ${JSON.stringify("./" + f)};`);
  lines.push(`export const modules = {${files.map((f, i) => `${JSON.stringify(f.replace(SOURCE_EXT, ""))}: m${i}`).join(", ")}};`);
  const result = await build({
    stdin: { contents: lines.join("\n"), resolveDir: functionsDir, sourcefile: `functions-${realm}.js`, loader: "js" },
    bundle: true,
    write: false,
    platform: "node",
    format: "cjs",
    target: "node20",
    logLevel: "silent",
    // Mapped back by stack.ts for the user's frames in error messages.
    sourcemap: "inline",
    sourcesContent: false,
    plugins:
      realm === "node"
        ? [
            {
              name: "external-packages",
              setup(b) {
                b.onResolve({ filter: /^[^./]/ }, (args) =>
                  args.path === "convex" || args.path.startsWith("convex/") ? undefined : { path: args.path, external: true },
                );
              },
            },
          ]
        : [],
  });
  return result.outputFiles[0]?.text ?? "";
}

/** The project's modules, split by the realm they run in. */
export function projectFiles(functionsDir: string): Record<Realm, string[]> {
  const split: Record<Realm, string[]> = { isolate: [], node: [] };
  for (const file of listModules(functionsDir)) {
    split[usesNode(readFileSync(path.join(functionsDir, file), "utf8")) ? "node" : "isolate"].push(file);
  }
  return split;
}

/** Registered functions and the schema, from the `modules` export of one or more bundles. */
export function collectProject(bundles: Array<{ realm: Realm; exports: Record<string, unknown> }>): LoadedProject {
  const functions = new Map<string, LoadedFunction>();
  let schema: SchemaJson | null = null;
  let http: unknown = null;
  let crons: unknown = null;
  for (const { realm, exports: bundleExports } of bundles) {
    const modules = (bundleExports.modules ?? {}) as Record<string, Record<string, unknown>>;
    for (const [modulePath, exports] of Object.entries(modules)) {
      if (modulePath === "schema") {
        const def = exports.default as { export?: () => string } | undefined;
        if (def && typeof def.export === "function") schema = JSON.parse(def.export()) as SchemaJson;
        continue;
      }
      if (modulePath === "http") http = exports.default ?? null;
      if (modulePath === "crons") crons = exports.default ?? null;
      for (const [name, value] of Object.entries(exports)) {
        if (!isRegistered(value)) continue;
        const kind: FunctionKind = value.isQuery ? "query" : value.isMutation ? "mutation" : "action";
        const udfPath = `${modulePath}:${name}`;
        functions.set(udfPath, { udfPath, kind, isPublic: value.isPublic === true, fn: value, realm });
      }
    }
  }
  return { functions, schema, http, crons };
}

/** "notes:list", "notes.js:list", "notes" (default export) → canonical "notes:list". */
export function canonicalUdfPath(udfPath: string): string {
  const [modulePart = "", name = "default"] = udfPath.split(":");
  return `${modulePart.replace(/\.js$/, "")}:${name}`;
}
