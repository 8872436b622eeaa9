/**
 * The rules for what people name and choose — note titles, space names, display names,
 * colours — and the text checks they rest on, defined once. The Convex functions enforce
 * them (so a client can never bypass them), and the extension and the CLI check the same
 * rules before asking, so a user hears the server's sentence before a round trip.
 *
 * Each check returns a sentence saying what is wrong, or undefined when the value is fine.
 */

/** Longest note title, in UTF-16 code units. Titles show in lists and tabs and address notes in the CLI. */
export const MAX_TITLE_LENGTH = 200;

/** Longest space name: it shows in the notes view, in breadcrumbs and in join links. */
export const MAX_SPACE_NAME_LENGTH = 80;

/** The name of a space made without one (and of spaces made before spaces had names). */
export const DEFAULT_SPACE_NAME = "Shared notes";

/** Longest display name shown next to a teammate's cursor. */
export const MAX_NAME_LENGTH = 64;

/** A colour as the settings take it and the server stores it: `#rrggbb`. */
export const COLOR_PATTERN = "^#[0-9a-fA-F]{6}$";
const COLOR = new RegExp(COLOR_PATTERN);

export const isHighSurrogate = (code: number): boolean => code >= 0xd800 && code <= 0xdbff;
export const isLowSurrogate = (code: number): boolean => code >= 0xdc00 && code <= 0xdfff;

/** True when `s` has a UTF-16 surrogate without its partner (text no editor can show or save). */
export function hasLoneSurrogate(s: string): boolean {
  return !s.isWellFormed();
}

/** UTF-8 length of a string, without allocating an encoded copy. */
export function utf8Bytes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (isHighSurrogate(c) && isLowSurrogate(s.charCodeAt(i + 1))) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Characters that make one name look like another: control characters (line breaks among
 * them), bidirectional embeddings, overrides and isolates (which can show "gpj.exe" as
 * "exe.jpg"), and invisible zero-width characters.
 */
const DECEPTIVE = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]/u;

function checkName(what: string, value: string, max: number): string | undefined {
  const t = value.trim();
  if (t.length === 0) return `${what} cannot be empty.`;
  if (t.length > max) return `${what} may be at most ${max} characters; this one has ${t.length}.`;
  if (hasLoneSurrogate(t)) return `${what} cannot contain an unpaired surrogate.`;
  if (DECEPTIVE.test(t)) return `${what} cannot contain line breaks, control, bidirectional or zero-width characters.`;
  return undefined;
}

/**
 * A note title (checked after trimming). Titles become file names in tabs and paths
 * (`<title>.md`), so no slashes and nothing that starts like a parent folder.
 */
export function titleProblem(title: string): string | undefined {
  const problem = checkName("A note title", title, MAX_TITLE_LENGTH);
  if (problem !== undefined) return problem;
  const t = title.trim();
  if (t.includes("/") || t.includes("\\")) return "A note title cannot contain '/' or '\\'.";
  if (t.startsWith("..")) return "A note title cannot start with '..'.";
  return undefined;
}

/** A space's name, chosen when it is created. It names the folder of its notes in tabs and paths. */
export function spaceNameProblem(name: string): string | undefined {
  const problem = checkName("A space name", name, MAX_SPACE_NAME_LENGTH);
  if (problem !== undefined) return problem;
  if (/[/\\]/.test(name)) return "A space name cannot contain '/' or '\\'.";
  return undefined;
}

/** The name teammates see next to a cursor. */
export function displayNameProblem(name: string): string | undefined {
  return checkName("A display name", name, MAX_NAME_LENGTH);
}

export function colorProblem(color: string): string | undefined {
  return COLOR.test(color) ? undefined : `A colour must be written #rrggbb, like "#e06c75", not "${color.slice(0, 40)}".`;
}
