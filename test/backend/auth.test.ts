// JWTs are verified against convex/auth.config.ts as Convex does: signature, issuer,
// audience, algorithm, expiry; refused tokens get Convex's codes.
import { ConvexClient, ConvexHttpClient } from "convex/browser";
import { createPrivateKey, sign } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningBackend } from "../../backend/serve.js";
import { api } from "../../harness/backendFixture/convex/_generated/api";
import { removeTempDirs, startFixture, waitFor } from "./helpers.js";

// Test-only key; its public half is the JWKS in fixture/convex/auth.config.ts.
const PRIVATE_KEY = `-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQC5v9wrcIjvmKWV
DZdM67oB9jIrhb5T+vHxXizD3q235p+yW2tVjpw7797WtdFHIzbJWQtE6b/FZhqG
kyMsuwbIGdUDze0yz/FUVM8pihlbM/ESlbTNhjUuXpwPAJd3KWe5P5CWMk+EXjeO
SAUcx0AOyIFCJyqV5/FMdDcC0OggJLixL6VN3F/tBWe/b9dXZyqWhW6BCns+JwSH
7B8IdMevliSfjYKzfmZcEe2iJ79FPoUlf57+aTDqN0Cw4YodemiwfQMDvPD6Fv0I
HlzxDSlpe9DeWUqAmGaCwnMGFzbBYJBs/9y8UU4+wzZRhyGzAf1KaSSOdcHZsh4o
7yQY4cbFAgMBAAECggEAB4Wrht7RzNIjsnuQav8I01eDBJwv7vq0nY+wxGXaJx5h
zTlCiX5y+UJnhc5rITRd3Z2LhUjqCTZvUI/Y1tDkH2pcZAEM4AfnwACHOylqiXT7
CEOjxMbwlGYkb78YYyz8FFZspoh3C+c83Lgx7M5s26xm/6TSZquz6+Kw755CKDsC
m/L16XK0+r8Zkey4ImGIAKnrE3R2KhapofwIJQPLLT1XjKB4q8Z74S6gQDUjbrqR
FPZin2ux/eunMthpWaRSfTY6LiZIHBj60MjzPU+8dh/isltXLVcFamlWIqNRHPHw
nYnOLZe5Zf3gOC7rPGWpNaJ9GEzZsPfiJTiopZ756QKBgQD9ITqPUb03kvm3zLnp
JX9BHchsdHmgGnq2/gN70Lhg0LJElyRkmm5CMPNYQxZ296hmgFgfV8FnQwwKFyM+
Zqw0dLL/9hpQ3vzSbRexOyt1HvmhnGht08GHu5WyqO7cm2jgx+izW1uT7uwb5Wrp
7hWhOb9zI9l/FwtbrrkSlR+XrwKBgQC72wsXfR+AkTZKkXPyhqDhvHWncFkj0NUI
/bDfToGLO3CgwmFGlieEd0XM2dI7xrzqBj4cH/gY+or8GUx0zNRdXqNLXEzyDwlL
bI5J4GwMFNglZT2wC7wsxV2zDh1hQs2sOQRIfxBykwuOW/0Fe+oVI8prHmnpEl3s
O9JX5vQxywKBgAU12uO6Vf+/2b4Ly8PdzrnDaC27VAmUofQEVIQG7tSnVxQMXGZp
u11HbqrhbqPyQxghCi9S+hsrCSNoCISvTloiENEt+qqxfFjEgBlY03MsuQy3kHq6
QiCOHu23hnsqA8Wkt8iBV+g6oceNOF8qVG2mJ6eyFDcGfWhct1iHk0fnAoGBAKaL
PbwnS+R52P4nEfpz7PH0WQKHEiA0pooAD+0J9sNvgRyk+ATSXlqMO6+vdTlVqmp3
+lyI4zWR+eIis6vhZG0a1/6Z6AW52u2pYkSQ2HmliTMuHJCU9tFicP2rh9SQmzMS
oX98VyKcxuQBHcLc5tyzDGQHZLIjfG1RY9xWfywdAoGBAOdEf5tUjFp4Bm3783Lf
e7dW59Gd4eWkh+KQm1HKotTND2E2lKzs/gxlRS2rzYOB+LZOvQ5j60Wnfybdu0Lw
eSYcux835gh+M20Ts3iQDAIfHq8Av3JmyGmnpyDJy+RvRn4RGZXysC7UqXe9Pc+r
T9Bg5tpSKRRL5pSb2dDCR9eB
-----END PRIVATE KEY-----`;

const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

function jwt(claims: Record<string, unknown>, header: Record<string, unknown> = { alg: "RS256", kid: "test-key", typ: "JWT" }): string {
  const now = Math.floor(Date.now() / 1000);
  const body = `${b64(header)}.${b64({ iss: "https://issuer.test", aud: "shared-notes-tests", sub: "user-1", iat: now, exp: now + 3600, ...claims })}`;
  if (header.alg === "none") return `${body}.`;
  return `${body}.${sign("sha256", Buffer.from(body), createPrivateKey(PRIVATE_KEY)).toString("base64url")}`;
}

let backend: RunningBackend;

beforeAll(async () => {
  backend = await startFixture(undefined, { adminKey: "test-admin-key" });
});

afterAll(async () => {
  await backend.close();
  removeTempDirs();
});

async function refusal(token: string): Promise<{ code: string; message: string }> {
  const http = new ConvexHttpClient(backend.url);
  http.setAuth(token);
  try {
    await http.query(api.notes.whoAmI, {});
  } catch (e) {
    return JSON.parse((e as Error).message) as { code: string; message: string };
  }
  throw new Error("expected the token to be refused");
}

describe("auth", () => {
  it("passes the identity of a valid token to functions, over HTTP and WebSocket", async () => {
    const http = new ConvexHttpClient(backend.url);
    http.setAuth(jwt({}));
    expect(await http.query(api.notes.whoAmI, {})).toBe("user-1");
    const c = new ConvexClient(backend.url, { logger: false });
    try {
      c.setAuth(async () => jwt({ sub: "user-2" }));
      let seen: unknown;
      c.onUpdate(api.notes.whoAmI, {}, (v) => (seen = v));
      await waitFor(() => seen === "user-2", "the authenticated query");
    } finally {
      await c.close();
    }
  });

  it("lets the admin key act as a user, and refuses a wrong admin key", async () => {
    const admin = new ConvexHttpClient(backend.url);
    (admin as unknown as { setAdminAuth(key: string, actingAs?: object): void }).setAdminAuth("test-admin-key", { subject: "acted", issuer: "https://issuer.test" });
    expect(await admin.query(api.notes.whoAmI, {})).toBe("acted");
    const wrong = new ConvexHttpClient(backend.url);
    (wrong as unknown as { setAdminAuth(key: string): void }).setAdminAuth("guess");
    const err = await wrong.query(api.notes.whoAmI, {}).catch((e: Error) => e);
    expect(String(err)).toContain("admin key was invalid");
  });

  it("lets the admin key act as a user over WebSocket too (ConvexClient.setAdminAuth)", async () => {
    const c = new ConvexClient(backend.url, { logger: false });
    try {
      (c as unknown as { setAdminAuth(key: string, actingAs?: object): void }).setAdminAuth("test-admin-key", {
        subject: "acted-ws",
        issuer: "https://issuer.test",
      });
      expect(await c.query(api.notes.whoAmI, {})).toBe("acted-ws");
    } finally {
      await c.close();
    }
  });

  it("refuses unsigned, forged, expired, future and foreign tokens with Convex's codes", async () => {
    expect((await refusal(jwt({}, { alg: "none", kid: "test-key" }))).code).toBe("InvalidAuthHeader");
    const forged = jwt({ sub: "admin" }).split(".");
    const good = jwt({}).split(".");
    expect((await refusal(`${forged[0]}.${forged[1]}.${good[2]}`)).message).toContain("InvalidSignature");
    expect((await refusal(jwt({ exp: Math.floor(Date.now() / 1000) - 10 }))).message).toContain("Token expired");
    expect((await refusal(jwt({ iat: Math.floor(Date.now() / 1000) + 60 }))).message).toContain("will be valid in");
    const foreign = await refusal(jwt({ iss: "https://elsewhere.test" }));
    expect(foreign.code).toBe("NoAuthProvider");
    expect(foreign.message).toContain("CustomJWT(issuer=https://issuer.test, app_id=shared-notes-tests)");
    expect((await refusal("not-a-jwt")).message).toContain("three base64-encoded parts");
    expect((await refusal(jwt({}, { alg: "RS256", kid: "other-key" }))).message).toContain("'other-key'");
    // The JWKS holds one key, yet a token that names none is refused, as on Convex.
    expect((await refusal(jwt({}, { alg: "RS256", typ: "JWT" }))).message).toContain("missing a 'kid'");
  });
});
