import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { pruneRotatedLogs, rotateAppendLog } from '../lib/rotated-logs.js';
import type { Hop3 } from './hop3.js';

/**
 * What keeps HOP3_HOME from growing without bound, at start and on each resync: old events go,
 * the daemon's own logs are rotated, and rotated logs past HOP3_LOG_KEEP are deleted. Each step
 * looks first and changes nothing when there is nothing to do.
 */
export function housekeeping(h: Pick<Hop3, 'config' | 'layout' | 'store' | 'log'>): void {
  const { config, layout, store, log } = h;
  const events = store.pruneEvents(config.eventsKeep, config.eventsMaxAgeDays);
  if (events > 0) log.info({ events }, 'pruned old events');
  for (const file of readdirSync(layout.log)) if (file.endsWith('.log')) rotateAppendLog(join(layout.log, file), config.logMaxBytes);
  pruneRotatedLogs(layout.log, config.logKeep);
  for (const app of store.appNames()) pruneRotatedLogs(layout.appLog(app), config.logKeep);
}
