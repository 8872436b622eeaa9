// The function realm answers crypto.subtle.digest of small inputs at once (every note
// function hashes the space key): its bytes must be Web Crypto's, byte for byte, and
// whatever it does not handle must be left to Web Crypto.
import { describe, expect, it } from "vitest";
import { digestNow } from "../../backend/isolate.js";

const hex = (b: ArrayBuffer): string => Buffer.from(b).toString("hex");

describe("digest computed at once", () => {
  it("gives Web Crypto's bytes for every algorithm and kind of input", async () => {
    const bytes = new TextEncoder().encode("a space key, 43 characters of base64url ---é");
    const inputs: Array<ArrayBuffer | ArrayBufferView> = [
      bytes,
      bytes.buffer.slice(0),
      new DataView(bytes.buffer, 3, 10),
      new Uint16Array(bytes.buffer.slice(0, 20)),
      new Uint8Array(bytes.buffer, 5, 7),
      new Uint8Array(0),
    ];
    for (const algorithm of ["SHA-1", "SHA-256", "sha-384", { name: "SHA-512" }]) {
      for (const data of inputs) {
        const expected = await crypto.subtle.digest(algorithm, data);
        expect(hex(digestNow(algorithm, data)!), `${JSON.stringify(algorithm)} of ${data.constructor.name}`).toBe(hex(expected));
      }
    }
  });

  it("leaves other algorithms, malformed and large input to Web Crypto", () => {
    expect(digestNow("MD5", new Uint8Array(1))).toBeUndefined();
    expect(digestNow({}, new Uint8Array(1))).toBeUndefined();
    expect(digestNow("SHA-256", "text")).toBeUndefined();
    expect(digestNow("SHA-256", new Uint8Array(64 * 1024 + 1))).toBeUndefined();
  });
});
