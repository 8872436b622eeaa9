import { describe, expect, test } from "vitest";
import { api } from "../../convex/_generated/api";
import { DEFAULT_SPACE_NAME } from "../../sync/rules";
import { backend, expectError, newKey } from "./helpers";

describe("space names", () => {
  test("a space is shown by the name chosen when it was made, trimmed", async () => {
    const t = backend();
    const key = newKey();
    const spaceId = await t.mutation(api.spaces.create, { key, name: "  Design team " });
    await expect(t.query(api.spaces.describe, { spaceId, key })).resolves.toEqual({ name: "Design team" });
  });

  test("a space made without a name, or before names, shows the default", async () => {
    const t = backend();
    const key = newKey();
    const spaceId = await t.mutation(api.spaces.create, { key });
    await expect(t.query(api.spaces.describe, { spaceId, key })).resolves.toEqual({ name: DEFAULT_SPACE_NAME });
    await t.run((ctx) => ctx.db.patch("spaces", spaceId, { name: undefined }));
    await expect(t.query(api.spaces.describe, { spaceId, key })).resolves.toEqual({ name: DEFAULT_SPACE_NAME });
  });

  test("a deceptive or empty name is refused and makes no space", async () => {
    const t = backend();
    for (const name of ["", "   ", "Team\u202Eevil", "a\u200Bb", "x".repeat(81)]) {
      await expectError(t.mutation(api.spaces.create, { key: newKey(), name }), "INVALID_ARGUMENT");
    }
    expect(await t.run((ctx) => ctx.db.query("spaces").collect())).toEqual([]);
  });

  test("only members see the name", async () => {
    const t = backend();
    const key = newKey();
    const spaceId = await t.mutation(api.spaces.create, { key, name: "Secret project" });
    await expectError(t.query(api.spaces.describe, { spaceId, key: newKey() }), "ACCESS_DENIED");
  });
});
