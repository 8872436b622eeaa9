// Identity from a client's JWT, verified as Convex does against the providers of
// convex/auth.config.ts: issuer and audience pick the provider, its JWKS (a data: URL or
// an http(s) URL, fetched and cached) holds the key, the header's algorithm must be the
// provider's, and expiry / issue time are checked. Messages and codes are Convex's.
// node:crypto only.
import { createPublicKey, verify as verifySignature, type JsonWebKey, type KeyObject } from "node:crypto";
import type { JSONValue } from "convex/values";

/** Who a function runs as: a verified token's claims. */
export type UserIdentity = { tokenIdentifier: string; subject: string; issuer: string; [claim: string]: JSONValue };

export type AuthErrorCode = "InvalidAuthHeader" | "NoAuthProvider" | "Unauthenticated";

export class AuthError extends Error {
  constructor(
    readonly code: AuthErrorCode,
    message: string,
  ) {
    super(message);
  }
}

type Provider =
  | { type: "customJwt"; issuer: string; jwks: string; algorithm: "RS256" | "ES256"; applicationID?: string }
  | { type: "oidc"; domain: string; applicationID: string };

/** Tokens issued up to this far in the future are accepted (clock skew). */
const IAT_LEEWAY_S = 5;
const JWKS_CACHE_MS = 10 * 60 * 1000;
const JWKS_FETCH_TIMEOUT_MS = 5000;

const STANDARD_CLAIMS: Record<string, string> = {
  given_name: "givenName",
  family_name: "familyName",
  preferred_username: "preferredUsername",
  profile: "profileUrl",
  picture: "pictureUrl",
  email_verified: "emailVerified",
  phone_number: "phoneNumber",
  phone_number_verified: "phoneNumberVerified",
  updated_at: "updatedAt",
  zoneinfo: "timezone",
  locale: "language",
  birthdate: "birthday",
};
const DROPPED = new Set(["iss", "sub", "aud", "exp", "iat", "nbf", "jti"]);

const bad = (message: string) => new AuthError("InvalidAuthHeader", message);

/** Reads the providers out of auth.config.ts's default export; a malformed one fails the start. */
export function parseAuthConfig(config: unknown): Provider[] {
  const providers = (config as { providers?: unknown } | null)?.providers;
  if (providers === undefined) return [];
  if (!Array.isArray(providers)) throw new Error("auth.config.ts: `providers` must be an array");
  return providers.map((p: Record<string, unknown>, i): Provider => {
    if (p.type === "customJwt") {
      if (typeof p.issuer !== "string" || typeof p.jwks !== "string") throw new Error(`auth.config.ts: provider ${i} needs string issuer and jwks`);
      if (p.algorithm !== "RS256" && p.algorithm !== "ES256") throw new Error(`auth.config.ts: provider ${i}: algorithm must be RS256 or ES256`);
      return {
        type: "customJwt",
        issuer: p.issuer,
        jwks: p.jwks,
        algorithm: p.algorithm,
        ...(typeof p.applicationID === "string" ? { applicationID: p.applicationID } : {}),
      };
    }
    if (typeof p.domain === "string" && typeof p.applicationID === "string") return { type: "oidc", domain: p.domain, applicationID: p.applicationID };
    throw new Error(`auth.config.ts: provider ${i} is neither a customJwt provider nor { domain, applicationID }`);
  });
}

function decodePart(part: string): Record<string, JSONValue> {
  const value = JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as unknown;
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
  return value as Record<string, JSONValue>;
}

function describe(p: Provider): string {
  return p.type === "oidc" ? `OIDC(domain=${p.domain}, app_id=${p.applicationID})` : `CustomJWT(issuer=${p.issuer}, app_id=${p.applicationID ?? "none"})`;
}

export class Authenticator {
  private jwksCache = new Map<string, { at: number; keys: JsonWebKey[] }>();

  constructor(private readonly providers: Provider[]) {}

  async verify(token: string): Promise<UserIdentity> {
    const parts = token.split(".");
    let header: Record<string, JSONValue>;
    let claims: Record<string, JSONValue>;
    try {
      if (parts.length !== 3) throw new Error("parts");
      header = decodePart(parts[0]!);
      claims = decodePart(parts[1]!);
    } catch {
      throw bad("Could not parse JWT payload. Check that the token is a valid JWT format with three base64-encoded parts separated by dots.");
    }
    const iss = claims.iss;
    if (typeof iss !== "string") {
      throw bad("Missing issuer claim ('iss') in JWT payload. The JWT must include an 'iss' claim that matches one of your configured auth providers.");
    }
    const audiences = Array.isArray(claims.aud) ? claims.aud : claims.aud === undefined ? [] : [claims.aud];
    const provider = this.providers.find((p) =>
      p.type === "customJwt"
        ? p.issuer === iss && (p.applicationID === undefined || audiences.includes(p.applicationID))
        : p.domain.replace(/\/$/, "") === iss.replace(/\/$/, "") && audiences.includes(p.applicationID),
    );
    if (!provider) {
      throw new AuthError(
        "NoAuthProvider",
        this.providers.length === 0
          ? "No auth provider found matching the given token (no providers configured). Check convex/auth.config.ts."
          : `No auth provider found matching the given token. Check that your JWT's issuer and audience match one of your configured providers: [${this.providers.map(describe).join(", ")}]`,
      );
    }
    const algorithm = provider.type === "customJwt" ? provider.algorithm : "RS256";
    if (header.alg !== algorithm) throw bad(`Could not validate token: InvalidAlgorithm (expected ${algorithm}, got ${String(header.alg)})`);
    const jwksUrl = provider.type === "customJwt" ? provider.jwks : await this.discover(provider.domain);
    const keys = await this.jwks(jwksUrl);
    const kid = header.kid;
    // As on Convex, a token without a key id is refused even when the JWKS holds one key.
    const jwk = typeof kid === "string" ? keys.find((k) => k.kid === kid) : undefined;
    if (!jwk) {
      throw bad(
        typeof kid === "string"
          ? `Could not decode token. The JWT's 'kid' (key ID) header is '${kid}', does this key match any key in the provider's JWKS?`
          : "Could not decode token. JWT may be missing a 'kid' (key ID) header.",
      );
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: jwk, format: "jwk" });
    } catch {
      throw bad(`Invalid JWKS response body from '${jwksUrl}'. The response is not valid JSON or doesn't match the expected JWKS format.`);
    }
    const signed = Buffer.from(`${parts[0]}.${parts[1]}`);
    const signature = Buffer.from(parts[2]!, "base64url");
    const valid = verifySignature("sha256", signed, algorithm === "ES256" ? { key, dsaEncoding: "ieee-p1363" } : key, signature);
    if (!valid) throw bad("Could not validate token: InvalidSignature");
    const now = Date.now() / 1000;
    if (typeof claims.exp === "number" && claims.exp < now) {
      throw bad(`Could not validate token: Token expired ${Math.round(now - claims.exp)} seconds ago`);
    }
    for (const claim of ["iat", "nbf"]) {
      const t = claims[claim];
      if (typeof t === "number" && t > now + IAT_LEEWAY_S) {
        throw bad(`Could not validate token: Token will be valid in ${Math.round(t - now)} seconds`);
      }
    }
    return identityFromClaims(claims);
  }

  private async discover(domain: string): Promise<string> {
    const url = `${domain.replace(/\/$/, "")}/.well-known/openid-configuration`;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(JWKS_FETCH_TIMEOUT_MS) });
      const body = (await res.json()) as { jwks_uri?: unknown };
      if (typeof body.jwks_uri !== "string") throw new Error("no jwks_uri");
      return body.jwks_uri;
    } catch (e) {
      throw new AuthError("InvalidAuthHeader", `Auth provider discovery of ${domain} failed: ${(e as Error).message}`);
    }
  }

  private async jwks(url: string): Promise<JsonWebKey[]> {
    const cached = this.jwksCache.get(url);
    if (cached && Date.now() - cached.at < JWKS_CACHE_MS) return cached.keys;
    let text: string;
    if (url.startsWith("data:")) {
      const comma = url.indexOf(",");
      const meta = url.slice(5, comma);
      const data = url.slice(comma + 1);
      text = meta.endsWith(";base64") ? Buffer.from(data, "base64").toString("utf8") : decodeURIComponent(data);
    } else {
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(JWKS_FETCH_TIMEOUT_MS) });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        text = await res.text();
      } catch (e) {
        throw bad(`Could not fetch the JWKS from '${url}' (${(e as Error).message}). Check that the JWKS URL is accessible.`);
      }
    }
    let keys: JsonWebKey[];
    try {
      const parsed = JSON.parse(text) as { keys?: unknown };
      if (!Array.isArray(parsed.keys)) throw new Error("no keys");
      keys = parsed.keys as JsonWebKey[];
    } catch {
      throw bad(`Invalid JWKS response body from '${url}'. The response is not valid JSON or doesn't match the expected JWKS format.`);
    }
    this.jwksCache.set(url, { at: Date.now(), keys });
    return keys;
  }
}

function identityFromClaims(claims: Record<string, JSONValue>): UserIdentity {
  const iss = String(claims.iss);
  const sub = typeof claims.sub === "string" ? claims.sub : "";
  const identity: UserIdentity = { tokenIdentifier: `${iss}|${sub}`, subject: sub, issuer: iss };
  for (const [claim, value] of Object.entries(claims)) {
    if (DROPPED.has(claim) || value === null) continue;
    identity[STANDARD_CLAIMS[claim] ?? claim] = value;
  }
  return identity;
}

/**
 * HTTP actions run even when their request's Authorization header holds no valid token
 * (they see the header as sent); as on Convex, asking for the identity then fails with
 * the refusal. Kept by request, from the server that checked the header to the run.
 */
export const refusedTokens = new WeakMap<Request, Error>();

/**
 * `Convex <admin key>[:<base64 JSON of the identity to act as>]`, the admin header of
 * ConvexHttpClient.setAdminAuth. Only with the admin key the backend was started with.
 */
export function adminIdentity(header: string, adminKey: string | undefined): UserIdentity | null {
  const [key = "", actingAs] = header.slice("Convex ".length).split(":");
  checkAdminKey(key, adminKey);
  if (actingAs === undefined) return null;
  let attributes: unknown;
  try {
    attributes = JSON.parse(Buffer.from(actingAs, "base64").toString("utf8"));
  } catch {
    throw bad("The identity to act as is not base64-encoded JSON.");
  }
  return actingAsIdentity(attributes);
}

/** Refuses any key but the one the backend was started with. */
export function checkAdminKey(key: string, adminKey: string | undefined): void {
  if (adminKey === undefined) {
    throw new AuthError("Unauthenticated", "Admin keys are not supported by the local backend unless it is started with an admin key (--admin-key).");
  }
  if (key !== adminKey) throw new AuthError("Unauthenticated", "The provided admin key was invalid for this instance");
}

/** The identity an admin acts as (user identity attributes; the token identifier is derived when missing). */
export function actingAsIdentity(attributes: unknown): UserIdentity {
  if (attributes === null || typeof attributes !== "object" || Array.isArray(attributes)) {
    throw bad("The identity to act as must be an object of user identity attributes.");
  }
  const fields = attributes as Record<string, JSONValue>;
  const subject = typeof fields.subject === "string" ? fields.subject : "";
  const issuer = typeof fields.issuer === "string" ? fields.issuer : "";
  const tokenIdentifier = typeof fields.tokenIdentifier === "string" ? fields.tokenIdentifier : `${issuer}|${subject}`;
  return { ...fields, tokenIdentifier, subject, issuer };
}
