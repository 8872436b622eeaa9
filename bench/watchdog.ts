/**
 * What watching a realm entry costs: an empty script entered ENTRIES times, guarded as the
 * server guards its entries (`runGuarded`: the parked watchdog worker and `breakOnSigint`),
 * against Node's vm `timeout` (a thread started and joined per entry) and against no guard
 * at all. Measured on an idle machine and again with every core kept busy by spinning
 * processes, where a thread per entry waits for a core to be joined.
 *
 * npm run bench:watchdog [-- --entries 2000]
 */
import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import vm from "node:vm";
import { runGuarded, watchdogMode } from "../backend/watchdog";
import { busyCores } from "../harness/busyCores";

const { values } = parseArgs({ options: { entries: { type: "string", default: "2000" } } });
const ENTRIES = Number(values.entries);

const context = vm.createContext({});
const script = new vm.Script("void 0");
const ways: Array<[string, () => void]> = [
  ["no guard", () => script.runInContext(context)],
  ["runGuarded (parked watchdog)", () => runGuarded(script, context, 1_000)],
  ["vm timeout", () => script.runInContext(context, { timeout: 1_000 })],
];

/** µs per entry, best of three rounds. */
function measure(enter: () => void): number {
  let best = Infinity;
  for (let round = 0; round < 3; round++) {
    const started = performance.now();
    for (let i = 0; i < ENTRIES; i++) enter();
    best = Math.min(best, ((performance.now() - started) / ENTRIES) * 1000);
  }
  return best;
}

function report(load: string): void {
  for (const [name, enter] of ways) console.log(`  ${load.padEnd(22)} ${name.padEnd(30)} ${measure(enter).toFixed(1).padStart(7)} µs/entry`);
}

runGuarded(script, context, 1_000);
while (watchdogMode() !== "signal") await new Promise((resolve) => setTimeout(resolve, 5));
console.log(`realm entry cost, ${ENTRIES} entries of an empty script, best of 3:`);
report("idle");
const stopSpinning = busyCores(availableParallelism());
await new Promise((resolve) => setTimeout(resolve, 200));
try {
  report(`${availableParallelism()} cores kept busy`);
} finally {
  stopSpinning();
}
