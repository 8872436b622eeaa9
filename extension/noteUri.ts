/**
 * Addresses of notes: `sharednotes://<spaceId>/<space name>/<title>.md`. The id (the
 * authority) says which space; the path is what people read in breadcrumbs and tabs. Pure,
 * so the mapping is unit-tested without VS Code; fileSystem.ts turns failures into
 * FileSystemErrors.
 */
export const SCHEME = "sharednotes";
export const NOTE_EXTENSION = ".md";

export type NotePath =
  | { readonly kind: "root" }
  | { readonly kind: "space"; readonly spaceId: string; readonly spaceName: string | undefined }
  | { readonly kind: "note"; readonly spaceId: string; readonly spaceName: string; readonly title: string };

/** What the extension knows of a URI: its authority and its (percent-decoded) path, as `Uri` has them. */
export interface UriParts {
  readonly authority: string;
  readonly path: string;
}

/**
 * Reads a note's address. Titles and space names may contain anything but "/", which
 * would make a folder (sync/rules.ts refuses it); undefined for addresses that name nothing.
 */
export function parseNoteUri(uri: UriParts): NotePath | undefined {
  const parts = uri.path.split("/").filter((p) => p.length > 0);
  const spaceId = uri.authority;
  if (spaceId === "") return parts.length === 0 ? { kind: "root" } : undefined;
  if (parts.length === 0) return { kind: "space", spaceId, spaceName: undefined };
  const spaceName = parts[0]!;
  if (parts.length === 1) return { kind: "space", spaceId, spaceName };
  if (parts.length !== 2) return undefined;
  const file = parts[1]!;
  if (!file.endsWith(NOTE_EXTENSION) || file.length === NOTE_EXTENSION.length) return undefined;
  return { kind: "note", spaceId, spaceName, title: file.slice(0, -NOTE_EXTENSION.length) };
}

/** The parts of a note's URI (with `scheme: SCHEME`, for `Uri.from`). */
export function noteUriParts(space: { readonly spaceId: string; readonly name: string }, title: string): UriParts {
  return { authority: space.spaceId, path: `/${space.name}/${title}${NOTE_EXTENSION}` };
}

/** True when `parsed` addresses the space `space` by its id and its current name. */
export function inSpace(parsed: { readonly spaceId: string; readonly spaceName: string | undefined }, space: { readonly spaceId: string; readonly name: string }): boolean {
  return parsed.spaceId === space.spaceId && (parsed.spaceName === undefined || parsed.spaceName === space.name);
}

/** Says what is wrong with a title a user typed, or undefined when it is usable: the server's own rule. */
export { titleProblem as checkTitle } from "../sync/rules";
