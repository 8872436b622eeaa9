/**
 * Addresses of notes: `sharednotes:/<spaceId>/<title>.md`. Pure, so the mapping is
 * unit-tested without VS Code; fileSystem.ts turns failures into FileSystemErrors.
 */
export const SCHEME = "sharednotes";
export const NOTE_EXTENSION = ".md";

export type NotePath =
  | { readonly kind: "root" }
  | { readonly kind: "space"; readonly spaceId: string }
  | { readonly kind: "note"; readonly spaceId: string; readonly title: string };

/**
 * Reads a URI path (already percent-decoded, as `Uri.path` is). Titles may contain
 * anything but "/", which would make a folder; undefined for paths that name nothing.
 */
export function parseNotePath(path: string): NotePath | undefined {
  const parts = path.split("/").filter((p) => p.length > 0);
  if (parts.length === 0) return { kind: "root" };
  const spaceId = parts[0]!;
  if (parts.length === 1) return { kind: "space", spaceId };
  if (parts.length !== 2) return undefined;
  const file = parts[1]!;
  if (!file.endsWith(NOTE_EXTENSION) || file.length === NOTE_EXTENSION.length) return undefined;
  return { kind: "note", spaceId, title: file.slice(0, -NOTE_EXTENSION.length) };
}

export function notePath(spaceId: string, title: string): string {
  return `/${spaceId}/${title}${NOTE_EXTENSION}`;
}

/** Says what is wrong with a title a user typed, or undefined when it is usable: the server's own rule. */
export { titleProblem as checkTitle } from "../sync/rules";
