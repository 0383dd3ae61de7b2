import type { Exec } from '../../../lib/exec.js';
import type { Layout } from '../../../lib/layout.js';
import type { Logger } from '../../../lib/logger.js';
import { Backups } from './backups.js';
import type { AddonResolver } from './backups.js';
import { ScheduleStore } from './schedules.js';

export interface BackupService {
  backups: Backups;
  schedules: ScheduleStore;
}

/** Backups and schedules under HOP3_HOME/backups, for the addons `addons` finds (see resolver.ts). */
export function backupService(layout: Layout, log: Logger, exec: Exec, addons: AddonResolver): BackupService {
  return {
    backups: new Backups({ layout, log: log.child({ component: 'backups' }), exec, clock: () => new Date(), addons }),
    schedules: new ScheduleStore(layout.backups),
  };
}
