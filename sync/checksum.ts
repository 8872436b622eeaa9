/**
 * A cheap fingerprint of a text, sent with every revision so that a client whose copy
 * drifted from the server's notices and reloads instead of diverging silently.
 * FNV-1a over UTF-16 code units plus the length: not cryptographic, only a tripwire.
 */
export function checksum(text: string): string {
  return checksumOfParts([text]);
}

/**
 * The checksum of the parts joined, without joining them (for texts kept in chunks).
 * Equal to `checksum(parts.join(""))`.
 */
export function checksumOfParts(parts: Iterable<string>): string {
  let h = 0x811c9dc5;
  let length = 0;
  for (const text of parts) {
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    length += text.length;
  }
  return `${length.toString(36)}.${(h >>> 0).toString(36)}`;
}
