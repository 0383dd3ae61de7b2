import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { nextRun, parseCron, type Cron } from '../../../lib/cron.js';
import { userError } from '../../../lib/errors.js';
import { readTextOrNull, writeFileAtomic } from '../../../lib/fs-atomic.js';
import { privateDir } from '../../../lib/layout.js';

export interface Schedule {
  cron: string;
  keep: number;
  /** Runs are counted from here: a schedule set at 10:05 with `0 * * * *` first runs at 11:00. */
  createdAt: string;
}

/** What the last scheduled run did; kept beside the schedule, rewritten after each run. */
export interface ScheduleRun {
  /** The due time the last run was for. */
  lastDue: string | null;
  lastRun: string | null;
  lastResult: 'verified' | 'unverified' | 'failed' | null;
  lastError: string | null;
  lastBackupId: string | null;
  /** The last run was late: hop3 was not running at its due time, and ran it once when it was. */
  missed: boolean;
}

/** What `status` shows of an addon's schedule. */
export interface ScheduleStatus {
  cron: string;
  keep: number;
  lastRun: string | null;
  lastResult: ScheduleRun['lastResult'];
  lastError: string | null;
  lastBackupId: string | null;
  nextRun: string | null;
  missed: boolean;
}

export const KEEP_MAX = 1000;

export function checkKeep(keep: unknown): number {
  if (typeof keep !== 'number' || !Number.isInteger(keep) || keep < 1 || keep > KEEP_MAX) {
    throw userError('PARAMS_INVALID', `--keep ${JSON.stringify(keep)} is not a whole number from 1 to ${KEEP_MAX}`, { hint: 'how many scheduled backups to keep, e.g. --keep 7' });
  }
  return keep;
}

const EMPTY_RUN: ScheduleRun = { lastDue: null, lastRun: null, lastResult: null, lastError: null, lastBackupId: null, missed: false };

/**
 * The run a schedule owes at `now`, if any: the latest due time after `since` that is not in the
 * future. It is `missed` when it is older than `graceMs` or when due times before it passed with
 * no run (hop3 was down): those are not run one by one, only this one. Pure.
 */
export function dueRun(cron: Cron, since: Date, now: Date, graceMs: number): { due: Date; missed: boolean } | null {
  let due = nextRun(cron, since);
  if (due === null || due > now) return null;
  let skipped = false;
  for (let next = nextRun(cron, due); next !== null && next <= now; next = nextRun(cron, due)) {
    due = next;
    skipped = true;
  }
  return { due, missed: skipped || now.getTime() - due.getTime() > graceMs };
}

/** Schedules under HOP3_HOME/backups/<addon>/: schedule.json (0600, by rename) and schedule-run.json. */
export class ScheduleStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  private file(addon: string, name: string): string {
    return join(this.root, addon, name);
  }

  set(addon: string, cronText: string, keep: number, now: Date): Schedule {
    const cron = parseCron(cronText);
    const schedule: Schedule = { cron: cron.source, keep: checkKeep(keep), createdAt: now.toISOString() };
    privateDir(this.root);
    privateDir(join(this.root, addon));
    writeFileAtomic(this.file(addon, 'schedule.json'), `${JSON.stringify(schedule, null, 2)}\n`, 0o600);
    return schedule;
  }

  get(addon: string): Schedule | null {
    const text = readTextOrNull(this.file(addon, 'schedule.json'));
    return text === null ? null : (JSON.parse(text) as Schedule);
  }

  /** The addons with a schedule. */
  list(): string[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root).filter((a) => existsSync(this.file(a, 'schedule.json'))).sort();
  }

  run(addon: string): ScheduleRun {
    const text = readTextOrNull(this.file(addon, 'schedule-run.json'));
    return text === null ? EMPTY_RUN : { ...EMPTY_RUN, ...(JSON.parse(text) as Partial<ScheduleRun>) };
  }

  writeRun(addon: string, run: ScheduleRun): void {
    writeFileAtomic(this.file(addon, 'schedule-run.json'), `${JSON.stringify(run, null, 2)}\n`, 0o600);
  }

  status(addon: string, now: Date): ScheduleStatus | null {
    const s = this.get(addon);
    if (s === null) return null;
    const r = this.run(addon);
    const since = new Date(r.lastDue ?? s.createdAt);
    const next = nextRun(parseCron(s.cron), since > now ? since : now);
    return { cron: s.cron, keep: s.keep, lastRun: r.lastRun, lastResult: r.lastResult, lastError: r.lastError, lastBackupId: r.lastBackupId, nextRun: next?.toISOString() ?? null, missed: r.missed };
  }
}
