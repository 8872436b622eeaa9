/**
 * Each session's own entry in a shared PendingStore, and the hand-over of entries whose
 * session is gone.
 *
 * Two sessions must never share a clientId: the server dedupes by (clientId, seq), so the
 * second one's edits would be answered "applied" and vanish. So every session writes under
 * a key naming its note, its clientId and its holder (host, process id, and a token for the
 * session within the process):
 *
 *     <spaceId>/<noteId>#<clientId>#<host>:<pid>:<token>
 *
 * A closed session renames its entry to the holder "free"; a crashed one leaves its holder
 * behind, whose process is then gone. Either is an orphan, and a session opening the note
 * adopts it by renaming it to its own holder. The store's `move` is atomic, so of two
 * sessions adopting the same orphan one wins and the other looks for the next. Entries of
 * a live process, or of another machine sharing the folder, are never taken.
 */
import { hostname } from "node:os";
import { describeError } from "../sync/describeError";
import type { PendingStore } from "./pendingStore";

const FREE = "free";
/** Written by the one-entry-per-note store of earlier versions: `<spaceId>/<noteId>` alone. */
const LEGACY_CLIENT = "legacy";

/** Tokens of the entries held by sessions of this process. */
const heldHere = new Set<string>();
let lastToken = 0;

function newHolder(): { holder: string; token: string } {
  lastToken += 1;
  const token = `${lastToken.toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  heldHere.add(token);
  return { holder: `${hostname()}:${process.pid}:${token}`, token };
}

/** Whether the session named by `holder` may still be writing its entry. */
function holderAlive(holder: string): boolean {
  if (holder === FREE) return false;
  const parts = holder.split(":");
  const [host, pidText, token] = [parts.slice(0, -2).join(":"), parts.at(-2), parts.at(-1) ?? ""];
  if (host !== hostname()) return true;
  const pid = Number(pidText);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return heldHere.has(token);
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

interface EntryKey {
  readonly note: string;
  readonly clientId: string;
  readonly holder: string;
}

function keyOf(k: EntryKey): string {
  return `${k.note}#${k.clientId}#${k.holder}`;
}

function parseKey(key: string): EntryKey | undefined {
  const parts = key.split("#");
  if (parts.length === 1) return { note: key, clientId: LEGACY_CLIENT, holder: FREE };
  if (parts.length !== 3) return undefined;
  const [note, clientId, holder] = parts as [string, string, string];
  return { note, clientId, holder };
}

export type PendingLog = (message: string) => void;

/** One session's entry: what it restored (if it adopted one), and where it saves from now on. */
export class PendingEntry {
  private key: string | undefined;
  private unsaved: { clientId: string; value: string | undefined } | undefined;
  private released = false;
  private failing = false;

  private constructor(
    private readonly store: PendingStore,
    private readonly note: string,
    private readonly holder: string,
    private readonly token: string,
    private readonly log: PendingLog,
    /** The value an earlier session left, when this entry adopted it. */
    readonly restored: string | undefined,
    adoptedKey: string | undefined,
  ) {
    this.key = adoptedKey;
  }

  /**
   * The entry for a session opening `note` ("spaceId/noteId"): an orphan adopted with its
   * edits when there is one, else an empty one of its own.
   */
  static open(store: PendingStore, note: string, log: PendingLog = () => {}): PendingEntry {
    return PendingEntry.adoptOrphan(store, note, log) ?? PendingEntry.fresh(store, note, log);
  }

  /** An orphaned entry of `note`, now held by the caller; undefined when there is none left. */
  static adoptOrphan(store: PendingStore, note: string, log: PendingLog = () => {}): PendingEntry | undefined {
    for (const key of store.keys()) {
      const parsed = parseKey(key);
      if (parsed === undefined || parsed.note !== note || holderAlive(parsed.holder)) continue;
      const { holder, token } = newHolder();
      const mine = keyOf({ note, clientId: parsed.clientId, holder });
      if (!store.move(key, mine)) {
        heldHere.delete(token);
        continue; // another session adopted it first
      }
      const value = store.load(mine);
      if (value === undefined) {
        heldHere.delete(token);
        continue;
      }
      log(`Adopted unconfirmed edits of note ${note} left by session ${parsed.clientId}.`);
      return new PendingEntry(store, note, holder, token, log, value, mine);
    }
    return undefined;
  }

  private static fresh(store: PendingStore, note: string, log: PendingLog): PendingEntry {
    const { holder, token } = newHolder();
    return new PendingEntry(store, note, holder, token, log, undefined, undefined);
  }

  /**
   * Keeps `value` (the session's unconfirmed edits under `clientId`), or forgets the entry
   * when undefined. A store that fails (a full disk) does not fail the session: the value
   * is kept and written with the next save or at release, and the failure is logged once.
   */
  save(clientId: string, value: string | undefined): void {
    if (this.released) return;
    this.unsaved = { clientId, value };
    this.writeUnsaved();
  }

  /** The session closes: its entry, if any, becomes an orphan for the next session to adopt. */
  release(): void {
    if (this.released) return;
    this.writeUnsaved();
    this.released = true;
    heldHere.delete(this.token);
    if (this.key === undefined) return;
    const parsed = parseKey(this.key);
    if (parsed === undefined) return;
    try {
      this.store.move(this.key, keyOf({ ...parsed, holder: FREE }));
    } catch (err) {
      // Left under our holder it is still adopted once this process is gone.
      this.log(`Could not hand over the unconfirmed edits of note ${this.note}: ${describeError(err)}`);
    }
  }

  private writeUnsaved(): void {
    const pending = this.unsaved;
    if (pending === undefined) return;
    const key = keyOf({ note: this.note, clientId: pending.clientId, holder: this.holder });
    try {
      this.store.save(key, pending.value);
      if (this.key !== undefined && this.key !== key) this.store.save(this.key, undefined);
      this.key = pending.value === undefined ? undefined : key;
      this.unsaved = undefined;
      if (this.failing) this.log(`Saving the unconfirmed edits of note ${this.note} works again.`);
      this.failing = false;
    } catch (err) {
      if (!this.failing) {
        this.log(`Could not save the unconfirmed edits of note ${this.note} (kept in memory; retried with the next change): ${describeError(err)}`);
      }
      this.failing = true;
    }
  }
}
