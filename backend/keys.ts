// Order-preserving binary encoding of Convex values, so that SQLite's memcmp order on
// BLOB keys equals Convex's value order (compareValues). Index range reads then become
// plain `key >= lo AND key < hi` scans on the index-entries primary key.
//
// Every encoded value starts with a type tag in 0x01..0x09 and the encoding is
// prefix-free, so `prefix ++ 0xFF` is an exclusive upper bound for everything that
// starts with `prefix`.
import type { Value } from "convex/values";

const TAG_UNDEFINED = 0x01;
const TAG_NULL = 0x02;
const TAG_INT64 = 0x03;
const TAG_FLOAT64 = 0x04;
const TAG_BOOLEAN = 0x05;
const TAG_STRING = 0x06;
const TAG_BYTES = 0x07;
const TAG_ARRAY = 0x08;
const TAG_OBJECT = 0x09;
const END = 0x00;

export const AFTER_PREFIX = Buffer.from([0xff]);

class KeyWriter {
  private chunks: number[] = [];

  byte(b: number): void {
    this.chunks.push(b);
  }

  // 0x00 is escaped as 0x00 0x01 and the run ends with 0x00 0x00, which keeps
  // shorter strings before their extensions.
  escaped(bytes: Uint8Array): void {
    for (const b of bytes) {
      this.chunks.push(b);
      if (b === 0) this.chunks.push(0x01);
    }
    this.chunks.push(0x00, 0x00);
  }

  fixed(bytes: Uint8Array): void {
    for (const b of bytes) this.chunks.push(b);
  }

  toBuffer(): Buffer {
    return Buffer.from(this.chunks);
  }
}

function writeValue(w: KeyWriter, value: Value | undefined): void {
  if (value === undefined) return w.byte(TAG_UNDEFINED);
  if (value === null) return w.byte(TAG_NULL);
  if (typeof value === "bigint") {
    w.byte(TAG_INT64);
    const buf = Buffer.alloc(8);
    // Flipping the sign bit makes two's complement sort as unsigned bytes.
    buf.writeBigUInt64BE(BigInt.asUintN(64, value) ^ 0x8000000000000000n);
    return w.fixed(buf);
  }
  if (typeof value === "number") {
    w.byte(TAG_FLOAT64);
    const buf = Buffer.alloc(8);
    buf.writeDoubleBE(value);
    // IEEE 754: negative numbers sort reversed, so flip all bits; positives flip the sign bit.
    if ((buf[0]! & 0x80) !== 0) {
      for (let i = 0; i < 8; i++) buf[i] = ~buf[i]! & 0xff;
    } else {
      buf[0] = buf[0]! | 0x80;
    }
    return w.fixed(buf);
  }
  if (typeof value === "boolean") {
    w.byte(TAG_BOOLEAN);
    return w.byte(value ? 1 : 0);
  }
  if (typeof value === "string") {
    w.byte(TAG_STRING);
    return w.escaped(Buffer.from(value, "utf8"));
  }
  if (value instanceof ArrayBuffer) {
    w.byte(TAG_BYTES);
    return w.escaped(new Uint8Array(value));
  }
  if (Array.isArray(value)) {
    w.byte(TAG_ARRAY);
    for (const item of value) writeValue(w, item);
    return w.byte(END);
  }
  w.byte(TAG_OBJECT);
  const fields = value as Record<string, Value | undefined>;
  for (const key of Object.keys(fields).sort()) {
    const field = fields[key];
    if (field === undefined) continue;
    writeValue(w, key);
    writeValue(w, field);
  }
  w.byte(END);
}

export function encodeKey(values: ReadonlyArray<Value | undefined>): Buffer {
  const w = new KeyWriter();
  for (const v of values) writeValue(w, v);
  return w.toBuffer();
}

/** The smallest key strictly greater than `key` (for resuming an ascending scan). */
export function successor(key: Buffer): Buffer {
  return Buffer.concat([key, Buffer.from([0x00])]);
}

export function afterPrefix(prefix: Buffer): Buffer {
  return Buffer.concat([prefix, AFTER_PREFIX]);
}

export type KeyRange = { lo: Buffer; hi: Buffer };

export function rangeContains(range: KeyRange, key: Buffer): boolean {
  return Buffer.compare(range.lo, key) <= 0 && Buffer.compare(key, range.hi) < 0;
}
