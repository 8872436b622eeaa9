// The schedules of convex/crons.ts (as `cronJobs().export()` describes them), as a test
// of one UTC minute. Cron strings are the usual five fields: minute hour day-of-month
// month day-of-week, with `*`, lists, ranges and steps.
export type CronSchedule =
  | { type: "interval"; seconds?: number; minutes?: number; hours?: number }
  | { type: "hourly"; minuteUTC?: number }
  | { type: "daily"; hourUTC: number; minuteUTC?: number }
  | { type: "weekly"; dayOfWeek: string; hourUTC: number; minuteUTC?: number }
  | { type: "monthly"; day: number; hourUTC: number; minuteUTC?: number }
  | { type: "cron"; cron: string };

const DAYS = ["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

export function cronMatcher(schedule: Exclude<CronSchedule, { type: "interval" }>): (t: Date) => boolean {
  switch (schedule.type) {
    case "hourly":
      return (t) => t.getUTCMinutes() === (schedule.minuteUTC ?? 0);
    case "daily":
      return (t) => t.getUTCHours() === schedule.hourUTC && t.getUTCMinutes() === (schedule.minuteUTC ?? 0);
    case "weekly": {
      const day = DAYS.indexOf(schedule.dayOfWeek.toLowerCase());
      return (t) => t.getUTCDay() === day && t.getUTCHours() === schedule.hourUTC && t.getUTCMinutes() === (schedule.minuteUTC ?? 0);
    }
    case "monthly":
      return (t) => t.getUTCDate() === schedule.day && t.getUTCHours() === schedule.hourUTC && t.getUTCMinutes() === (schedule.minuteUTC ?? 0);
    case "cron":
      return parseCron(schedule.cron);
    default:
      return schedule satisfies never;
  }
}

function field(text: string, min: number, max: number): Set<number> {
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const [range = "*", stepText] = part.split("/");
    const step = stepText === undefined ? 1 : Number(stepText);
    let lo = min;
    let hi = max;
    if (range !== "*") {
      const [a, b] = range.split("-");
      lo = Number(a);
      hi = b === undefined ? (stepText === undefined ? lo : max) : Number(b);
    }
    if (![lo, hi, step].every(Number.isInteger) || lo < min || hi > max || lo > hi || step < 1) {
      throw new Error(`crons.ts: invalid cron field "${part}"`);
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function parseCron(cron: string): (t: Date) => boolean {
  const parts = cron.trim().split(/\s+/);
  if (parts.length !== 5) throw new Error(`crons.ts: "${cron}" must have five fields`);
  const [m, h, dom, mon, dow] = parts as [string, string, string, string, string];
  const minutes = field(m, 0, 59);
  const hours = field(h, 0, 23);
  const days = field(dom, 1, 31);
  const months = field(mon, 1, 12);
  const weekdays = field(dow.replace(/\b7\b/g, "0"), 0, 6);
  const anyDay = dom === "*";
  const anyWeekday = dow === "*";
  return (t) => {
    if (!minutes.has(t.getUTCMinutes()) || !hours.has(t.getUTCHours()) || !months.has(t.getUTCMonth() + 1)) return false;
    const dayOk = days.has(t.getUTCDate());
    const weekdayOk = weekdays.has(t.getUTCDay());
    // As in cron: when both day fields are restricted, either one matching is enough.
    if (!anyDay && !anyWeekday) return dayOk || weekdayOk;
    return dayOk && weekdayOk;
  };
}
