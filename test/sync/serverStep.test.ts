import { describe, expect, it } from "vitest";
import type { LoggedOp } from "../../sync/rebase";
import { OVER_BUDGET, runStep, serverStep, type StepAnswer } from "../../sync/serverStep";

const limits = { window: 1000, weight: 1 << 20, prior: 16 };
const log: LoggedOp[] = [
  { clientId: "a", seq: 1, op: ["hello"] },
  { clientId: "a", seq: 2, op: [5, "!"] },
];

function step(answers: StepAnswer[]) {
  let at = 0;
  return runStep(serverStep({ rev: 2, length: 6 }, { clientId: "b", seq: 1, baseRev: 0, op: ["> "], prior: [] }, null, limits), () => {
    const answer = answers[at++];
    if (answer === undefined) throw new Error("the step read past what it was offered");
    return answer;
  });
}

describe("serverStep", () => {
  it("transforms past the ops its reader hands out", () => {
    // At the same place as text already in the log, a late insert goes after it.
    expect(step(log)).toMatchObject({ kind: "applied", rev: 3, op: [6, "> "] });
  });

  it("answers stale when its reader stopped at a budget of its own before the head", () => {
    expect(step([log[0]!, OVER_BUDGET])).toEqual({ kind: "stale", head: 2 });
  });

  it("fails loudly when the log ends before the head (a reader that lost rows)", () => {
    expect(() => step([log[0]!, null])).toThrow(/ends before revision 2/);
  });
});
