import { describe, expect, it } from "vitest";
import { parseVersion, versionPath, versionQuery } from "../../extension/historyUri";

describe("version addresses", () => {
  it("name the title, revision and time in the tab and load exactly the revision asked for", () => {
    const at = new Date(2026, 10, 30, 14, 5).getTime();
    const a = { spaceId: "sp1", noteId: "n/1?&", title: "Plan (draft)", rev: 42, at };
    expect(versionPath(a)).toBe("/sp1/Plan (draft) (r42, 2026-11-30 14:05).md");
    expect(parseVersion(versionPath(a), versionQuery(a))).toEqual({ spaceId: "sp1", noteId: "n/1?&", rev: 42 });
    expect(versionPath({ ...a, at: undefined })).toBe("/sp1/Plan (draft) (r42).md");
  });

  it("refuse addresses that name no version", () => {
    expect(parseVersion("/sp1/x.md", "rev=1")).toBeUndefined();
    expect(parseVersion("/sp1/x.md", "note=a&rev=-1")).toBeUndefined();
    expect(parseVersion("/", "note=a&rev=1")).toBeUndefined();
  });
});
