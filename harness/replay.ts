/**
 * Replays a concurrent editing trace through the real engine:
 *
 *   npm run replay -- <trace.json.gz> [--seed N] [--extra P] [--no-checksums]
 *
 * One SyncClient per agent talks to one in-memory server (sync/sequencer.ts, the same
 * steps as the Convex submit). Each txn of the trace is a local edit of its agent's
 * client; the server orders submissions; ops reach clients in rev order only, and a
 * client's own op comes back in that stream as its ack. Exit code 0 only when the server
 * and every client end with the trace's endContent.
 *
 * Why positions are mapped rather than delivered "exactly"
 * --------------------------------------------------------
 * A txn's patches are positions in the merge of its `parents`. The obvious replay gives
 * each client, before each of its txns, exactly the remote ops those parents include. With
 * the engine run with one op in flight (as here: later edits composed into one buffer, the stream
 * as the ack) that cannot be done for every causal graph:
 *   - to send its buffer, a client must receive its ack, hence every rev before it, which
 *     can include ops of peers that its next txn has not seen;
 *   - a composed buffer becomes one rev, so an agent that needs the first of the buffered
 *     txns but not the second cannot be given one without the other;
 *   - with three or more agents, one server order cannot be a prefix-respecting order for
 *     every agent at once (A needs B1 but not C1 while D needs C1 but not B1).
 * So a client's text before a txn contains everything the txn's parents include (we make
 * sure of that) and possibly more: concurrent ops it received early. The txn's patches are
 * then mapped from "the merge of its parents" to "this client's text", which is exactly
 * what a real editor does when a user types while remote edits land.
 *
 * The mapping uses an independent model, not the engine: every character ever inserted
 * stays in one list (deleted ones as tombstones) with the txn that inserted it and the
 * txns that deleted it. A set of txns (a "view") sees a character if it holds the
 * inserting txn and none of the deleting ones. A patch's position counts characters seen
 * by the txn's own view (its ancestors and itself); the op for the client counts the
 * UTF-16 units seen by the client's view. Views are version vectors: each agent's txns
 * form a chain (an agent's txn descends from its previous one), so "which txns of agent X"
 * is a count. An agent whose txns are not a chain is split into several chains ("lanes"),
 * one client each, so any trace of the format works. The model's order of characters is
 * ambiguous only for concurrent inserts at one position, which the traces exclude.
 *
 * The schedule: submissions reach the server at once; revs reach a client lazily — just
 * what its next txn needs — plus, with probability --extra (seeded), a few more, so the
 * replay exercises both the exact case and the mapped one. When a txn needs a peer's txn
 * still in that peer's buffer, the peer receives revs up to its ack, which sends the
 * buffer. At the end every client receives everything. The engine decides every merge;
 * the model only says where each keystroke of the trace was meant to go.
 */
import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { Sequencer } from "../sync/sequencer";
import { SyncClient, type Submission } from "../sync/syncClient";
import { compose, identity, OpBuilder, type TextOp } from "../sync/textOp";
import { Random } from "./random";
import { hasAstral, isConcurrent, loadTrace, type ConcurrentTrace, type ConcurrentTxn, type SequentialTrace } from "./traces";

export interface ReplayOptions {
  /** Seed for the extra deliveries. Default 1. */
  readonly seed?: number;
  /** Chance, before each txn, that its client receives a few revs beyond what it needs. Default 0.3. */
  readonly extra?: number;
  /** Publish and verify a checksum with every rev. Default true. */
  readonly checksums?: boolean;
}

export interface ReplayResult {
  readonly ok: boolean;
  readonly endContent: string;
  readonly serverText: string;
  readonly clientTexts: readonly { readonly clientId: string; readonly text: string }[];
  readonly stats: {
    readonly txns: number;
    readonly agents: number;
    readonly lanes: number;
    readonly revs: number;
    readonly mappedTxns: number;
    readonly extraDeliveries: number;
    readonly forcedFlushes: number;
    readonly ms: number;
  };
}

/** Chains of txns: the replay's unit of "one client". */
interface Lanes {
  readonly laneOf: Int32Array;
  readonly indexInLane: Int32Array;
  /** ancestors(txn) as counts per lane (the txn itself excluded). */
  readonly ancestors: readonly number[][];
  readonly agentOf: readonly number[];
  readonly count: number;
}

function planLanes(txns: readonly ConcurrentTxn[]): Lanes {
  const laneOf = new Int32Array(txns.length);
  const indexInLane = new Int32Array(txns.length);
  const ancestors: number[][] = [];
  const closures: number[][] = [];
  const laneLength: number[] = [];
  const agentOf: number[] = [];
  const lanesOfAgent = new Map<number, number[]>();
  txns.forEach((txn, t) => {
    const need: number[] = [];
    for (const p of txn.parents) {
      if (!Number.isInteger(p) || p < 0 || p >= t) throw new Error(`txn ${t} names parent ${p}, which does not come before it`);
      const closure = closures[p] as number[];
      for (let l = 0; l < closure.length; l++) need[l] = Math.max(need[l] ?? 0, closure[l] ?? 0);
    }
    const own = lanesOfAgent.get(txn.agent) ?? [];
    // Continue a chain of this agent whose last txn this one descends from.
    let lane = own.find((l) => (need[l] ?? 0) === laneLength[l]);
    if (lane === undefined) {
      lane = laneLength.length;
      laneLength.push(0);
      agentOf.push(txn.agent);
      own.push(lane);
      lanesOfAgent.set(txn.agent, own);
    }
    laneOf[t] = lane;
    indexInLane[t] = laneLength[lane] as number;
    laneLength[lane] = (laneLength[lane] as number) + 1;
    const closure = need.slice();
    closure[lane] = (indexInLane[t] as number) + 1;
    ancestors.push(need);
    closures.push(closure);
  });
  return { laneOf, indexInLane, ancestors, agentOf, count: laneLength.length };
}

/**
 * Every character ever inserted, deleted ones kept, with who inserted and deleted it —
 * as (lane, index in lane) pairs, so "does this view hold that txn" is one comparison.
 * Struct of arrays; lane -1 stands for the trace's startContent, held by every view.
 * Views are dense arrays: txns held per lane.
 */
class CharacterModel {
  private insLane: number[] = [];
  private insIndex: number[] = [];
  private width: number[] = [];
  /** The first txn that deleted the character (lane -1: none). */
  private delLane: number[] = [];
  private delIndex: number[] = [];
  private id: number[] = [];
  private nextId = 0;
  /** Further deleters of a character deleted concurrently more than once, by character id. */
  private readonly moreDeleters = new Map<number, number[]>();

  constructor(
    private readonly lanes: Lanes,
    startContent: string,
  ) {
    this.insertAt(0, -1, 0, startContent);
  }

  /** Adds the characters of `text`, inserted by the txn at (lane, index), before character i. */
  private insertAt(i: number, lane: number, index: number, text: string): void {
    const widths = Array.from(text, (ch) => ch.length);
    if (widths.length === 0) return;
    const k = widths.length;
    this.insLane = spliceIn(this.insLane, i, new Array<number>(k).fill(lane));
    this.insIndex = spliceIn(this.insIndex, i, new Array<number>(k).fill(index));
    this.width = spliceIn(this.width, i, widths);
    this.delLane = spliceIn(this.delLane, i, new Array<number>(k).fill(-1));
    this.delIndex = spliceIn(this.delIndex, i, new Array<number>(k).fill(0));
    this.id = spliceIn(this.id, i, widths.map(() => this.nextId++));
  }

  private sees(view: readonly number[], i: number): boolean {
    const il = this.insLane[i] as number;
    if (il >= 0 && (this.insIndex[i] as number) >= (view[il] as number)) return false;
    const dl = this.delLane[i] as number;
    if (dl < 0) return true;
    if ((this.delIndex[i] as number) < (view[dl] as number)) return false;
    const more = this.moreDeleters.get(this.id[i] as number);
    if (more === undefined) return true;
    const { laneOf, indexInLane } = this.lanes;
    return !more.some((t) => (indexInLane[t] as number) < (view[laneOf[t] as number] as number));
  }

  /**
   * Records patch [pos, del, ins] of `txn`, positions in code points of what `txnView`
   * sees, and returns it as an op on the text `clientView` sees (`clientLength` units).
   */
  patch(txn: number, [pos, del, ins]: readonly [number, number, string], txnView: readonly number[], clientView: readonly number[], clientLength: number): TextOp {
    const n = this.insLane.length;
    const width = this.width;
    let i = 0;
    let seenByTxn = 0;
    let clientUnits = 0;
    while (seenByTxn < pos) {
      if (i >= n) throw new Error(`txn ${txn}: position ${pos} is past the end of its text`);
      if (this.sees(txnView, i)) seenByTxn += 1;
      if (this.sees(clientView, i)) clientUnits += width[i] as number;
      i += 1;
    }
    const b = new OpBuilder().retain(clientUnits).insert(ins);
    let consumed = clientUnits;
    let left = del;
    let j = i;
    while (left > 0) {
      if (j >= n) throw new Error(`txn ${txn}: deleting ${del} at ${pos} runs past the end of its text`);
      const w = width[j] as number;
      const forClient = this.sees(clientView, j);
      if (this.sees(txnView, j)) {
        if (forClient) b.delete(w);
        this.markDeleted(j, txn);
        left -= 1;
      } else if (forClient) {
        b.retain(w); // text the txn did not know of, inside the range it deletes: it stays
      }
      if (forClient) consumed += w;
      j += 1;
    }
    b.retain(clientLength - consumed);
    this.insertAt(i, this.lanes.laneOf[txn] as number, this.lanes.indexInLane[txn] as number, ins);
    return b.build();
  }

  private markDeleted(i: number, txn: number): void {
    if ((this.delLane[i] as number) < 0) {
      this.delLane[i] = this.lanes.laneOf[txn] as number;
      this.delIndex[i] = this.lanes.indexInLane[txn] as number;
      return;
    }
    const key = this.id[i] as number;
    const more = this.moreDeleters.get(key) ?? [];
    more.push(txn);
    this.moreDeleters.set(key, more);
  }
}

/** `items` inserted before index i: in place for small batches, by copying for large ones (spread has an argument limit). */
function spliceIn(array: number[], i: number, items: number[]): number[] {
  if (items.length <= 4096) {
    array.splice(i, 0, ...items);
    return array;
  }
  return array.slice(0, i).concat(items, array.slice(i));
}

interface LaneClient {
  readonly sync: SyncClient;
  /** Which txns (counts per lane) this client's text holds. */
  readonly view: number[];
  /** The lane's own txns in the submission in flight, and in the buffer. */
  inflight: number[];
  buffer: number[];
  /** How many of the lane's txns the server has sequenced. */
  sequenced: number;
}

function asConcurrent(trace: SequentialTrace | ConcurrentTrace): { txns: readonly ConcurrentTxn[]; startContent: string; agents: number } {
  if (isConcurrent(trace)) return { txns: trace.txns, startContent: "", agents: trace.numAgents };
  // A sequential trace is one agent whose every txn follows the previous one.
  const txns = trace.txns.map((t, i) => ({ parents: i === 0 ? [] : [i - 1], agent: 0, patches: t.patches }));
  return { txns, startContent: trace.startContent, agents: 1 };
}

export function replayTrace(trace: SequentialTrace | ConcurrentTrace, options: ReplayOptions = {}): ReplayResult {
  const started = performance.now();
  const rng = new Random(options.seed ?? 1);
  const extra = options.extra ?? 0.3;
  const { txns, startContent, agents } = asConcurrent(trace);
  const lanes = planLanes(txns);
  // One client that sees only its own edits never needs mapping, and without astral
  // characters code points are code units: then the patches apply as they are (the model's
  // scan is linear per patch, which long single-author traces would feel).
  const direct = lanes.count === 1 && !hasAstral([startContent, ...txns.flatMap((t) => t.patches.map((p) => p[2]))]);
  const model = direct ? undefined : new CharacterModel(lanes, startContent);
  const server = new Sequencer(startContent, { checksums: options.checksums ?? true });
  /** The txns each rev carries. */
  const revTxns: number[][] = [[]];
  const clientIdOf = (lane: number): string => {
    const agent = lanes.agentOf[lane] as number;
    const sameAgent = lanes.agentOf.slice(0, lane).filter((a) => a === agent).length;
    return `agent-${String(agent).padStart(4, "0")}${sameAgent > 0 ? `.${sameAgent}` : ""}`;
  };
  const clients: LaneClient[] = Array.from({ length: lanes.count }, (_, lane) => ({
    // One op in flight, as the header reasons about; pipelining is covered by the fuzz tests.
    sync: new SyncClient({ clientId: clientIdOf(lane), rev: 0, text: startContent, maxInFlight: 1 }),
    view: new Array<number>(lanes.count).fill(0),
    inflight: [],
    buffer: [],
    sequenced: 0,
  }));
  let mappedTxns = 0;
  let extraDeliveries = 0;
  let forcedFlushes = 0;

  const laneClient = (lane: number): LaneClient => clients[lane] as LaneClient;

  const submit = (lane: number, sub: Submission, carried: number[]): void => {
    const { rev, applied } = server.submit(sub);
    if (!applied) throw new Error(`submission ${sub.clientId}#${sub.seq} was taken as a duplicate`);
    revTxns[rev] = carried;
    laneClient(lane).sequenced += carried.length;
  };

  /** Delivers the next rev to the client of `lane`. */
  const deliverNext = (lane: number): void => {
    const c = laneClient(lane);
    const rev = c.sync.rev + 1;
    const outcome = c.sync.receive(server.op(rev));
    for (const t of revTxns[rev] ?? []) {
      const l = lanes.laneOf[t] as number;
      c.view[l] = Math.max(c.view[l] as number, (lanes.indexInLane[t] as number) + 1);
    }
    switch (outcome.kind) {
      case "remote":
        break;
      case "confirmed":
        c.inflight = [];
        if (outcome.next) {
          c.inflight = c.buffer;
          c.buffer = [];
          submit(lane, outcome.next, c.inflight);
        }
        break;
      default:
        throw new Error(`${c.sync.clientId} took rev ${rev} as ${outcome.kind}: ${JSON.stringify(outcome)}`);
    }
  };

  txns.forEach((txn, t) => {
    const lane = lanes.laneOf[t] as number;
    const me = laneClient(lane);
    const need = lanes.ancestors[t] as number[];
    for (let l = 0; l < need.length; l++) {
      if (l === lane || (need[l] ?? 0) === 0) continue;
      // The peer's txns we need may still sit in its buffer: let it hear its ack and send them.
      const peer = laneClient(l);
      if (peer.sequenced < (need[l] as number)) forcedFlushes += 1;
      while (peer.sequenced < (need[l] as number)) deliverNext(l);
      while ((me.view[l] as number) < (need[l] as number)) deliverNext(lane);
    }
    if (extra > 0 && rng.chance(extra)) {
      for (let k = 1 + rng.int(4); k > 0 && me.sync.rev < server.head; k--) {
        deliverNext(lane);
        extraDeliveries += 1;
      }
    }
    const own = (lanes.indexInLane[t] as number) + 1;
    const txnView = Array.from({ length: lanes.count }, (_, l) => need[l] ?? 0);
    txnView[lane] = own;
    me.view[lane] = own;
    if (me.view.some((v, l) => v !== txnView[l])) mappedTxns += 1;
    let length = me.sync.length;
    let op: TextOp = identity(length);
    for (const p of txn.patches) {
      const step = model ? model.patch(t, p, txnView, me.view, length) : new OpBuilder().retain(p[0]).insert(p[2]).delete(p[1]).retain(length - p[0] - p[1]).build();
      op = compose(op, step);
      length = targetLengthOf(step, length);
    }
    const sub = me.sync.applyLocal(op);
    if (sub) {
      me.inflight = [t];
      submit(lane, sub, me.inflight);
    } else {
      me.buffer.push(t);
    }
  });

  // Everyone hears everything; acks send the last buffers, which everyone hears too.
  for (let settled = false; !settled; ) {
    settled = true;
    for (let lane = 0; lane < clients.length; lane++) {
      while (laneClient(lane).sync.rev < server.head) {
        deliverNext(lane);
        settled = false;
      }
    }
  }

  const serverText = server.text;
  const clientTexts = clients.map((c) => ({ clientId: c.sync.clientId, text: c.sync.text }));
  const ok = serverText === trace.endContent && clientTexts.every((c) => c.text === trace.endContent) && clients.every((c) => c.sync.pendingCount === 0);
  return {
    ok,
    endContent: trace.endContent,
    serverText,
    clientTexts,
    stats: {
      txns: txns.length,
      agents,
      lanes: lanes.count,
      revs: server.head,
      mappedTxns,
      extraDeliveries,
      forcedFlushes,
      ms: performance.now() - started,
    },
  };
}

function targetLengthOf(op: TextOp, base: number): number {
  let n = base;
  for (const c of op) {
    if (typeof c === "string") n += c.length;
    else if (c < 0) n += c;
  }
  return n;
}

/** Where two texts first differ, for the failure message. */
function firstDifference(a: string, b: string): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

function main(argv: readonly string[]): number {
  const args = [...argv];
  const file = args.find((a) => !a.startsWith("--") && !/^\d/.test(a));
  const value = (flag: string): string | undefined => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  if (!file) {
    console.error("usage: npm run replay -- <trace.json.gz> [--seed N] [--extra P] [--no-checksums]");
    return 2;
  }
  const trace = loadTrace(resolve(file));
  const result = replayTrace(trace, {
    seed: Number(value("--seed") ?? 1),
    extra: Number(value("--extra") ?? 0.3),
    checksums: !args.includes("--no-checksums"),
  });
  const s = result.stats;
  console.log(
    `${file}: ${s.txns} txns by ${s.agents} agents (${s.lanes} clients), ${s.revs} revs, ` +
      `${s.mappedTxns} txns typed over ops their parents had not seen, ${s.extraDeliveries} early deliveries, ` +
      `${s.forcedFlushes} buffers flushed on demand, ${s.ms.toFixed(0)} ms`,
  );
  const report = (who: string, text: string): void => {
    const same = text === result.endContent;
    const at = firstDifference(text, result.endContent);
    console.log(`  ${who.padEnd(16)} ${same ? "= endContent" : `differs from endContent at ${at}: ${JSON.stringify(text.slice(at, at + 40))}`} (${text.length} code units)`);
  };
  report("server", result.serverText);
  for (const c of result.clientTexts) report(c.clientId, c.text);
  console.log(result.ok ? "OK: the server and every client end with endContent" : "FAILED");
  return result.ok ? 0 : 1;
}

const entry = process.argv[1];
if (entry && /harness[\\/]replay\.(ts|mjs|js)$/.test(safeRealpath(entry))) {
  process.exitCode = main(process.argv.slice(2));
}

function safeRealpath(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}
