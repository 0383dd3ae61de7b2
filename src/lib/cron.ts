import { userError } from './errors.js';

/**
 * A 5-field cron expression, evaluated in UTC: `minute hour day-of-month month day-of-week`.
 * Each field is `*`, a number, a range `a-b`, a step `*\/n` or `a-b/n`, or a comma list of those.
 * Day of week is 0-7 (0 and 7 are Sunday). As in Vixie cron, when both day fields are restricted
 * a day matches if either does. Names (`mon`, `jan`), `@daily` and the like are not accepted.
 */
export interface Cron {
  source: string;
  minutes: ReadonlySet<number>;
  hours: ReadonlySet<number>;
  days: ReadonlySet<number>;
  months: ReadonlySet<number>;
  weekdays: ReadonlySet<number>;
  /** Whether the day-of-month and day-of-week fields were `*` (then only the other one restricts). */
  anyDay: boolean;
  anyWeekday: boolean;
}

const FIELDS = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day of week', min: 0, max: 7 },
] as const;

const HINT = '5 fields in UTC: minute hour day-of-month month day-of-week, e.g. "30 3 * * *" (03:30 every day) or "*/15 * * * *"';

function parseField(text: string, f: (typeof FIELDS)[number], whole: string): Set<number> {
  const bad = (why: string) => userError('CRON_INVALID', `cron expression ${JSON.stringify(whole)}: ${f.name} field ${JSON.stringify(text)} ${why}`, { hint: HINT });
  const out = new Set<number>();
  const num = (s: string) => {
    if (!/^\d{1,2}$/.test(s)) throw bad('is not a number, a range or a step');
    const n = Number(s);
    if (n < f.min || n > f.max) throw bad(`is out of range (${f.min}-${f.max})`);
    return n;
  };
  for (const part of text.split(',')) {
    const m = /^([^/]+)(?:\/(\d{1,2}))?$/.exec(part);
    if (!m) throw bad('is not a number, a range or a step');
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1) throw bad('has a step of 0');
    let lo: number;
    let hi: number;
    if (m[1] === '*') [lo, hi] = [f.min, f.max];
    else if (m[1]!.includes('-')) {
      const [a, b, ...rest] = m[1]!.split('-');
      if (rest.length > 0 || a === undefined || b === undefined) throw bad('is not a number, a range or a step');
      [lo, hi] = [num(a), num(b)];
      if (lo > hi) throw bad('is a range that ends before it starts');
    } else {
      lo = num(m[1]!);
      hi = m[2] === undefined ? lo : f.max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

export function parseCron(source: unknown): Cron {
  if (typeof source !== 'string' || source.trim() === '') throw userError('CRON_INVALID', 'a cron expression is required', { hint: HINT });
  const parts = source.trim().split(/\s+/);
  if (parts.length !== 5) throw userError('CRON_INVALID', `cron expression ${JSON.stringify(source.slice(0, 80))} has ${parts.length} fields, not 5`, { hint: HINT });
  const [minutes, hours, days, months, weekdays] = parts.map((p, i) => parseField(p, FIELDS[i]!, source)) as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (weekdays.has(7)) weekdays.add(0);
  return { source: parts.join(' '), minutes, hours, days, months, weekdays, anyDay: parts[2] === '*', anyWeekday: parts[4] === '*' };
}

function dayMatches(c: Cron, d: Date): boolean {
  const dom = c.days.has(d.getUTCDate());
  const dow = c.weekdays.has(d.getUTCDay());
  if (c.anyDay && c.anyWeekday) return true;
  if (c.anyDay) return dow;
  if (c.anyWeekday) return dom;
  return dom || dow;
}

/** Whether the expression names the minute `at` is in. Cheap: no search, unlike nextRun. */
export function matches(c: Cron, at: Date): boolean {
  return c.minutes.has(at.getUTCMinutes()) && c.hours.has(at.getUTCHours()) && c.months.has(at.getUTCMonth() + 1) && dayMatches(c, at);
}

/** How far ahead a next run is looked for: an expression like `0 0 31 2 *` never runs. */
const HORIZON_MS = 5 * 366 * 86_400_000;

/** The first instant strictly after `after` (to the minute) that the expression names; null if none within 5 years. */
export function nextRun(c: Cron, after: Date): Date | null {
  const t = new Date(after.getTime());
  t.setUTCSeconds(0, 0);
  t.setUTCMinutes(t.getUTCMinutes() + 1);
  const end = after.getTime() + HORIZON_MS;
  while (t.getTime() <= end) {
    if (!c.months.has(t.getUTCMonth() + 1)) {
      t.setUTCMonth(t.getUTCMonth() + 1, 1);
      t.setUTCHours(0, 0);
      continue;
    }
    if (!dayMatches(c, t)) {
      t.setUTCDate(t.getUTCDate() + 1);
      t.setUTCHours(0, 0);
      continue;
    }
    if (!c.hours.has(t.getUTCHours())) {
      t.setUTCHours(t.getUTCHours() + 1, 0);
      continue;
    }
    if (!c.minutes.has(t.getUTCMinutes())) {
      t.setUTCMinutes(t.getUTCMinutes() + 1);
      continue;
    }
    return t;
  }
  return null;
}
