// How many submissions a client keeps in flight, adjusted to how fast they come back.
//
// Several in flight let each key leave at once on a slow link. But when the server is the
// slow part, they are what keeps it slow: every key stays its own submission, each
// transformed past everything committed since its base, and the queue grows with the
// delay. So a client watches how long its submissions take to be confirmed. One that
// takes well over the fastest it has seen is waiting in a queue, and the limit halves
// (down to 1: further typing composes into one buffered op, one submission per round
// trip); one that comes back about as fast lets the limit grow again by one. "Well over"
// is twice the fastest on a fast link, and QUEUE_MS over it on a slow one: a queue is so
// many ms, whatever the link, and twice a 200 ms round trip let a 250 ms queue pass as
// the link (50 typists over 100 ms each way then stayed that far behind). A slow link
// is slow every time, so its limit stays up. The fastest time seen drifts up a little
// with each confirmation while the limit is 1, so a client that moved to a slower link
// adapts to it: at 1 the client adds little to any queue, so what stays slow is the link.
// (Drifting at every limit made a queue that lasted look like the link within seconds:
// 1% a confirmation, 5 a second, turned 210 ms into 310 in 8 s.) A
// confirmation far slower than a query's round trip means a queue too: a client that
// joined a server already behind never sees a fast confirmation, and kept its limit up.

/** Confirmation time over twice the fastest plus this means a queue, not the link. */
export const QUEUE_SLACK_MS = 20;
/** ...and so does one over the fastest plus this (the bound on a slow link). */
export const QUEUE_MS = 150;
/** Confirmation time over twice the fastest query round trip plus this means a queue. */
export const LINK_SLACK_MS = 250;
/** How much the fastest confirmation time seen drifts up per confirmation, while the limit is 1. */
const FASTEST_DRIFT = 1.01;
/** ...and the fastest query round trip per round trip (they are fewer). */
const LINK_DRIFT = 1.25;

export class InFlightLimit {
  private fastest = Infinity;
  private fastestLink = Infinity;
  private current: number;

  constructor(private readonly max: number) {
    this.current = max;
  }

  get value(): number {
    return this.current;
  }

  /**
   * A round trip that waits in no mutation queue took `ms` (a query's first answer). A
   * client that only ever saw slow confirmations (it joined a server already behind) so
   * still knows they queue. It is only a loose bound: a confirmation also waits for the
   * commit, the disk and the push, which a busy editor's host may take tens of ms over.
   */
  link(ms: number): void {
    this.fastestLink = Math.min(ms, this.fastestLink * LINK_DRIFT);
  }

  /**
   * The socket reconnected, maybe over another path (a laptop that left the office): what
   * was learned of the old link no longer holds. Waiting for the drift instead kept a
   * client that moved to a slower link at one submission per round trip for hundreds of them.
   */
  newLink(): void {
    this.fastest = Infinity;
    this.fastestLink = Infinity;
    this.current = this.max;
  }

  /** One submission took `ms` from being sent to being confirmed; returns the new limit. */
  observe(ms: number): number {
    this.fastest = Math.min(ms, this.current === 1 ? this.fastest * FASTEST_DRIFT : this.fastest);
    if (this.queued(ms)) this.current = Math.max(1, Math.floor(this.current / 2));
    else if (this.current < this.max) this.current += 1;
    return this.current;
  }

  /**
   * The oldest submission in flight has waited `ms` so far (asked at each new edit): when
   * the server falls behind, confirmations are what stops coming, so waiting alone says so.
   */
  waiting(ms: number): number {
    if (this.queued(ms)) this.current = Math.max(1, Math.floor(this.current / 2));
    return this.current;
  }

  private queued(ms: number): boolean {
    return ms > Math.min(2 * this.fastest + QUEUE_SLACK_MS, this.fastest + QUEUE_MS) || ms > 2 * this.fastestLink + LINK_SLACK_MS;
  }
}
