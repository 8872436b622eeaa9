import { ConvexError } from "convex/values";
import { describe, expect, it } from "vitest";
import { describeError } from "../../sync/describeError";

describe("describeError", () => {
  it("gives a Convex error's own sentence, then an Error's message, then the thrown value", () => {
    expect(describeError(new ConvexError({ code: "TOO_LARGE", message: "The note is too large." }))).toBe("The note is too large.");
    expect(describeError(new ConvexError("Space not found."))).toBe("Space not found.");
    expect(describeError(new ConvexError({ code: "X" }))).toBe(new ConvexError({ code: "X" }).message);
    expect(describeError(new TypeError("fetch failed"))).toBe("fetch failed");
    expect(describeError("plain")).toBe("plain");
    expect(describeError(undefined)).toBe("undefined");
    expect(describeError(null)).toBe("null");
  });
});
