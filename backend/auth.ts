// Identity from a client's JWT. The local backend has no identity provider
// configuration to verify signatures against, so it trusts the token's claims: fine on
// loopback, and the reason `serve` binds 127.0.0.1 unless told otherwise.
import type { JSONValue } from "convex/values";
import type { UserIdentity } from "./runtime.js";

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

export function identityFromJwt(token: string): UserIdentity {
  const payload = token.split(".")[1];
  if (!payload) throw new Error("Could not decode token: not a JWT");
  let claims: Record<string, JSONValue>;
  try {
    claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as Record<string, JSONValue>;
  } catch {
    throw new Error("Could not decode token: the payload is not JSON");
  }
  const { iss, sub } = claims;
  if (typeof iss !== "string" || typeof sub !== "string") throw new Error("Token must have string `iss` and `sub` claims");
  const identity: UserIdentity = { tokenIdentifier: `${iss}|${sub}`, subject: sub, issuer: iss };
  for (const [claim, value] of Object.entries(claims)) {
    if (DROPPED.has(claim) || value === null) continue;
    identity[STANDARD_CLAIMS[claim] ?? claim] = value;
  }
  return identity;
}
