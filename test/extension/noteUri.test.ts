import { describe, expect, it } from "vitest";
import { checkTitle, inSpace, noteUriParts, parseNoteUri } from "../../extension/noteUri";

describe("note addresses", () => {
  const space = { spaceId: "space1", name: "Design team" };

  it("round-trips a title through an address that shows the space's name", () => {
    const parts = noteUriParts(space, "Plans for Q3 — draft");
    expect(parts).toEqual({ authority: "space1", path: "/Design team/Plans for Q3 — draft.md" });
    expect(parseNoteUri(parts)).toEqual({ kind: "note", spaceId: "space1", spaceName: "Design team", title: "Plans for Q3 — draft" });
  });

  it("knows the root and the space folder, and rejects other shapes", () => {
    expect(parseNoteUri({ authority: "", path: "/" })).toEqual({ kind: "root" });
    expect(parseNoteUri({ authority: "", path: "/x/y.md" })).toBeUndefined();
    expect(parseNoteUri({ authority: "s", path: "/" })).toEqual({ kind: "space", spaceId: "s", spaceName: undefined });
    expect(parseNoteUri({ authority: "s", path: "/Team" })).toEqual({ kind: "space", spaceId: "s", spaceName: "Team" });
    expect(parseNoteUri({ authority: "s", path: "/Team/a/b.md" })).toBeUndefined();
    expect(parseNoteUri({ authority: "s", path: "/Team/notes.txt" })).toBeUndefined();
  });

  it("belongs to the joined space only under its id and its name", () => {
    expect(inSpace({ spaceId: "space1", spaceName: "Design team" }, space)).toBe(true);
    expect(inSpace({ spaceId: "space1", spaceName: undefined }, space)).toBe(true);
    expect(inSpace({ spaceId: "space1", spaceName: "Other" }, space)).toBe(false);
    expect(inSpace({ spaceId: "space2", spaceName: "Design team" }, space)).toBe(false);
  });

  it("checks titles with the server's rule", () => {
    expect(checkTitle("  ")).toBeDefined();
    expect(checkTitle("a/b")).toBeDefined();
    expect(checkTitle("fine")).toBeUndefined();
  });
});
