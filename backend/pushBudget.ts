// How often commits may send updates to many clients at once. A commit group's updates go
// to every client watching what it wrote: a Transition and a socket write for each, and
// each client parses it and takes in the block's ops so far. With 50 typists the groups
// came 40–100 a second, each to ~50 clients, and the socket writes alone were a sixth of
// the server's time (bench:clients with --cpu-prof). A group that waits for the budget
// stays open and takes the mutations that arrive meanwhile, so one update carries several
// keys. At 50 typists the server's CPU per key fell by 11–16% and the clients' processes'
// CPU by a quarter, with the median key no later (bench/README.md, "A budget for pushes,
// ..."; half this rate saved a little more CPU, and held keys 6–10 ms longer at 25 and
// 50 typists).
//
// A token bucket: a group commits at once while the bucket is not empty, so a few clients,
// or many after a pause, never wait for it; only a sustained stream of wide pushes does.

/** Updates (one Transition to one client) a second, sustained: 50 clients × 80 groups. */
export const PUSHES_PER_SECOND = 4_000;

/** Updates that may go out at once after a quiet spell: four commits to 50 clients. */
export const PUSH_BURST = 200;

export class PushBudget {
  private tokens: number;
  private at: number;

  constructor(
    now: number,
    private readonly perSecond = PUSHES_PER_SECOND,
    private readonly burst = PUSH_BURST,
  ) {
    this.tokens = burst;
    this.at = now;
  }

  /** Counts a commit's updates; the bucket may go below empty (the next commits then wait longer). */
  spend(pushes: number, now: number): void {
    this.refill(now);
    this.tokens -= pushes;
  }

  /** How long the next commit should wait for the bucket to be non-negative again: 0 to go now. */
  waitMs(now: number): number {
    this.refill(now);
    // (A wait just served can leave a rounding error's worth below empty: that is empty.)
    return this.tokens > -1e-6 ? 0 : (-this.tokens / this.perSecond) * 1000;
  }

  private refill(now: number): void {
    if (now > this.at) this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) * this.perSecond) / 1000);
    this.at = Math.max(this.at, now);
  }
}
