// The user's stack frames in a failed call's message, as Convex prints them: only frames of
// the project's own convex/ files (none of the `convex` package or other dependencies), each
// "    at <function or <anonymous>> (../convex/<file>:<line>:<column>)", with "async " before
// frames V8 reached through an await. The bundles carry inline source maps; frames of a
// bundle are mapped back to the project's files through them.
import { SourceMap, type SourceMapPayload } from "node:module";
import path from "node:path";
import vm from "node:vm";

type Bundle = { payload: string; map: SourceMap | null; functionsDir: string; lineOffset: number };

const INLINE_MAP = /\n\/\/# sourceMappingURL=data:application\/json;base64,([A-Za-z0-9+/=]+)\s*$/;

// "    at [async ]name (file:line:column)" or "    at [async ]file:line:column".
const FRAME = /^\s*at (async )?(?:(.*?) \()?(.+?):(\d+):(\d+)\)?$/;

/** Source maps of bundles, by the file name each runs under (its frames carry it). */
export class SourceMaps {
  private readonly bundles = new Map<string, Bundle>();

  /**
   * Remembers the source map of a bundle about to run as `filename`, for `userFrames`.
   * `lineOffset`: lines the runner puts before the code. Returns `filename`.
   */
  remember(filename: string, code: string, functionsDir: string, lineOffset = 0): string {
    const inline = INLINE_MAP.exec(code);
    if (inline) this.bundles.set(filename, { payload: inline[1]!, map: null, functionsDir, lineOffset });
    return filename;
  }

  /** The stack's frames in the project's own files, mapped to them, in Convex's format. */
  userFrames(stack: string): string[] {
    const frames: string[] = [];
    for (const line of stack.split("\n")) {
      const m = FRAME.exec(line);
      const bundle = m && this.bundles.get(m[3]!);
      if (!m || !bundle) continue;
      const entry = mapOf(bundle).findEntry(Number(m[4]) - 1 - bundle.lineOffset, Number(m[5]) - 1) as {
        originalSource?: string;
        originalLine?: number;
        originalColumn?: number;
      };
      if (entry.originalSource === undefined || entry.originalLine === undefined || entry.originalColumn === undefined) continue;
      const relative = path.relative(bundle.functionsDir, entry.originalSource);
      if (relative.startsWith("..") || path.isAbsolute(relative) || relative.split(path.sep).includes("node_modules")) continue;
      // The bundle's generated entry (bundle.ts names it functions-<realm>.js) is not the user's.
      if (/^functions-[a-z]+\.js$/.test(relative)) continue;
      const file = `../${path.basename(bundle.functionsDir)}/${relative.split(path.sep).join("/")}`;
      // V8 calls an anonymous function of code run by `new Function` "eval" (no module code can
      // name a function so: modules are strict).
      const name = !m[2] || m[2] === "eval" ? "<anonymous>" : m[2];
      frames.push(`    at ${m[1] ?? ""}${name} (${file}:${entry.originalLine + 1}:${entry.originalColumn + 1})`);
    }
    return frames;
  }
}

function mapOf(bundle: Bundle): SourceMap {
  if (!bundle.map) {
    const payload = JSON.parse(Buffer.from(bundle.payload, "base64").toString("utf8")) as SourceMapPayload;
    // esbuild names sources relative to the directory it ran in (it wrote no file).
    payload.sources = payload.sources.map((s) => path.resolve(s));
    bundle.map = new SourceMap(payload);
  }
  return bundle.map;
}

/** Bundles this process runs in its own realms, named by paths in their projects (so two projects never share one). */
const shared = new SourceMaps();

export function rememberBundle(filename: string, code: string, functionsDir: string, lineOffset = 0): string {
  return shared.remember(filename, code, functionsDir, lineOffset);
}

export function userFrames(stack: string, maps: SourceMaps = shared): string[] {
  return maps.userFrames(stack);
}

/**
 * Frames a realm's errors keep. Our own frames (the engine, the realm's entry) sit under the
 * user's in every stack, and V8 counts a call's awaiting callers after its own frames: with
 * V8's default of 10 the user's frames were often cut off.
 */
const REALM_STACK_FRAMES = 40;

export function deepenStacks(context: vm.Context): void {
  vm.runInContext(`Error.stackTraceLimit = ${REALM_STACK_FRAMES};`, context);
}
