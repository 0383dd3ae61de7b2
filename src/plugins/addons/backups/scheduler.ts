import { parseCron } from '../../../lib/cron.js';
import { asHop3Error } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';
import type { BackupEntry } from './catalogue.js';
import { dueRun, type ScheduleStore } from './schedules.js';

export interface SchedulerContext {
  /** What time it is: the daemon's clock, or a faster one in tests. */
  clock: () => Date;
  /** How often schedules are looked at (real milliseconds). */
  tickMs: number;
  /** A run started later than this after its due time (clock milliseconds) counts as missed. */
  graceMs: number;
  log: Logger;
  schedules: ScheduleStore;
  backup(addon: string): Promise<BackupEntry>;
  prune(addon: string, keep: number): Promise<string[]>;
}

/**
 * Runs scheduled backups: on each tick, every schedule that owes a run gets one, never two at a
 * time for one addon (a tick while one runs skips it). Started by the daemon; a run missed while
 * the daemon was down is owed at the first tick, which start() runs at once.
 */
export class BackupScheduler {
  private readonly ctx: SchedulerContext;
  private timer: NodeJS.Timeout | null = null;
  private readonly running = new Map<string, Promise<void>>();

  constructor(ctx: SchedulerContext) {
    this.ctx = ctx;
  }

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.tick(), this.ctx.tickMs);
    void this.tick();
  }

  /** Stop looking; wait for the runs under way. */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.running.values()]);
  }

  /** Start the runs that are owed; resolves when those have finished. Never rejects. */
  async tick(): Promise<void> {
    const started: Array<Promise<void>> = [];
    let addons: string[];
    try {
      addons = this.ctx.schedules.list();
    } catch (err) {
      this.ctx.log.warn({ err: asHop3Error(err).message }, 'backup schedules could not be read');
      return;
    }
    for (const addon of addons) {
      if (this.running.has(addon)) continue;
      try {
        const schedule = this.ctx.schedules.get(addon);
        if (schedule === null) continue;
        const last = this.ctx.schedules.run(addon);
        const owed = dueRun(parseCron(schedule.cron), new Date(last.lastDue ?? schedule.createdAt), this.ctx.clock(), this.ctx.graceMs);
        if (owed === null) continue;
        const run = this.runOne(addon, schedule.keep, owed.due, owed.missed).finally(() => this.running.delete(addon));
        this.running.set(addon, run);
        started.push(run);
      } catch (err) {
        this.ctx.log.warn({ addon, err: asHop3Error(err).message }, 'a backup schedule could not be read');
      }
    }
    await Promise.all(started);
  }

  private async runOne(addon: string, keep: number, due: Date, missed: boolean): Promise<void> {
    const lastRun = this.ctx.clock().toISOString();
    const base = { lastDue: due.toISOString(), lastRun, missed };
    try {
      const b = await this.ctx.backup(addon);
      this.ctx.schedules.writeRun(addon, { ...base, lastResult: b.verified ? 'verified' : 'unverified', lastError: b.error ?? null, lastBackupId: b.id });
    } catch (err) {
      const e = asHop3Error(err);
      this.ctx.log.warn({ addon, err: e.message }, 'a scheduled backup failed');
      try {
        this.ctx.schedules.writeRun(addon, { ...base, lastResult: 'failed', lastError: e.message, lastBackupId: null });
      } catch {
        // The status file cannot be written either (a full disk): the log has it.
      }
      return;
    }
    await this.ctx.prune(addon, keep).catch((err: unknown) => this.ctx.log.warn({ addon, err: asHop3Error(err).message }, 'old scheduled backups were not removed'));
  }
}
