import { describe, expect, it } from "vitest";
import { checkTitle, notePath, parseNotePath } from "../../extension/noteUri";

describe("note addresses", () => {
  it("round-trips a title through a path", () => {
    const p = notePath("space1", "Plans for Q3 — draft");
    expect(parseNotePath(p)).toEqual({ kind: "note", spaceId: "space1", title: "Plans for Q3 — draft" });
  });
  it("knows the root and the space folder, and rejects other shapes", () => {
    expect(parseNotePath("/")).toEqual({ kind: "root" });
    expect(parseNotePath("/s")).toEqual({ kind: "space", spaceId: "s" });
    expect(parseNotePath("/s/a/b.md")).toBeUndefined();
    expect(parseNotePath("/s/notes.txt")).toBeUndefined();
  });
  it("checks titles", () => {
    expect(checkTitle("  ")).toBeDefined();
    expect(checkTitle("a/b")).toBeDefined();
    expect(checkTitle("fine")).toBeUndefined();
  });
});
