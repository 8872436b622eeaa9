import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { COLOR_PATTERN, colorProblem, displayNameProblem, hasLoneSurrogate, MAX_TITLE_LENGTH, spaceNameProblem, titleProblem, utf8Bytes } from "../../sync/rules";

describe("naming rules", () => {
  it("takes ordinary titles, trimmed, in any script", () => {
    for (const t of ["Plan", "  Plans for Q3 — draft  ", "会议记录", "Wait... what", "🚀 launch", "x".repeat(MAX_TITLE_LENGTH)]) {
      expect(titleProblem(t), t).toBeUndefined();
    }
  });

  it("refuses titles that could pass for another name or a path", () => {
    const bad = {
      empty: "   ",
      slash: "a/b",
      backslash: "a\\b",
      "line break": "two\nlines",
      tab: "tab\there",
      "right-to-left override": "invoice\u202Egpj.exe",
      "bidi isolate": "a\u2067b",
      "zero-width space": "Pl\u200Ban",
      "zero-width joiner": "a\u200Db",
      "byte-order mark": "Pl\uFEFFan",
      "parent folder": "..",
      "starts like a parent folder": "..hidden",
      "lone surrogate": "\udc00",
      "too long": "x".repeat(MAX_TITLE_LENGTH + 1),
    };
    for (const [why, title] of Object.entries(bad)) expect(titleProblem(title), why).toMatch(/^A note title /);
  });

  it("applies the same rules to space and display names", () => {
    expect(spaceNameProblem("Design team")).toBeUndefined();
    expect(spaceNameProblem("x\u202E")).toBeDefined();
    expect(spaceNameProblem("")).toBeDefined();
    expect(displayNameProblem("Ann")).toBeUndefined();
    expect(displayNameProblem("A\u200Bnn")).toBeDefined();
    expect(displayNameProblem("n".repeat(65))).toBeDefined();
  });

  it("takes colours as #rrggbb only, the same pattern the settings declare", () => {
    expect(colorProblem("#e06c75")).toBeUndefined();
    for (const c of ["#abc", "red", "#e06c75; background: url(x)", "#e06c7512"]) expect(colorProblem(c), c).toBeDefined();
    const manifest = JSON.parse(readFileSync("package.json", "utf8")) as {
      contributes: { configuration: { properties: Record<string, { pattern?: string }> } };
    };
    const declared = manifest.contributes.configuration.properties["sharedNotes.color"]?.pattern;
    // The manifest cannot import: it allows the empty default around the same pattern.
    expect(declared).toBe(`^(${COLOR_PATTERN.slice(1, -1)})?$`);
  });

  it("counts UTF-8 bytes and finds lone surrogates", () => {
    for (const s of ["", "abc", "é", "€", "😀", "a😀b", "\ud800", "\udc00x"]) {
      expect(utf8Bytes(s), JSON.stringify(s)).toBe(Buffer.byteLength(s, "utf8"));
    }
    expect(hasLoneSurrogate("a😀b")).toBe(false);
    expect(hasLoneSurrogate("a\ud83d")).toBe(true);
    expect(hasLoneSurrogate("\ude00a")).toBe(true);
  });
});
