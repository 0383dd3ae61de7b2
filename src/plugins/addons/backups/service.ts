import type { Exec } from '../../../lib/exec.js';
import type { Layout } from '../../../lib/layout.js';
import type { Logger } from '../../../lib/logger.js';
import type { AddonDefinition } from '../addon.js';
import { Backups } from './backups.js';
import { addonsOnServers } from './resolver.js';
import { ScheduleStore } from './schedules.js';

export interface BackupService {
  backups: Backups;
  schedules: ScheduleStore;
}

/** Backups and schedules under HOP3_HOME/backups, for the addons of `defs` (see resolver.ts). */
export function backupService(layout: Layout, log: Logger, exec: Exec, defs: readonly AddonDefinition[]): BackupService {
  return {
    backups: new Backups({ layout, log: log.child({ component: 'backups' }), exec, clock: () => new Date(), addons: addonsOnServers(defs) }),
    schedules: new ScheduleStore(layout.backups),
  };
}
