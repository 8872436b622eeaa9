// convex/http.ts routes answer on the site URL, with CONVEX_SITE_URL set and the request's headers as sent.
import { afterAll, beforeAll, expect, it } from "vitest";
import type { RunningBackend } from "../../backend/serve.js";
import { removeTempDirs, startFixture } from "./helpers.js";

let backend: RunningBackend;

beforeAll(async () => {
  backend = await startFixture();
});

afterAll(async () => {
  await backend.close();
  removeTempDirs();
});

it("serves http.ts routes on the site URL; a header without a valid token fails only getUserIdentity", async () => {
  const res = await fetch(`${backend.siteUrl}/count`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "custom-scheme abc" },
    body: JSON.stringify({ name: "via-http" }),
  });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({
    value: 1,
    site: backend.siteUrl,
    auth: "custom-scheme abc",
    identity: "refused: Header must begin with `bearer `",
  });
  const anonymous = await fetch(`${backend.siteUrl}/count`, { method: "POST", headers: { "Content-Type": "application/json" }, body: "{\"name\":\"x\"}" });
  expect(((await anonymous.json()) as { identity: unknown }).identity).toBeNull();
  const missing = await fetch(`${backend.siteUrl}/nowhere`);
  expect(missing.status).toBe(404);
  expect(await missing.text()).toBe("No HttpAction routed for /nowhere");
});
