import { cronJobs } from "convex/server";
import { internal } from "./_generated/api";

/**
 * Everything periodic, scheduled (never done on the side of a user's call):
 *   - the op log's bodies older than OPS_RETAIN_MS are compacted (the revision rows stay);
 *   - notes stored whole before snapshots existed are migrated a batch at a time;
 *   - rate-limit windows that are over are deleted.
 * Each job does a bounded batch; compaction reschedules itself while there is more.
 */
const crons = cronJobs();

crons.hourly("compact the op log", { minuteUTC: 17 }, internal.ops.compact, {});
crons.hourly("migrate notes stored whole", { minuteUTC: 37 }, internal.notes.migrate, {});
crons.hourly("prune rate-limit windows", { minuteUTC: 47 }, internal.rateLimit.prune, {});

export default crons;
