import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { operationalError } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { livePid } from '../lib/pidfile.js';
import { nameOfSubject } from '../plugins/addons/backups/backups.js';
import { BackupScheduler } from '../plugins/addons/backups/scheduler.js';
import { readTextOrNull } from '../lib/fs-atomic.js';
import { createHttpServer } from './http.js';
import { cancelOrphanedPushes } from '../commands/releases.js';
import { stopLeftoverRuns } from '../commands/run.js';
import { recordedCommandGroups, stopLeftoverCommand } from '../reconcile/execute.js';
import { PUSH_LOCK_WAIT_S, rollBackUnlandedPushes } from './unlanded-pushes.js';
import { createHop3, type Hop3 } from './hop3.js';
import { ensureAdminToken } from './token.js';
import { resyncAll, startTriggers } from './triggers.js';

/**
 * App ports inside the kernel's range for outgoing connections can be taken by any connection
 * the machine makes, and a new release then fails to bind: say so once, at start.
 */
function warnIfEphemeral(config: Config, log: Logger): void {
  const m = /^(\d+)\s+(\d+)/.exec(readTextOrNull('/proc/sys/net/ipv4/ip_local_port_range') ?? '');
  if (!m) return;
  const [from, to] = [Number(m[1]), Number(m[2])];
  if (config.portRange.from <= to && config.portRange.to >= from) {
    log.warn({ portRange: config.portRange, ephemeral: { from, to } },
      'HOP3_PORT_RANGE overlaps the kernel ephemeral ports (net.ipv4.ip_local_port_range): outgoing connections may take an app port; choose a range outside it');
  }
}

/**
 * Build and release commands a killed daemon left running are stopped at start, those of
 * releases that will run again and of those just cancelled alike: none may go on beside a new
 * daemon. So are one-off commands (`hop3 run`), whose client lost them with the daemon.
 */
async function stopLeftoverAppCommands(h: Hop3): Promise<void> {
  await Promise.all([
    ...recordedCommandGroups(h.layout).map(({ app, file, phase }) => stopLeftoverCommand({ app, store: h.store, log: h.log }, file, null, phase)),
    stopLeftoverRuns(h.layout, h.log),
  ]);
}

/** Schedules are looked at twice a minute; a run started more than two minutes late is a missed one. */
const BACKUP_TICK_MS = 30_000;
const BACKUP_GRACE_MS = 120_000;

/**
 * `hop3-server serve`: start (or adopt) the host resources (the unit supervisor, the proxy), serve the API, reconcile.
 * On SIGTERM/SIGINT it stops taking work, interrupts rollouts in flight (they resume at the next
 * start) and leaves apps running.
 */
export async function serve(config: Config, log: Logger): Promise<void> {
  const h = createHop3(config, log);
  const pidfile = join(h.layout.run, 'hop3-server.pid');
  const other = livePid(pidfile, 'hop3-server');
  if (other && other !== process.pid) {
    throw operationalError('ALREADY_RUNNING', `hop3-server is already running for ${config.home} (pid ${other})`);
  }
  writeFileSync(pidfile, `${process.pid}\n`);
  const token = ensureAdminToken(h.layout);

  // The host pass first, before any app pass: it starts the proxy's server first, so when that
  // cannot start (its port taken) the daemon stops before starting anything else, and leaves
  // nothing running behind it.
  try {
    await h.reconciler.startHost();
  } catch (err) {
    h.store.close();
    rmSync(pidfile, { force: true });
    throw err;
  }
  const servers = Object.fromEntries(h.plugins.hostProviders.map((p) => [p.kind, p.host?.glance()]));
  log.info({ ...servers, proxyName: h.plugins.proxy.name, home: config.home }, 'managed servers ready');
  warnIfEphemeral(config, log);

  cancelOrphanedPushes(h);
  // Before any pass can run a build or release phase again.
  await stopLeftoverAppCommands(h);
  const stopTriggers = startTriggers(h);
  // Before the API answers, so that nobody reads an unlanded push as what went live; a push still
  // holding its lock needs the API to end, and is checked once it answers.
  const pushesInFlight = await rollBackUnlandedPushes(h, 0);
  const http = createHttpServer(h, token);
  await http.listen({ host: config.listen.host, port: config.listen.port });
  log.info({ listen: `${config.listen.host}:${config.listen.port}`, httpPort: config.httpPort }, 'hop3-server ready');
  resyncAll(h);
  const backupScheduler = new BackupScheduler({
    clock: () => new Date(), tickMs: BACKUP_TICK_MS, graceMs: BACKUP_GRACE_MS, log: log.child({ component: 'backup-schedule' }), schedules: h.backups.schedules,
    backup: (subject) => h.backups.backups.create(nameOfSubject(subject), 'schedule'),
    prune: (subject, keep) => h.backups.backups.prune(nameOfSubject(subject), keep),
  });
  // A run missed while the daemon was down is owed now, and runs at this first tick.
  backupScheduler.start();
  for (const s of h.plugins.schedulers) s.start((app, e) => h.store.addEvent(app, e.kind, e.data as never));
  if (pushesInFlight.size > 0) void rollBackUnlandedPushes(h, PUSH_LOCK_WAIT_S, pushesInFlight);

  await new Promise<void>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, 'shutting down: interrupting rollouts in flight; apps keep running');
      void (async () => {
        // Rollouts first: an RPC that waits for a pass (start, stop) would otherwise hold the
        // HTTP server open until a probe or build of that pass ended.
        await stopTriggers();
        // A backup under way finishes (its scratch instance is dropped); none starts.
        await backupScheduler.stop();
        // Cron runs under way are stopped (and recorded as such): their output comes to this process.
        await Promise.all(h.plugins.schedulers.map((s) => s.stop()));
        await h.reconciler.close();
        await http.close();
        h.lifecycles.close();
        h.store.close();
        if (readFileSync(pidfile, 'utf8').trim() === String(process.pid)) rmSync(pidfile, { force: true });
        log.info('stopped');
        resolve();
      })();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}
