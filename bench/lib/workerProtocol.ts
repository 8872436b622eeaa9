/** Messages between bench/clients.ts and the bench/clientWorker.ts processes (over IPC). */

export type System = "ours" | "yjs";

/** Where the clients of one row connect, per system. */
export type Target =
  | { system: "ours"; url: string; spaceId: string; key: string; noteId: string }
  | { system: "yjs"; url: string; room: string };

export type ToWorker =
  | {
      type: "setup";
      target: Target;
      /** Global indexes (0..clients-1) of the clients this process hosts. */
      clients: number[];
      totalClients: number;
      keysPerClient: number;
      /** Record frame timestamps for the hop breakdown (ours only). */
      trace: boolean;
    }
  | { type: "start"; t0: number; keysPerSecond: number }
  | { type: "stop" };

/** One key typed: its code point, the client that typed it, when (monotonic ms), how late against the schedule. */
export type Typed = { code: number; client: number; at: number; lateMs: number };
/** One key seen applied by another client. */
export type Arrival = { code: number; client: number; at: number };
/** A line a session logged (a recovery, a refused edit): rare, and each one explains a stall. */
export type SessionLog = { client: number; at: number; message: string };
/** Trace of one client's socket: first time each bench key left in a Mutation frame / arrived in a Transition. */
export type ClientFrames = { client: number; sent: Array<[code: number, at: number]>; received: Array<[code: number, at: number]> };

export type FromWorker =
  | { type: "ready" }
  | { type: "setupDone" }
  | {
      type: "result";
      typed: Typed[];
      arrivals: Arrival[];
      /** Each hosted client's final text, for the convergence check. */
      texts: Array<{ client: number; text: string }>;
      frames: ClientFrames[];
      /** What the sessions logged since setup. */
      logs: SessionLog[];
      /** Bytes the hosted clients' sockets received from "start" to "stop". */
      bytesIn: number;
      pid: number;
    }
  | { type: "error"; message: string };

/** Bench keys are private-use characters, so every key is unique and easy to spot in any frame. */
export const FIRST_CODE = 0xe000;
export const CODE_SPACE = 0x1900;

export function isBenchCode(code: number): boolean {
  return code >= FIRST_CODE && code < FIRST_CODE + CODE_SPACE;
}

/** Every bench key in a string, in order (first occurrence only). */
export function benchCodesIn(text: string): number[] {
  const seen = new Set<number>();
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isBenchCode(c)) seen.add(c);
  }
  return [...seen];
}
