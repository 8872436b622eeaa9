// Which commits are on disk, and who waits for which. The engine counts each COMMIT here
// as it goes into the database; one sync runs at a time, and commits made while it ran are
// covered by the next, which starts as it ends. Whatever shows the database's state (an
// answer, a push, a query result) waits here for every commit made before it asked, and is
// released in the order it asked: nothing is seen that a crash could take back, while the
// engine runs the next commit group as the last one syncs.

/** How long to wait before syncing again after the disk refused, doubling up to the cap. */
const SYNC_RETRY_MS = 100;
export const SYNC_RETRY_CAP_MS = 5_000;

export class DiskSync {
  private made = 0;
  private synced = 0;
  private syncing = false;
  /** Callers waiting for the disk, each for the commits made before it asked (so in order). */
  private waiting: Array<{ commit: number; then: () => void }> = [];

  /**
   * `sync` puts every commit made so far on disk. `warn` hears a refused sync (it is tried
   * again) and a waiting caller that threw (the others still run).
   */
  constructor(
    private readonly sync: () => Promise<unknown>,
    private readonly warn: (message: string) => void,
  ) {}

  /** COMMITs so far. */
  get commits(): number {
    return this.made;
  }

  /** Whether every commit so far is known to be on disk. */
  get allOnDisk(): boolean {
    return this.synced === this.made;
  }

  /** A COMMIT went in: it goes to disk with the next sync. */
  committed(): void {
    this.made++;
    this.syncSoon();
  }

  /** Runs `then` once everything committed so far is on disk: at once if it is. */
  afterDurable(then: () => void): void {
    if (this.allOnDisk && this.waiting.length === 0) return then();
    this.waiting.push({ commit: this.made, then });
  }

  /** `afterDurable` as a promise. */
  durableNow(): Promise<void> {
    return new Promise((resolve) => this.afterDurable(resolve));
  }

  private syncSoon(): void {
    if (this.syncing || this.allOnDisk) return;
    this.syncing = true;
    const upTo = this.made;
    void this.untilSynced().then(() => {
      this.syncing = false;
      this.synced = upTo;
      // One at a time from the front: what these send is queued behind the rest, in order.
      while (this.waiting.length > 0 && this.waiting[0]!.commit <= upTo) {
        try {
          this.waiting.shift()!.then();
        } catch (e) {
          this.warn(`Work waiting for the disk failed: ${(e as Error).message}`);
        }
      }
      this.syncSoon();
    });
  }

  /**
   * A disk that refuses is asked again until it complies: nothing committed is
   * acknowledged before, so clients keep their edits and wait.
   */
  private async untilSynced(): Promise<void> {
    for (let wait = SYNC_RETRY_MS; ; wait = Math.min(wait * 2, SYNC_RETRY_CAP_MS)) {
      try {
        await this.sync();
        return;
      } catch (e) {
        this.warn(`syncing the last commit to disk failed, trying again in ${wait} ms: ${(e as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }
}
