// Optimistic concurrency bookkeeping: the write sets of recent commits, numbered, so a
// mutation can ask whether anything committed since it started (or since it arrived)
// wrote inside a range it read. Entries are kept only while someone may still ask.
import type { WriteSet } from "./reads.js";
import { overlappingIndex, type ReadSet } from "./reads.js";

export class CommitLog {
  private entries: Array<{ seq: number; writes: WriteSet }> = [];
  private seq = 0;
  /** Positions someone will ask about later, with how many ask from each. */
  private pins = new Map<number, number>();

  /** The number of the latest entry: pin it to ask later about everything after it. */
  get head(): number {
    return this.seq;
  }

  pin(): number {
    this.pins.set(this.seq, (this.pins.get(this.seq) ?? 0) + 1);
    return this.seq;
  }

  unpin(seq: number): void {
    const n = this.pins.get(seq) ?? 0;
    if (n > 1) return void this.pins.set(seq, n - 1);
    this.pins.delete(seq);
    // Only a pin older than the oldest entry was keeping entries.
    if (this.entries.length > 0 && seq < this.entries[0]!.seq) this.trim();
  }

  append(writes: WriteSet): void {
    this.seq++;
    if (this.pins.size > 0 && writes.size > 0) this.entries.push({ seq: this.seq, writes });
  }

  /** Forgets entries after `seq`: their transaction was rolled back. */
  dropAfter(seq: number): void {
    while (this.entries.length > 0 && this.entries[this.entries.length - 1]!.seq > seq) this.entries.pop();
  }

  /** The table of the first write after `since` inside `reads`, or null when none was. */
  conflict(reads: ReadSet, since: number): string | null {
    for (let i = this.entries.length - 1; i >= 0 && this.entries[i]!.seq > since; i--) {
      const index = overlappingIndex(reads, this.entries[i]!.writes);
      if (index !== null) return index.slice(0, index.indexOf("."));
    }
    return null;
  }

  private trim(): void {
    const oldest = this.pins.size === 0 ? Infinity : Math.min(...this.pins.keys());
    let drop = 0;
    while (drop < this.entries.length && this.entries[drop]!.seq <= oldest) drop++;
    if (drop > 0) this.entries.splice(0, drop);
  }
}
