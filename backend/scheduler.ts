// Runs scheduled functions (ctx.scheduler.runAfter / runAt) and the project's crons.
// The jobs themselves live in `_scheduled_functions`, written in the scheduling
// mutation's own transaction, so they survive restarts; this keeps only a list of pending
// (id, time) pairs, rebuilt from the table at start. A scheduled mutation commits with
// its job's new state (it runs once); an action is marked in progress first (at most once).
import { SCHEDULED_TABLE } from "./function-run.js";
import type { Engine } from "./engine.js";
import { cronMatcher, type CronSchedule } from "./cron.js";

type Pending = { id: string; at: number };
type CronJob = { name: string; udfPath: string; args: unknown[]; schedule: CronSchedule; next: number };

const LONGEST_TIMER_MS = 60_000;

export class Scheduler {
  private pending: Pending[] = [];
  private crons: CronJob[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private closed = false;

  constructor(private readonly engine: Engine) {
    engine.onScheduled = (jobs) => {
      for (const job of jobs) this.pending.push(job);
      this.wake();
    };
  }

  /** Loads pending jobs and the crons. */
  async start(): Promise<void> {
    const { storage } = this.engine;
    const table = storage.tableNumber(SCHEDULED_TABLE);
    if (table !== undefined) {
      const stale: string[] = [];
      for (const json of storage.documentsOfTable(table)) {
        const doc = JSON.parse(json) as { _id: string; scheduledTime: number; completedTime?: number; state: { kind: string } };
        if (doc.state.kind === "pending") this.pending.push({ id: doc._id, at: doc.scheduledTime });
        // An action that was running when the backend stopped never finished.
        else if (doc.state.kind === "inProgress") stale.push(doc._id);
      }
      if (stale.length > 0) {
        await this.engine.system((run) => {
          for (const id of stale) run.setJobState(id, { kind: "failed", error: "Transient error while executing action" }, true);
        });
      }
    }
    this.loadCrons();
    this.wake();
  }

  private loadCrons(): void {
    const crons = this.engine.runtime.project.crons as { export?: () => string } | null;
    if (!crons || typeof crons.export !== "function") return;
    const spec = JSON.parse(crons.export()) as Record<string, { name: string; args: unknown[]; schedule: CronSchedule }>;
    const now = Date.now();
    for (const [name, { name: udfPath, args, schedule }] of Object.entries(spec)) {
      if (!this.engine.runtime.exists(udfPath)) throw new Error(`crons.ts: "${name}" calls ${udfPath}, which does not exist`);
      const last = Number(this.engine.storage.getMeta(`cron:${name}`) ?? "NaN");
      const from = Number.isFinite(last) ? last : now;
      this.crons.push({ name, udfPath, args, schedule, next: nextRun(schedule, from) });
    }
  }

  private wake(): void {
    if (this.closed || this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const next = Math.min(...this.pending.map((p) => p.at), ...this.crons.map((c) => c.next));
    if (!Number.isFinite(next)) return;
    this.timer = setTimeout(() => void this.tick(), Math.min(LONGEST_TIMER_MS, Math.max(0, next - Date.now())));
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    this.timer = null;
    if (this.closed) return;
    this.running = true;
    try {
      const now = Date.now();
      for (const cron of this.crons) {
        if (cron.next > now) continue;
        const at = cron.next;
        cron.next = nextRun(cron.schedule, Math.max(at, now));
        await this.engine.system((run) => {
          run.syscall("1.0/schedule", { name: cron.udfPath, ts: now / 1000, args: (cron.args[0] ?? {}) as never });
          this.engine.storage.setMeta(`cron:${cron.name}`, String(now));
        });
      }
      const due = this.pending.filter((p) => p.at <= Date.now()).sort((a, b) => a.at - b.at);
      this.pending = this.pending.filter((p) => p.at > Date.now());
      for (const job of due) {
        if (this.closed) return;
        await this.run(job.id);
      }
    } catch (e) {
      process.stderr.write(`[local backend] scheduler: ${(e as Error).message}\n`);
    } finally {
      this.running = false;
      this.wake();
    }
  }

  private async run(id: string): Promise<void> {
    const row = this.engine.storage.getDocument(id);
    if (!row) return;
    const doc = JSON.parse(row.json) as { name: string; args: unknown[]; state: { kind: string } };
    if (doc.state.kind !== "pending") return;
    const args = (doc.args[0] ?? {}) as never;
    const kind = this.engine.runtime.kindOf(doc.name);
    if (kind === "mutation") {
      // Not awaited one by one beyond the queue: the engine runs them in order.
      await this.engine.mutateAsync({ udfPath: doc.name, args, identity: null, allowInternal: true, job: id });
      return;
    }
    if (kind === "action") {
      const started = await this.engine.system((run) => {
        if (!this.engine.jobPending(id)) return false;
        run.setJobState(id, { kind: "inProgress" }, false);
        return true;
      });
      if (!started) return;
      const outcome = await this.engine.action(doc.name, args, null, true);
      await this.engine.system((run) =>
        run.setJobState(id, outcome.ok ? { kind: "success" } : { kind: "failed", error: outcome.message }, true),
      );
      return;
    }
    await this.engine.system((run) =>
      run.setJobState(id, { kind: "failed", error: `Scheduled function ${doc.name} is not a mutation or action.` }, true),
    );
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
  }
}

function nextRun(schedule: CronSchedule, after: number): number {
  if (schedule.type === "interval") {
    const ms = ((schedule.seconds ?? 0) + (schedule.minutes ?? 0) * 60 + (schedule.hours ?? 0) * 3600) * 1000;
    return after + Math.max(1000, ms);
  }
  const matches = cronMatcher(schedule);
  // Minute by minute, at most a year ahead (calendar schedules match at least yearly).
  let t = Math.floor(after / 60_000) * 60_000 + 60_000;
  for (let i = 0; i < 366 * 24 * 60; i++, t += 60_000) if (matches(new Date(t))) return t;
  throw new Error(`crons.ts: schedule ${JSON.stringify(schedule)} never runs`);
}
