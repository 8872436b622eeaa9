// SQLite behind a narrow interface. Documents live in `documents` (latest version only:
// the engine writes one transaction at a time; a mutation parked around an outside wait
// keeps its writes as a journal meanwhile, not as a snapshot). Every index, including the
// implicit by_id and by_creation_time, is a set of rows in `index_entries` keyed by (index
// name, order-preserving key), so an index range read is a primary-key range scan.
//
// Durability: every commit group is on disk before any of its responses leaves the
// process. A client drops an edit from its pending store once the server acknowledges it,
// so an acknowledged commit must survive a power loss or an operating-system crash too, not
// only a crash of this process. WAL with synchronous=NORMAL writes a commit to the WAL
// without syncing it (checkpoints, on a worker of their own in checkpointer.ts, still
// sync the WAL before copying it into the database, and the database after); `durable()`
// then syncs the WAL on libuv's thread pool. That is synchronous=FULL's guarantee, but
// the worker re-runs the subscribed queries and runs the next commit group while the disk
// works (about 1 ms of a keystroke's path on this machine) instead of waiting for it;
// what is sent waits for the sync (engine.ts, `afterDurable`). (Syncing on the worker
// itself, after the re-runs, left 50 typists 5 s behind where this keeps them within a
// second: bench:clients.)
import Database from "better-sqlite3";
import { chmodSync, closeSync, fdatasync, mkdirSync, openSync } from "node:fs";
import path from "node:path";
import { Checkpointer, MAIN_CHECKPOINT_PAGES } from "./checkpointer.js";

export type IndexEntry = { index: string; key: Buffer };
export type ScannedRow = { key: Buffer; json: string };

/** One write, as recorded in a journal to be undone and redone (a mutation parked around an outside wait). */
export type StorageOp =
  | { op: "table"; name: string; num: number }
  | { op: "index"; name: string; fields: string }
  | { op: "put"; id: string; table: number; json: string }
  | { op: "delete"; id: string }
  | { op: "entry+"; entry: IndexEntry; id: string }
  | { op: "entry-"; entry: IndexEntry };

/** A journal cannot be redone: a table it created was created again by someone else meanwhile. */
export class ReplayClash extends Error {}

export class Storage {
  private db: Database.Database;
  private stmts;
  private readonly walPath: string;
  /** The WAL, opened at the first `durable()` (SQLite creates it with the first write). */
  private walFd: number | null = null;
  private tableNumbers = new Map<string, number>();
  private tableNames = new Map<number, string>();
  private readonly checkpointer: Checkpointer;
  /** While set, every write is also recorded here (see StorageOp). */
  journal: StorageOp[] | null = null;

  constructor(dataDir: string) {
    // Only the user running the backend may read its data (a shared machine has others).
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    chmodSync(dataDir, 0o700);
    const file = path.join(dataDir, "shared-notes.sqlite3");
    closeSync(openSync(file, "a", 0o600));
    chmodSync(file, 0o600);
    // SQLite gives its -wal and -shm files the database file's permissions. A lock held by
    // someone else fails fast (and is answered as retryable) instead of freezing the server.
    this.db = new Database(file, { timeout: 50 });
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma(`wal_autocheckpoint = ${MAIN_CHECKPOINT_PAGES}`);
    this.walPath = `${file}-wal`;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tables (number INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
      CREATE TABLE IF NOT EXISTS documents (
        id TEXT PRIMARY KEY, table_number INTEGER NOT NULL, json TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS index_entries (
        index_name TEXT NOT NULL, key BLOB NOT NULL, id TEXT NOT NULL,
        PRIMARY KEY (index_name, key)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS indexes (name TEXT PRIMARY KEY, fields TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS requests (
        session_id TEXT NOT NULL, request_id INTEGER NOT NULL, response TEXT NOT NULL,
        PRIMARY KEY (session_id, request_id)) WITHOUT ROWID;
    `);
    const requestColumns = this.db.prepare<[], { name: string }>("SELECT name FROM pragma_table_info('requests')").all();
    if (!requestColumns.some((c) => c.name === "created_at")) {
      this.db.exec("ALTER TABLE requests ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0");
    }
    // The key comes as hex text: SQLite hands a BLOB over as a Buffer of its own, which cost
    // more than the row's other work (a submit reads hundreds of rows when it is behind).
    const scanSql = (dir: "ASC" | "DESC", columns = "hex(e.key), d.json") =>
      `SELECT ${columns} FROM index_entries e
       JOIN documents d ON d.id = e.id
       WHERE e.index_name = ? AND e.key >= ? AND e.key < ? ORDER BY e.key ${dir} LIMIT ?`;
    this.stmts = {
      getMeta: this.db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?"),
      setMeta: this.db.prepare<[string, string]>(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
      ),
      allTables: this.db.prepare<[], { number: number; name: string }>("SELECT number, name FROM tables"),
      addTable: this.db.prepare<[number, string]>("INSERT INTO tables (number, name) VALUES (?, ?)"),
      getDoc: this.db.prepare<[string], { json: string; table_number: number }>(
        "SELECT json, table_number FROM documents WHERE id = ?",
      ),
      putDoc: this.db.prepare<[string, number, string]>(
        "INSERT INTO documents (id, table_number, json) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET json = excluded.json",
      ),
      deleteDoc: this.db.prepare<[string]>("DELETE FROM documents WHERE id = ?"),
      docsOfTable: this.db.prepare<[number], { json: string }>("SELECT json FROM documents WHERE table_number = ?"),
      putEntry: this.db.prepare<[string, Buffer, string]>(
        "INSERT INTO index_entries (index_name, key, id) VALUES (?, ?, ?)",
      ),
      deleteEntry: this.db.prepare<[string, Buffer]>("DELETE FROM index_entries WHERE index_name = ? AND key = ?"),
      dropIndex: this.db.prepare<[string]>("DELETE FROM index_entries WHERE index_name = ?"),
      scanAsc: this.db.prepare<[string, Buffer, Buffer, number], [string, string]>(scanSql("ASC")).raw(true),
      scanDesc: this.db.prepare<[string, Buffer, Buffer, number], [string, string]>(scanSql("DESC")).raw(true),
      scanIdsAsc: this.db.prepare<[string, Buffer, Buffer, number], [string, string, string]>(scanSql("ASC", "hex(e.key), d.json, e.id")).raw(true),
      scanIdsDesc: this.db.prepare<[string, Buffer, Buffer, number], [string, string, string]>(scanSql("DESC", "hex(e.key), d.json, e.id")).raw(true),
      count: this.db.prepare<[string], { n: number }>("SELECT count(*) AS n FROM index_entries WHERE index_name = ?"),
      allIndexes: this.db.prepare<[], { name: string; fields: string }>("SELECT name, fields FROM indexes"),
      putIndex: this.db.prepare<[string, string]>(
        "INSERT INTO indexes (name, fields) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET fields = excluded.fields",
      ),
      deleteIndex: this.db.prepare<[string]>("DELETE FROM indexes WHERE name = ?"),
      getRequest: this.db.prepare<[string, number], { response: string }>(
        "SELECT response FROM requests WHERE session_id = ? AND request_id = ?",
      ),
      putRequest: this.db.prepare<[string, number, string, number]>(
        "INSERT OR REPLACE INTO requests (session_id, request_id, response, created_at) VALUES (?, ?, ?, ?)",
      ),
      pruneRequests: this.db.prepare<[number]>("DELETE FROM requests WHERE created_at < ?"),
      // Prepared, not exec'd: a commit group runs these for every mutation, and exec parses its SQL each time.
      begin: this.db.prepare("BEGIN IMMEDIATE"),
      commit: this.db.prepare("COMMIT"),
      savepoint: this.db.prepare("SAVEPOINT fn"),
      release: this.db.prepare("RELEASE fn"),
    };
    for (const row of this.stmts.allTables.all()) {
      this.tableNumbers.set(row.name, row.number);
      this.tableNames.set(row.number, row.name);
    }

    // Last: it is closed only by close().
    this.checkpointer = new Checkpointer(file, (error) => {
      // SQLite's own checkpoint, inside COMMIT, from now on.
      if (this.db.open) this.db.pragma("wal_autocheckpoint = 1000");
      process.emitWarning(`Shared Notes: the WAL checkpointer failed (${String(error)}); COMMIT checkpoints from now on.`);
    });
  }

  /**
   * Closes the checkpointer's connection, then the main one. Closed last, the main one
   * copies the WAL into the database and removes it before it returns, so the database is
   * free once this resolves. (Two connections closing at once can each leave that to the
   * other; and a checkpointer closing last held the database locked after the backend,
   * restarting, had opened it again.)
   */
  async close(): Promise<void> {
    await this.checkpointer.close();
    if (this.walFd !== null) closeSync(this.walFd);
    this.walFd = null;
    this.db.close();
  }

  getMeta(key: string): string | undefined {
    return this.stmts.getMeta.get(key)?.value;
  }

  setMeta(key: string, value: string): void {
    this.stmts.setMeta.run(key, value);
  }

  tableNumber(name: string): number | undefined {
    return this.tableNumbers.get(name);
  }

  tableName(num: number): string | undefined {
    return this.tableNames.get(num);
  }

  /** Allocates a table number inside the current transaction; the caches are fixed up on rollback by `forgetTable`. */
  createTable(name: string): number {
    const num = this.tableNumbers.size === 0 ? 10001 : Math.max(...this.tableNames.keys()) + 1;
    this.stmts.addTable.run(num, name);
    this.journal?.push({ op: "table", name, num });
    this.tableNumbers.set(name, num);
    this.tableNames.set(num, name);
    return num;
  }

  forgetTable(name: string): void {
    const num = this.tableNumbers.get(name);
    if (num === undefined) return;
    this.tableNumbers.delete(name);
    this.tableNames.delete(num);
  }

  getDocument(id: string): { json: string; tableNumber: number } | undefined {
    const row = this.stmts.getDoc.get(id);
    return row && { json: row.json, tableNumber: row.table_number };
  }

  putDocument(id: string, tableNumber: number, json: string): void {
    this.stmts.putDoc.run(id, tableNumber, json);
    this.journal?.push({ op: "put", id, table: tableNumber, json });
  }

  deleteDocument(id: string): void {
    this.stmts.deleteDoc.run(id);
    this.journal?.push({ op: "delete", id });
  }

  documentsOfTable(tableNumber: number): string[] {
    return this.stmts.docsOfTable.all(tableNumber).map((r) => r.json);
  }

  addIndexEntry(entry: IndexEntry, id: string): void {
    this.stmts.putEntry.run(entry.index, entry.key, id);
    this.journal?.push({ op: "entry+", entry, id });
  }

  removeIndexEntry(entry: IndexEntry): void {
    this.stmts.deleteEntry.run(entry.index, entry.key);
    this.journal?.push({ op: "entry-", entry });
  }

  /** Up to `limit` rows of `index` with lo <= key < hi, in key order. */
  scan(index: string, lo: Buffer, hi: Buffer, order: "asc" | "desc", limit: number): ScannedRow[] {
    const stmt = order === "asc" ? this.stmts.scanAsc : this.stmts.scanDesc;
    return stmt.all(index, lo, hi, limit).map(([key, json]) => ({ key: Buffer.from(key, "hex"), json }));
  }

  /** `scan`, with each row's document id. */
  scanWithIds(index: string, lo: Buffer, hi: Buffer, order: "asc" | "desc", limit: number): Array<ScannedRow & { id: string }> {
    const stmt = order === "asc" ? this.stmts.scanIdsAsc : this.stmts.scanIdsDesc;
    return stmt.all(index, lo, hi, limit).map(([key, json, id]) => ({ key: Buffer.from(key, "hex"), json, id }));
  }

  countEntries(index: string): number {
    return this.stmts.count.get(index)?.n ?? 0;
  }

  storedIndexes(): Map<string, string> {
    return new Map(this.stmts.allIndexes.all().map((r) => [r.name, r.fields]));
  }

  defineIndex(name: string, fieldsJson: string): void {
    this.stmts.dropIndex.run(name);
    this.stmts.putIndex.run(name, fieldsJson);
    this.journal?.push({ op: "index", name, fields: fieldsJson });
  }

  dropIndex(name: string): void {
    this.stmts.dropIndex.run(name);
    this.stmts.deleteIndex.run(name);
  }

  /** Redoes journaled writes (not journaling them again); refuses a table created again meanwhile. */
  replay(ops: readonly StorageOp[]): void {
    for (const op of ops) {
      switch (op.op) {
        case "table":
          if (this.tableNumbers.has(op.name) || this.tableNames.has(op.num)) throw new ReplayClash(`table ${op.name} was created meanwhile`);
          this.stmts.addTable.run(op.num, op.name);
          this.tableNumbers.set(op.name, op.num);
          this.tableNames.set(op.num, op.name);
          break;
        case "index":
          this.stmts.dropIndex.run(op.name);
          this.stmts.putIndex.run(op.name, op.fields);
          break;
        case "put":
          this.stmts.putDoc.run(op.id, op.table, op.json);
          break;
        case "delete":
          this.stmts.deleteDoc.run(op.id);
          break;
        case "entry+":
          this.stmts.putEntry.run(op.entry.index, op.entry.key, op.id);
          break;
        case "entry-":
          this.stmts.deleteEntry.run(op.entry.index, op.entry.key);
          break;
        default:
          op satisfies never;
      }
    }
  }

  getRequest(sessionId: string, requestId: number): string | undefined {
    return this.stmts.getRequest.get(sessionId, requestId)?.response;
  }

  putRequest(sessionId: string, requestId: number, response: string, now: number): void {
    this.stmts.putRequest.run(sessionId, requestId, response, now);
  }

  /** Forgets exactly-once answers recorded before `before` (ms); returns how many. */
  pruneRequests(before: number): number {
    return this.stmts.pruneRequests.run(before).changes;
  }

  begin(): void {
    this.stmts.begin.run();
  }

  /** Makes the transaction visible; `durable()` then puts it on disk. */
  commit(): void {
    this.stmts.commit.run();
    this.checkpointer.written();
  }

  /** Resolves once everything committed so far is on disk (see the header); rejects if the disk says no. */
  durable(): Promise<void> {
    if (this.walFd === null) {
      try {
        this.walFd = openSync(this.walPath, "r");
      } catch (err) {
        // No WAL yet: nothing was written since the database was opened.
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return Promise.resolve();
        return Promise.reject(err as Error);
      }
    }
    const fd = this.walFd;
    return new Promise((resolve, reject) =>
      fdatasync(fd, (err) => {
        if (!err) return resolve();
        // The next attempt opens the WAL afresh, in case this descriptor is what failed.
        if (this.walFd === fd) {
          this.walFd = null;
          try {
            closeSync(fd);
          } catch {
            // Already unusable: the failure being reported says why.
          }
        }
        reject(err);
      }),
    );
  }

  rollback(): void {
    if (this.db.inTransaction) this.db.exec("ROLLBACK");
  }

  savepoint(): void {
    this.stmts.savepoint.run();
  }

  releaseSavepoint(): void {
    this.stmts.release.run();
  }

  rollbackSavepoint(): void {
    this.db.exec("ROLLBACK TO fn; RELEASE fn");
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }
}
