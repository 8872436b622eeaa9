// The realm's watchdog (backend/watchdog.ts), in this process as the server uses it: an
// entry is stopped at its limit by a signal from the one parked worker; a SIGINT from
// outside reaches the process's handlers, during an entry or between entries, and leaves
// the watchdog working; a SIGINT listener added later is adopted and hears it too.
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";
import vm from "node:vm";
import { afterAll, describe, expect, it, vi } from "vitest";
import { onInterrupt, runGuarded, watchdogMode } from "../../backend/watchdog";
import { busyCores } from "../../harness/busyCores";

const context = vm.createContext({});
const quick = new vm.Script("void 0");
const runaway = new vm.Script("for (;;) {}");

async function signalMode(): Promise<void> {
  runGuarded(quick, context, 1_000);
  await vi.waitFor(() => expect(watchdogMode()).toBe("signal"), { timeout: 10_000, interval: 10 });
}

/** SIGINT to this process from another one, `afterMs` from now: as Ctrl-C or `kill -INT` would. */
function interruptFromOutside(afterMs: number): Promise<void> {
  const child = spawn(process.execPath, ["-e", `setTimeout(() => process.kill(${process.pid}, "SIGINT"), ${afterMs})`], { stdio: "ignore" });
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** Stopped at `limitMs`: not before, and well before the next poll would have let it run on. */
function expectStoppedAt(limitMs: number, script: vm.Script): void {
  const started = performance.now();
  expect(runGuarded(script, context, limitMs)).toBe(false);
  const took = performance.now() - started;
  expect(took).toBeGreaterThanOrEqual(limitMs - 1);
  expect(took).toBeLessThan(limitMs + 2_000);
}

describe.sequential("realm watchdog", () => {
  const handled: string[] = [];
  const offInterrupt = onInterrupt(() => handled.push("interrupt"));
  afterAll(offInterrupt);

  it("stops a runaway entry at its limit by signal, and the next entries run", async () => {
    await signalMode();
    expectStoppedAt(200, runaway);
    for (let i = 0; i < 1_000; i++) expect(runGuarded(quick, context, 1_000)).toBe(true);
    expect(watchdogMode()).toBe("signal");
    expect(handled).toEqual([]);
  });

  it("keeps a short limit that follows a long one", async () => {
    await signalMode();
    const slow = new vm.Script("{ const until = Date.now() + 150; while (Date.now() < until); }");
    expect(runGuarded(slow, context, 10_000)).toBe(true);
    expectStoppedAt(150, runaway);
  });

  it("passes on what an entry throws, and stops a loop that catches everything", async () => {
    await signalMode();
    expect(() => runGuarded(new vm.Script("throw new TypeError('plain failure')"), context, 1_000)).toThrow("plain failure");
    expectStoppedAt(150, new vm.Script("for (;;) { try { for (;;) {} } catch {} }"));
  });

  it("never lets a signal meant for an entry that ended at its limit stop the next one, on busy cores", async () => {
    await signalMode();
    // Each ends about when the worker fires, so its signal lands on it or, just after it
    // returned, on the worker; busy cores widen every window between the two threads. The
    // entry after it must run to its end either way, and the process must live.
    const stopSpinning = busyCores(availableParallelism() + 1);
    try {
      const clock = vm.createContext({ now: () => performance.now() });
      const spin = (ms: number) => new vm.Script(`{ const until = now() + ${ms}; while (now() < until); }`);
      const next = spin(0.3);
      for (let i = 0; i < 500; i++) {
        runGuarded(spin(5 + (i % 31) * 0.05), clock, 5);
        expect(runGuarded(next, clock, 1_000)).toBe(true);
      }
    } finally {
      stopSpinning();
    }
    expect(handled).toEqual([]);
  });

  it("hands a SIGINT from outside during an entry to the handlers, stopping only that entry", async () => {
    await signalMode();
    const sent = interruptFromOutside(100);
    expect(runGuarded(runaway, context, 30_000)).toBe(false);
    await sent;
    await vi.waitFor(() => expect(handled).toEqual(["interrupt"]));
    expect(runGuarded(quick, context, 1_000)).toBe(true);
    handled.length = 0;
  });

  it("hands a SIGINT from outside between entries to the handlers, then watches again", async () => {
    await signalMode();
    await interruptFromOutside(0);
    await vi.waitFor(() => expect(handled).toEqual(["interrupt"]));
    await signalMode();
    expectStoppedAt(150, runaway);
    handled.length = 0;
  });

  it("adopts a SIGINT listener added later: it hears the signal, once for `once`, and the watchdog goes on", async () => {
    await signalMode();
    const heard: string[] = [];
    const listener = (signal: string) => heard.push(signal);
    process.on("SIGINT", listener);
    process.once("SIGINT", () => heard.push("once"));
    // Until the worker has parked afresh, entries carry vm's timeout.
    expect(watchdogMode()).toBe("timeout");
    expectStoppedAt(150, runaway);
    await signalMode();
    expect(process.listenerCount("SIGINT")).toBe(0);
    expectStoppedAt(150, runaway);
    await interruptFromOutside(0);
    await vi.waitFor(() => expect(heard).toEqual(["SIGINT", "once"]));
    await interruptFromOutside(0);
    await vi.waitFor(() => expect(heard).toEqual(["SIGINT", "once", "SIGINT"]));
    expect(handled).toEqual(["interrupt", "interrupt"]);
    expect(watchdogMode()).toBe("signal");
  });
});
