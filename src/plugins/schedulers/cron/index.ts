import { nextRun, parseCron } from '../../../lib/cron.js';
import type { ReleaseRecord } from '../../../store/types.js';
import { processEnv } from '../../process-env.js';
import type { DesiredResource } from '../../provider.js';
import type { PluginContext, ScheduledEntry, Scheduler } from '../../types.js';
import { cronDir, entryFiles, entryName, listEntries, parseEntry, renderEntry } from './entry-files.js';
import { CRON_KIND, cronEntryProvider, type CronEntrySpec } from './entry-provider.js';
import { CronScheduler, readLastRun } from './scheduler.js';
import { readTextOrNull } from '../../../lib/fs-atomic.js';
import { recordedGroupRuns } from '../../../lib/process-group.js';

/**
 * Procfile `cron:` processes, run by hop3-server itself on their 5-field schedule (UTC, see
 * src/lib/cron.ts), in the environment the release's other processes get.
 */
export default function cronScheduler(ctx: PluginContext): Scheduler {
  const { layout, config } = ctx;
  const dir = cronDir(layout);
  let scheduler: CronScheduler | null = null;
  // Outside the daemon (a test, a CLI) no scheduler runs here, but a run may: its group says so.
  const inFlight = (name: string) => scheduler?.inFlight(name) ?? recordedGroupRuns(entryFiles(dir, name).pgid);
  return {
    kind: 'scheduler',
    name: 'cron',
    providers: [cronEntryProvider(layout, inFlight)],
    plan(release: ReleaseRecord): DesiredResource<CronEntrySpec>[] {
      return release.spec.processes.filter((p) => p.kind === 'cron').map((p) => {
        const { env, cwd } = processEnv(layout, release, p.name);
        const name = entryName(release.app, p.name);
        const content = renderEntry({ app: release.app, process: p.name, release: release.version, schedule: p.schedule!, command: p.command, cwd, env });
        return { kind: CRON_KIND, name, spec: { path: entryFiles(dir, name).entry, content } };
      });
    },
    start(record) {
      scheduler ??= new CronScheduler({
        dir, exec: ctx.exec, log: ctx.log.child({ component: 'cron' }), clock: () => new Date(), timeoutMs: config.cronTimeoutMs, record,
      });
      scheduler.start();
    },
    async stop() {
      await scheduler?.stop();
    },
    entries(app, now): ScheduledEntry[] {
      return listEntries(dir, app).flatMap(({ name }) => {
        const files = entryFiles(dir, name);
        const e = parseEntry(readTextOrNull(files.entry) ?? '');
        if (!e) return [];
        let next: Date | null = null;
        try {
          next = nextRun(parseCron(e.schedule), now);
        } catch {
          // Not a schedule hop3 wrote: it never runs.
        }
        const last = readLastRun(files.last);
        return [{
          process: e.process, release: e.release, schedule: e.schedule, command: e.command, running: inFlight(name),
          lastRun: last ? { startedAt: last.startedAt, endedAt: last.endedAt, outcome: last.outcome, exitCode: last.exitCode } : null,
          nextRun: next?.toISOString() ?? null,
        }];
      });
    },
  };
}
