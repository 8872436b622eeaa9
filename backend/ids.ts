// Document ids: base32 strings carrying the table number, 16 random bytes and a
// checksum, so normalizeId can tell a well-formed id of table T from anything else
// without a database read (the same job Convex's own ids do).
import { randomFillSync } from "node:crypto";

const ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
const DECODE = new Map([...ALPHABET].map((c, i) => [c, i]));

function base32(bytes: Uint8Array): string {
  let out = "";
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += ALPHABET[(acc << (5 - bits)) & 31];
  return out;
}

function unbase32(text: string): Uint8Array | null {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const c of text) {
    const d = DECODE.get(c);
    if (d === undefined) return null;
    acc = (acc << 5) | d;
    bits += 5;
    if (bits >= 8) {
      out.push((acc >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
    acc &= (1 << bits) - 1;
  }
  if (acc !== 0) return null;
  return Uint8Array.from(out);
}

function checksum(bytes: Uint8Array): [number, number] {
  // Fletcher-16: cheap, and catches truncation and transposed characters.
  let a = 0;
  let b = 0;
  for (const x of bytes) {
    a = (a + x) % 255;
    b = (b + a) % 255;
  }
  return [a, b];
}

/**
 * Random bytes for ids, drawn a few kB at a time: every insert takes 16, and one call to
 * the system's generator per insert was a quarter of an op's insert (CPU profile).
 */
const pool = Buffer.alloc(4096);
let poolUsed = pool.length;

function random16(into: Buffer, at: number): void {
  if (poolUsed + 16 > pool.length) {
    randomFillSync(pool);
    poolUsed = 0;
  }
  pool.copy(into, at, poolUsed, poolUsed + 16);
  poolUsed += 16;
}

export function makeId(tableNumber: number): string {
  const bytes = Buffer.alloc(4 + 16 + 2);
  bytes.writeUInt32BE(tableNumber, 0);
  random16(bytes, 4);
  const [a, b] = checksum(bytes.subarray(0, 20));
  bytes[20] = a;
  bytes[21] = b;
  return base32(bytes);
}

/** The table number an id belongs to, or null if the string is not one of our ids. */
export function idTableNumber(id: string): number | null {
  if (id.length !== 36) return null;
  const bytes = unbase32(id);
  if (bytes === null || bytes.length !== 22) return null;
  const body = bytes.subarray(0, 20);
  const [a, b] = checksum(body);
  if (bytes[20] !== a || bytes[21] !== b) return null;
  return Buffer.from(body).readUInt32BE(0);
}
