import type { BackupEntry } from '../plugins/addons/backups/catalogue.js';
import type { RestoreResult } from '../plugins/addons/backups/backups.js';
import { nameOfSubject } from '../plugins/addons/backups/backups.js';
import type { ScheduleStatus } from '../plugins/addons/backups/schedules.js';
import { authorize, type Caller } from './authorize.js';
import type { CommandContext } from './context.js';

export interface ScheduleView extends ScheduleStatus {
  name: string;
}

/** `hop3 backup create NAME`: a verified backup of an addon, or of an app's data directory. */
export async function createBackup(ctx: CommandContext, caller: Caller, p: { name: string }): Promise<BackupEntry> {
  authorize(caller, 'backups.write', null);
  const b = await ctx.backups.backups.create(p.name, 'manual');
  ctx.log.info({ name: p.name, id: b.id, verified: b.verified }, 'backup created');
  return b;
}

/** `hop3 backup list [NAME]`: what the catalogue on disk holds (corrupt ones too), and the schedules. */
export async function listBackups(ctx: CommandContext, caller: Caller, q: { name?: string | undefined }): Promise<{ backups: BackupEntry[]; schedules: ScheduleView[] }> {
  authorize(caller, 'backups.read', null);
  const backups = await ctx.backups.backups.list(q.name);
  const now = new Date();
  const subjects = ctx.backups.schedules.list().filter((s) => q.name === undefined || nameOfSubject(s) === q.name);
  const schedules = subjects.flatMap((s) => {
    const st = ctx.backups.schedules.status(s, now);
    return st === null ? [] : [{ name: nameOfSubject(s), ...st }];
  });
  return { backups, schedules };
}

/** `hop3 backup restore ID [--to NAME]`. */
export async function restoreBackup(ctx: CommandContext, caller: Caller, p: { id: string; to?: string | undefined }): Promise<RestoreResult> {
  authorize(caller, 'backups.restore', null);
  const r = await ctx.backups.backups.restore(p.id, { to: p.to });
  ctx.log.info({ id: r.id, into: r.into, preRestore: r.preRestore }, 'backup restored');
  return r;
}

/** `hop3 backup schedule NAME CRON --keep N`: the daemon's scheduler runs it from the next due time. */
export async function scheduleBackup(ctx: CommandContext, caller: Caller, p: { name: string; cron: string; keep: number }): Promise<ScheduleView> {
  authorize(caller, 'backups.write', null);
  const subject = await ctx.backups.backups.subjectOf(p.name);
  const now = new Date();
  ctx.backups.schedules.set(subject, p.cron, p.keep, now);
  return { name: p.name, ...ctx.backups.schedules.status(subject, now)! };
}
