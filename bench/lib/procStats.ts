/**
 * CPU time, waiting and memory of a process, and the machine's CPU, read from /proc (Linux):
 * what a server costs while a benchmark row runs, measured from outside so the server runs
 * unmodified.
 */
import { existsSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** User + system CPU milliseconds the process has used so far (10 ms resolution). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name, which is in parentheses and may contain spaces.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

/** Resident memory now and at its peak, in MB. */
export function rssMb(pid: number): { now: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? Number.NaN);
  return { now: kb("VmRSS") / 1024, peak: kb("VmHWM") / 1024 };
}

/**
 * Milliseconds the process's main thread has waited for a core so far: runnable but not
 * running (the second field of /proc/PID/task/PID/schedstat, in ns). On a machine whose
 * cores the benchmark's own clients share, this is how long other work kept the server
 * from running: time its CPU figure does not show.
 */
export function mainThreadWaitMs(pid: number): number {
  if (!existsSync(`/proc/${pid}/task/${pid}/schedstat`)) return Number.NaN; // a kernel without scheduler statistics
  const fields = readFileSync(`/proc/${pid}/task/${pid}/schedstat`, "utf8").trim().split(" ");
  return Number(fields[1]) / 1e6;
}

/** CPU milliseconds the machine has spent busy so far, all cores together (idle and I/O wait excluded). */
export function machineBusyMs(): number {
  const cpu = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = cpu;
  return ((user + nice + system + irq + softirq) * 1000) / TICKS_PER_SECOND;
}
