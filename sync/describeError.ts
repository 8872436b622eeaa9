/**
 * A sentence for a person (a log line, a message box, the CLI's stderr) from whatever was
 * thrown: the one describer used by client/, extension/ and the CLI. A Convex error carries
 * its sentence in `data` (a string, or `{ code, message }`); it is read by its shape so that
 * this pure module needs no Convex import.
 */
export function describeError(err: unknown): string {
  if (err !== null && typeof err === "object" && "data" in err) {
    const data = err.data;
    if (typeof data === "string") return data;
    if (data !== null && typeof data === "object" && "message" in data && typeof data.message === "string") return data.message;
  }
  if (err instanceof Error) return err.message;
  return String(err);
}
