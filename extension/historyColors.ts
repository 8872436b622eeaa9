/** Authors' colours in history: the colour a present teammate chose, else the one their name gives. */
import * as vscode from "vscode";
import type { Collaborator } from "../client/types";
import { colorForName } from "./settings";

export function authorColor(name: string, present: readonly Collaborator[]): string {
  return present.find((c) => c.name === name)?.color ?? colorForName(name);
}

/** A round icon in up to three authors' colours (vertical stripes), as a data URI a tree item can show. */
export function authorsIcon(colors: readonly string[]): vscode.Uri {
  const shown = colors.slice(0, 3);
  const width = 12 / Math.max(1, shown.length);
  const stripes = shown.map((c, i) => `<rect x="${2 + i * width}" y="2" width="${width}" height="12" fill="${c}"/>`).join("");
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16"><clipPath id="c"><circle cx="8" cy="8" r="6"/></clipPath><g clip-path="url(#c)">${stripes}</g></svg>`;
  return vscode.Uri.parse(`data:image/svg+xml;base64,${Buffer.from(svg).toString("base64")}`);
}

/** "5 minutes ago", "yesterday": how long ago, as people say it. */
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 45) return "just now";
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? "" : "s"} ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} hour${h === 1 ? "" : "s"} ago`;
  const d = Math.round(h / 24);
  return d === 1 ? "yesterday" : `${d} days ago`;
}
