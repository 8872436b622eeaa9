import { describe, expect, it } from "vitest";
import { Sequencer } from "../../sync/sequencer";
import { SyncClient } from "../../sync/syncClient";
import { apply } from "../../sync/textOp";
import { codeUnitOffset, loadSequentialTrace, sequentialOps, tracesMissing } from "../../harness/traces";

/**
 * Real editing histories, keystroke by keystroke, through the product path: each patch is
 * a local edit of a SyncClient, goes to the in-memory server, and comes back as the ack.
 */
const missing = tracesMissing();
describe.skipIf(missing)(`sequential traces replay to their endContent${missing ? ` (${missing})` : ""}`, () => {
  for (const name of ["automerge-paper", "seph-blog1", "rustcode", "sveltecomponent"]) {
    it(name, () => {
      const trace = loadSequentialTrace(name);
      const ops = sequentialOps(trace);
      const server = new Sequencer(trace.startContent, { checksums: false });
      const client = new SyncClient({ clientId: "author", rev: 0, text: trace.startContent });
      for (const op of ops) {
        const sub = client.applyLocal(op);
        if (!sub) continue; // a patch that changes nothing
        const { rev } = server.submit(sub);
        const outcome = client.receive(server.op(rev));
        if (outcome.kind !== "confirmed") throw new Error(`rev ${rev} was taken as ${outcome.kind}`);
      }
      expect(client.text === trace.endContent).toBe(true);
      expect(server.text === trace.endContent).toBe(true);
      expect(client.serverText === trace.endContent).toBe(true);
    });
  }
});

describe("code point positions become code unit positions", () => {
  it("counts an emoji as one code point and two code units", () => {
    const text = "a😀b👍🏽c";
    expect(codeUnitOffset(text, 0)).toBe(0);
    expect(codeUnitOffset(text, 2)).toBe(3);
    expect(codeUnitOffset(text, 4)).toBe(6);
    const trace = {
      startContent: text,
      endContent: "",
      txns: [{ patches: [[1, 1, "🎉"], [4, 2, ""], [0, 0, "x"]] as [number, number, string][] }],
    };
    let t = text;
    for (const op of sequentialOps(trace)) t = apply(t, op);
    expect(t).toBe("xa🎉b👍");
  });
});
