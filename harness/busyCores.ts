// Processes that keep cores busy, for a test or benchmark of how something behaves when
// every core is taken. Each gives up once its parent is gone or after a minute, so a run
// that dies leaves no load behind.
import { spawn, type ChildProcess } from "node:child_process";

const SPIN = `const parent = process.ppid, end = Date.now() + 60_000;
for (let i = 0; ; i++) if (i % 1e6 === 0 && (process.ppid !== parent || Date.now() > end)) break;`;

/** Starts `count` spinning processes; the returned function stops them. */
export function busyCores(count: number): () => void {
  const spinners: ChildProcess[] = Array.from({ length: count }, () => spawn(process.execPath, ["-e", SPIN], { stdio: "ignore" }));
  return () => {
    for (const spinner of spinners) spinner.kill("SIGKILL");
  };
}
