// Copies the WAL into the database file on a thread of its own.
//
// SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past 1,000
// pages: it syncs the WAL, copies its pages into the database file and syncs that, on the
// thread that committed. For the server that is the main thread, so every client's frames,
// answers and pushes waited for it: with 50 typists COMMIT took 0.4 ms at the median and
// 12 ms at p99, up to 20 ms (a temporary timer around COMMIT in bench:clients).
//
// So a second connection, in a worker, runs a PASSIVE checkpoint every CHECKPOINT_MS while
// the main connection has committed since the last one. PASSIVE waits for no one: it
// copies what is committed when it starts, and a page written many times meanwhile is
// copied once. When a checkpoint has copied everything, the next commit starts the WAL over
// from its beginning. But under steady typing a commit lands while the worker copies, so
// its checkpoints never finish and the WAL only grows (to 80 MB in one bench:clients run).
// The main connection's own automatic checkpoint, at MAIN_CHECKPOINT_PAGES, then copies the
// little the worker has not and finishes, on the main thread: its two syncs still take
// 3–8 ms, but once per MAIN_CHECKPOINT_PAGES. In a loop of 1,500 one-key submits through
// a real client (bench:lag) COMMIT's p99 went from 2.1–6.0 ms to 0.26–0.76 ms, and its
// total time from ~100 to ~65 ms per 500 commits (a temporary timer around COMMIT).
import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** How often the worker looks for commits to copy. */
export const CHECKPOINT_MS = 250;

/**
 * The main connection's own automatic checkpoint, in pages (SQLite's default is 1,000): a
 * WAL of at most ~33 MB. A one-key commit writes 12–20 pages, so at 2,000 one commit in
 * ~150 still waited for it.
 */
export const MAIN_CHECKPOINT_PAGES = 8_000;

const WRITTEN = 0; // 1 once the main connection committed since the worker last looked
const CLOSING = 1; // 1 once the worker is to close its connection and end

/** Plain JavaScript: the worker runs from this text (the backend also ships as one file). */
const WORKER_PROGRAM = String.raw`
"use strict";
const { workerData, parentPort } = require("node:worker_threads");
const Database = require(workerData.sqlite);
const state = new Int32Array(workerData.buffer);
const db = new Database(workerData.file, { timeout: 0 });
db.pragma("synchronous = NORMAL");
db.pragma("wal_autocheckpoint = 0");
let failing = false; // a checkpoint failed (not for a lock) since the last that worked: said once
for (;;) {
  Atomics.wait(state, ${CLOSING}, 0, ${CHECKPOINT_MS});
  if (Atomics.load(state, ${CLOSING}) === 1) break;
  if (Atomics.exchange(state, ${WRITTEN}, 0) === 0) continue;
  try {
    db.pragma("wal_checkpoint(PASSIVE)");
    failing = false;
  } catch (e) {
    // Busy (the main connection is checkpointing), or a full or failing disk: the WAL
    // keeps the commits meanwhile, and the next look tries again.
    Atomics.store(state, ${WRITTEN}, 1);
    if (e.code !== "SQLITE_BUSY" && e.code !== "SQLITE_LOCKED") {
      if (!failing) parentPort.postMessage(String(e.message));
      failing = true;
    }
  }
}
db.close();
`;

export class Checkpointer {
  private readonly state = new Int32Array(new SharedArrayBuffer(8));
  private readonly worker: Worker;
  private readonly exited: Promise<void>;

  /**
   * `file`: the database, already in WAL mode. `onError` hears why the worker stopped, if
   * it does; a checkpoint that fails (a full disk) is retried, and said on stderr once.
   */
  constructor(file: string, onError: (error: Error) => void) {
    const sqlite = createRequire(import.meta.url).resolve("better-sqlite3");
    this.worker = new Worker(WORKER_PROGRAM, {
      eval: true,
      workerData: { file, sqlite, buffer: this.state.buffer },
      name: "WAL checkpointer",
    });
    this.worker.on("error", onError);
    this.exited = new Promise((resolve) => this.worker.once("exit", () => resolve()));
    this.worker.on("message", (message: string) => {
      process.stderr.write(`[local backend] copying the WAL into the database failed, trying again every ${CHECKPOINT_MS} ms: ${message}\n`);
    });
    // After the listeners: a message listener refs the worker again.
    this.worker.unref();
  }

  /** The main connection committed: copy it with the next look. */
  written(): void {
    Atomics.store(this.state, WRITTEN, 1);
  }

  /** Asks the worker to close its connection and end; resolves once it has (see Storage.close). */
  close(): Promise<void> {
    Atomics.store(this.state, CLOSING, 1);
    Atomics.notify(this.state, CLOSING);
    // Held by the process until it ends: one exiting meanwhile would leave the close unsettled.
    this.worker.ref();
    return this.exited;
  }
}
