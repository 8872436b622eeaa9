import { describe, expect, it } from "vitest";
import { InFlightLimit, LINK_SLACK_MS, QUEUE_MS, QUEUE_SLACK_MS } from "../../sync/inFlightLimit";

describe("the in-flight limit", () => {
  it("stays at its most on a link that is slow every time", () => {
    const limit = new InFlightLimit(8);
    for (let i = 0; i < 100; i++) expect(limit.observe(200 + (i % 7))).toBe(8);
  });

  it("halves down to 1 while confirmations queue, and grows back by one when they are fast again", () => {
    const limit = new InFlightLimit(8);
    limit.observe(5);
    const queued = 2 * 5 + QUEUE_SLACK_MS + 50;
    expect([1, 2, 3, 4].map(() => limit.observe(queued))).toEqual([4, 2, 1, 1]);
    expect([1, 2, 3].map(() => limit.observe(6))).toEqual([2, 3, 4]);
  });

  it("finds a queue on a slow link by its length: one as long as the round trip is not taken for the link", () => {
    const limit = new InFlightLimit(8);
    for (let i = 0; i < 10; i++) expect(limit.observe(205 + (i % 5))).toBe(8);
    // Under twice the round trip, but a queue of over QUEUE_MS.
    expect(limit.observe(205 + QUEUE_MS + 60)).toBe(4);
    expect(limit.waiting(205 + QUEUE_MS + 60)).toBe(2);
    // A confirmation that comes back within QUEUE_MS of the fastest is the link's.
    expect(limit.observe(205 + QUEUE_MS - 10)).toBe(3);
  });

  it("finds a queue that builds up slowly: the link's measure does not follow it up", () => {
    const limit = new InFlightLimit(8);
    for (let i = 0; i < 10; i++) limit.observe(210);
    // 2.4 ms slower each confirmation, up to 450 ms: a server falling behind bit by bit.
    const limits = Array.from({ length: 100 }, (_, i) => limit.observe(210 + 2.4 * i));
    expect(Math.min(...limits)).toBe(1);
    expect(limits.indexOf(4)).toBeLessThan(Math.ceil(QUEUE_MS / 2.4) + 1);
  });

  it("halves while the oldest submission waits far longer than the fastest took, before it is confirmed", () => {
    const limit = new InFlightLimit(8);
    limit.observe(5);
    expect(limit.waiting(10)).toBe(8);
    expect(limit.waiting(2 * 5 + QUEUE_SLACK_MS + 1)).toBe(4);
    expect(new InFlightLimit(8).waiting(10_000)).toBe(8);
  });

  it("adapts to a link that became slower for good", () => {
    const limit = new InFlightLimit(8);
    for (let i = 0; i < 10; i++) limit.observe(5);
    for (let i = 0; i < 400; i++) limit.observe(300);
    expect(limit.value).toBe(8);
  });

  it("measures a new link afresh: a client that reconnected over a slower path keeps its limit", () => {
    const limit = new InFlightLimit(8);
    for (let i = 0; i < 10; i++) limit.observe(5);
    limit.link(2);
    expect(limit.observe(205)).toBe(4);
    limit.newLink();
    expect(limit.value).toBe(8);
    limit.link(200);
    for (let i = 0; i < 20; i++) expect(limit.observe(205 + (i % 10))).toBe(8);
    // Queues are still found on the new link.
    expect(limit.observe(2 * 220 + QUEUE_SLACK_MS)).toBe(4);
  });

  it("takes a confirmation far slower than a query's round trip as queued, even when no confirmation was ever fast", () => {
    const limit = new InFlightLimit(8);
    expect(limit.observe(2000)).toBe(8); // joined a server already behind
    limit.link(200);
    expect(limit.observe(2000)).toBe(4);
    expect(limit.waiting(2 * 200 + LINK_SLACK_MS + 1)).toBe(2);
  });

  it("does not take an ordinary confirmation as queued because queries answer faster", () => {
    const limit = new InFlightLimit(8);
    limit.link(2);
    for (let i = 0; i < 50; i++) expect(limit.observe(40 + (i % 30))).toBe(8);
  });

  it("adapts to query round trips that became slower for good", () => {
    const limit = new InFlightLimit(8);
    limit.link(2);
    for (let i = 0; i < 40; i++) limit.link(300);
    for (let i = 0; i < 20; i++) expect(limit.observe(600 + (i % 30))).toBe(8);
  });
});
