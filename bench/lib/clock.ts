/**
 * Milliseconds on the system's monotonic clock (CLOCK_MONOTONIC through libuv), which is
 * the same clock in every process on the machine: timestamps taken in the typing
 * process, the server and the receiving process can be subtracted from each other.
 */
export function monoMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Wall-clock milliseconds minus monotonic ones, for comparing with a browser's Date.now(). */
export function wallMinusMono(): number {
  return Date.now() - monoMs();
}
