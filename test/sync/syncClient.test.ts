import { describe, expect, it } from "vitest";
import { checksum } from "../../sync/checksum";
import { Sequencer } from "../../sync/sequencer";
import { SyncClient, positionBefore, type ServerOp } from "../../sync/syncClient";
import { apply } from "../../sync/textOp";

/** Two clients on one server; one op in flight each unless `maxInFlight` says otherwise. */
function pair(text = "hello", maxInFlight = 1): { server: Sequencer; a: SyncClient; b: SyncClient } {
  return {
    server: new Sequencer(text),
    a: new SyncClient({ clientId: "a", rev: 0, text, maxInFlight }),
    b: new SyncClient({ clientId: "b", rev: 0, text, maxInFlight }),
  };
}

describe("SyncClient", () => {
  it("goes Synchronized → AwaitingConfirm → AwaitingWithBuffer and back on acks from the stream", () => {
    const { server, a } = pair();
    expect(a.current.kind).toBe("synchronized");
    const first = a.applyLocal([5, "!"]);
    expect(first).toEqual({ clientId: "a", seq: 1, baseRev: 0, op: [5, "!"], prior: [] });
    expect(a.current.kind).toBe("awaitingConfirm");
    expect(a.applyLocal([6, "?"])).toBeUndefined();
    expect(a.applyLocal([7, "?"])).toBeUndefined();
    expect(a.current.kind).toBe("awaitingWithBuffer");
    expect(a.pendingOps).toEqual([[5, "!"], [6, "??"]]);
    server.submit(first!);
    const confirmed = a.receive(server.op(1));
    expect(confirmed).toEqual({ kind: "confirmed", next: { clientId: "a", seq: 2, baseRev: 1, op: [6, "??"], prior: [] } });
    expect(a.current.kind).toBe("awaitingConfirm");
    if (confirmed.kind !== "confirmed" || !confirmed.next) throw new Error("expected the buffer to go out");
    server.submit(confirmed.next);
    expect(a.receive(server.op(2))).toEqual({ kind: "confirmed" });
    expect(a.current.kind).toBe("synchronized");
    expect(a.text).toBe("hello!??");
    expect(a.serverText).toBe("hello!??");
  });

  it("transforms a remote op past what is in flight and buffered, and hands back the op for the editor", () => {
    const { server, a, b } = pair("ab");
    const subA = a.applyLocal([1, "X", 1])!;
    a.applyLocal([2, "Y", 1]); // buffered: "aXYb"
    server.submit(b.applyLocal(["<", 2])!);
    const outcome = a.receive(server.op(1));
    expect(outcome).toEqual({ kind: "remote", op: ["<", 4] });
    expect(a.text).toBe("<aXYb");
    server.submit(subA);
    const ack = a.receive(server.op(2));
    if (ack.kind !== "confirmed" || !ack.next) throw new Error("expected the buffer to go out");
    server.submit(ack.next);
    a.receive(server.op(3));
    expect(b.receive(server.op(1)).kind).toBe("confirmed");
    b.receive(server.op(2));
    b.receive(server.op(3));
    expect(server.text).toBe("<aXYb");
    expect(a.text).toBe(server.text);
    expect(b.text).toBe(server.text);
  });

  it("ignores revisions it has, reports a gap, and resends the op in flight with its seq", () => {
    const { server, a, b } = pair();
    const sub = a.applyLocal(["x", 5])!;
    server.submit(b.applyLocal([5, "y"])!);
    server.submit({ clientId: "c", seq: 1, baseRev: 1, op: [6, "z"], prior: [] });
    expect(a.receive(server.op(2))).toEqual({ kind: "gap", expected: 1 });
    a.receive(server.op(1));
    expect(a.receive(server.op(1))).toEqual({ kind: "duplicate" });
    const again = a.resend()[0]!;
    expect(again.seq).toBe(sub.seq);
    expect(again.baseRev).toBe(1);
    expect(server.submit(sub)).toEqual({ rev: 3, applied: true });
    expect(server.submit(again)).toEqual({ rev: 3, applied: false });
  });

  it("reports divergence on a checksum mismatch, changes nothing, and resync repairs keeping pending edits", () => {
    const a = new SyncClient({ clientId: "a", rev: 0, text: "hello" });
    a.applyLocal([5, " world"]);
    const bad: ServerOp = { rev: 1, clientId: "b", seq: 1, op: ["H", -1, 4], checksum: checksum("Jello") };
    const outcome = a.receive(bad);
    expect(outcome.kind).toBe("diverged");
    expect(a.rev).toBe(0);
    expect(a.serverText).toBe("hello");
    expect(a.text).toBe("hello world");
    // The server really has "Hello!" at rev 2; our in-flight op never reached it.
    const fix = a.replaceText("Hello!", 2, 0);
    expect(apply("hello world", fix)).toBe(a.text);
    expect(a.text).toBe("Hello! world");
    expect(a.rev).toBe(2);
    const again = a.resend()[0]!;
    expect(again.seq).toBe(2); // a fresh seq: the first one was never applied
    expect(apply("Hello!", again.op)).toBe("Hello! world");
  });

  it("resync with the op in flight already applied does not apply it twice", () => {
    const a = new SyncClient({ clientId: "a", rev: 0, text: "abc" });
    a.applyLocal([3, "d"]); // in flight
    a.applyLocal([4, "e"]); // buffered
    const fix = a.replaceText("abcd", 1, 1);
    expect(a.text).toBe("abcde");
    expect(apply("abcde", fix)).toBe("abcde");
    expect(a.pendingOps).toEqual([[4, "e"]]);
  });

  it("flags a malformed op; takes another writer's op under our (clientId, seq) as theirs, keeping ours pending", () => {
    const a = new SyncClient({ clientId: "a", rev: 0, text: "ab" });
    a.applyLocal([1, "x", 1]);
    expect(a.receive({ rev: 1, clientId: "b", seq: 1, op: [1, 1] }).kind).toBe("diverged");
    expect(a.receive({ rev: 1, clientId: "b", seq: 1, op: [5] }).kind).toBe("diverged");
    expect(a.text).toBe("axb");
    const foreign = a.receive({ rev: 1, clientId: "a", seq: 1, op: [2, "y"] });
    expect(foreign.kind).toBe("foreign");
    expect(a.text).toBe("axby");
    expect(a.pendingOps).toEqual([[1, "x", 2]]);
    // Moved to a fresh id, the edit goes out again from seq 1.
    a.renew("a2");
    expect(a.resend()).toEqual([{ clientId: "a2", seq: 1, baseRev: 1, op: [1, "x", 2], prior: [] }]);
  });

  it("takes a refused edit out of the text and moves later edits to apply without it", () => {
    const a = new SyncClient({ clientId: "a", rev: 0, text: "ab", maxInFlight: 2 });
    a.applyLocal([1, "XY", 1]); // seq 1
    a.applyLocal([3, "Z", 1]); // seq 2, on top of seq 1
    a.applyLocal([4, "!", 1]); // buffered
    const taken = a.reject(1);
    expect(taken?.lost).toBe("XY");
    expect(apply("aXYZ!b", taken!.correction)).toBe("aZ!b");
    expect(a.text).toBe("aZ!b");
    expect(a.serverText).toBe("ab");
    expect(a.resend()).toEqual([{ clientId: "a", seq: 2, baseRev: 0, op: [1, "Z", 1], prior: [] }]);
    expect(a.reject(1)).toBeUndefined();
  });

  it("keeps pending edits across a restart (snapshot → JSON → restore) and the server dedupes the resend", () => {
    const server = new Sequencer("note");
    const a = new SyncClient({ clientId: "a", rev: 0, text: "note" });
    const sent = a.applyLocal([4, "s"])!;
    server.submit(sent); // applied, but the process dies before the ack arrives
    a.applyLocal([5, "!"]); // in flight too, lost with the process
    const restored = SyncClient.restore(JSON.parse(JSON.stringify(a.snapshot())));
    expect(restored.text).toBe("notes!");
    expect(restored.pending()).toEqual({ clientId: "a", baseRev: 0, seq: 1, ops: [[4, "s"], [5, "!"]] });
    const [first, second] = restored.resend();
    expect(server.submit(first!)).toEqual({ rev: 1, applied: false });
    expect(second).toMatchObject({ seq: 2, baseRev: 0, prior: [{ seq: 1, op: [4, "s"] }] });
    expect(server.submit(second!)).toEqual({ rev: 2, applied: true });
    expect(restored.receive(server.op(1))).toEqual({ kind: "confirmed" });
    expect(restored.receive(server.op(2))).toEqual({ kind: "confirmed" });
    expect(server.text).toBe("notes!");
    expect(restored.text).toBe("notes!");
  });

  it("restores from the constructor option, and refuses malformed saved state with a sentence", () => {
    const c = new SyncClient({ clientId: "a", rev: 3, text: "ab", pending: { clientId: "a", baseRev: 3, seq: 7, ops: [[2, "c"]] } });
    expect(c.text).toBe("abc");
    expect(c.resend()[0]?.seq).toBe(7);
    expect(() => SyncClient.restore(null)).toThrow(/not an object/);
    expect(() => SyncClient.restore({ version: 1, clientId: "a", baseRev: 0, seq: 1, baseText: "ab", ops: [[5]] })).toThrow(/spans 5/);
    expect(() => SyncClient.restore({ version: 1, clientId: "a", baseRev: 0, seq: 1, baseText: "ab", ops: [[1, 1]] })).toThrow(/malformed/);
    expect(() => new SyncClient({ clientId: "a", rev: 2, text: "", pending: { clientId: "a", baseRev: 1, seq: 1, ops: [] } })).toThrow(/revision 1/);
  });

  it("maps selections for presence: ours to the server's text, others' into ours", () => {
    const { server, a, b } = pair("0123456789");
    // b types at 2 and publishes its caret after the typed text, in server coordinates.
    b.applyLocal([2, "bb", 8]);
    expect(b.selectionForOthers({ anchor: 4, head: 4 })).toEqual({ rev: 0, anchor: 2, head: 2 });
    expect(b.selectionForOthers({ anchor: 6, head: 6 })).toEqual({ rev: 0, anchor: 4, head: 4 });
    // a has an unconfirmed insert at 0: b's selection at rev 0 shifts by it.
    a.applyLocal(["aa", 10]);
    expect(a.selectionFromOthers({ rev: 0, anchor: 4, head: 6 })).toEqual({ anchor: 6, head: 8 });
    // A selection from a rev we do not have yet cannot be mapped.
    expect(a.selectionFromOthers({ rev: 1, anchor: 0, head: 0 })).toBeUndefined();
    // After a remote rev, a selection published at the older rev is mapped through it.
    server.submit(b.resend()[0]!);
    a.receive(server.op(1));
    expect(a.text).toBe("aa01bb23456789");
    expect(a.selectionFromOthers({ rev: 0, anchor: 5, head: 5 })).toEqual({ anchor: 9, head: 9 });
    expect(a.selectionFromOthers({ rev: 1, anchor: 7, head: 7 })).toEqual({ anchor: 9, head: 9 });
    // Older than the kept window: dropped.
    const short = new SyncClient({ clientId: "c", rev: 0, text: "x", historyLimit: 1 });
    const s2 = new Sequencer("x");
    s2.submit({ clientId: "d", seq: 1, baseRev: 0, op: [1, "y"], prior: [] });
    s2.submit({ clientId: "d", seq: 2, baseRev: 1, op: [2, "z"], prior: [] });
    short.receive(s2.op(1));
    short.receive(s2.op(2));
    expect(short.selectionFromOthers({ rev: 0, anchor: 0, head: 0 })).toBeUndefined();
    expect(short.selectionFromOthers({ rev: 1, anchor: 1, head: 1 })).toEqual({ anchor: 1, head: 1 });
  });

  it("positionBefore maps back through an op; inserted text collapses to its start", () => {
    expect(positionBefore(3, [1, "ab", 2])).toBe(1);
    expect(positionBefore(4, [1, "ab", 2])).toBe(2);
    expect(positionBefore(1, [-2, 3])).toBe(3);
    expect(positionBefore(0, [])).toBe(0);
  });

  it("keeps several ops in flight, each carrying the earlier ones, and the server rebases them as the client does", () => {
    const { server, a, b } = pair("ab", 8);
    const a1 = a.applyLocal([1, "X", 1])!;
    const a2 = a.applyLocal([2, "Y", 1])!;
    expect(a.current.kind).toBe("awaitingConfirm");
    expect(a2).toEqual({ clientId: "a", seq: 2, baseRev: 0, op: [2, "Y", 1], prior: [{ seq: 1, op: [1, "X", 1] }] });
    // b's edit lands between a's two: a's second op must pass it with the first still pending.
    server.submit(a1);
    server.submit(b.applyLocal([1, "<", 1])!);
    server.submit(a2);
    // a's run stays whole: its second op went out before it saw b's, and lands after its first.
    expect(server.text).toBe("aXY<b");
    for (let rev = 1; rev <= 3; rev++) {
      a.receive(server.op(rev));
      b.receive(server.op(rev));
    }
    expect(a.current.kind).toBe("synchronized");
    expect(a.text).toBe(server.text);
    expect(b.text).toBe(server.text);
    // An op made on top of one that never reached the server cannot be placed.
    const c = new SyncClient({ clientId: "c", rev: 3, text: server.text, maxInFlight: 8 });
    c.applyLocal([server.text.length, "1"]);
    const c2 = c.applyLocal([server.text.length + 1, "2"])!;
    expect(() => server.submit(c2)).toThrow(/never reached the server/);
  });
});
