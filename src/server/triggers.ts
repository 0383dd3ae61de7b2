import { watch, type FSWatcher } from 'chokidar';
import { existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join, relative, sep } from 'node:path';
import { parseUnitName } from '../plugins/deployers/unit-name.js';
import type { Hop3 } from './hop3.js';
import { housekeeping } from './housekeeping.js';
import { startProber } from './prober.js';
import { superviseHostServers } from './supervise.js';

/** Which app a managed file belongs to, if any. */
function appOfFile(path: string): string | null {
  const name = basename(path);
  if (name.startsWith('.')) return null; // atomic-write temporaries
  const unit = name.endsWith('.ini') ? parseUnitName(name.slice(0, -4)) : null;
  if (unit) return unit.app;
  const site = /^(?:hop3-)?([a-z0-9-]+)\.conf$/.exec(name);
  return site ? site[1]! : null;
}

/**
 * Apps that have files where hop3 keeps vassals and sites but no record (a destroy cut short,
 * a file put there by hand): a pass over them removes the files and records the drift.
 */
function orphans(h: Hop3): string[] {
  const found = new Set<string>();
  for (const dir of [h.layout.uwsgiAvailable, h.layout.uwsgiEnabled, dirname(h.plugins.proxy.sitePath('x'))]) {
    for (const file of existsSync(dir) ? readdirSync(dir) : []) {
      const app = appOfFile(file);
      // Only files with hop3's own names (a system nginx directory holds others too).
      if (app && (file.endsWith('.ini') || h.plugins.proxy.sitePath(app) === join(dir, file))) found.add(app);
    }
  }
  return [...found].filter((app) => h.store.getApp(app) === null);
}

/** How often every certificate is looked at for renewal (and at start, with the first resync). */
const CERT_CHECK_MS = 3_600_000;

/** The app whose certificate a path under certs/ belongs to (certs/<app>/...), if any. */
function appOfCertFile(certs: string, path: string): string | null {
  const [dir, file] = relative(certs, path).split(sep);
  if (!dir || dir === 'challenges' || dir.startsWith('.') || dir.startsWith('..') || file?.startsWith('.')) return null;
  return /^[a-z0-9][a-z0-9-]*$/.test(dir) ? dir : null;
}

/** Apps that have a certificate stored: the renewal timer looks at each. */
function appsWithCerts(h: Hop3): string[] {
  const dir = h.layout.certs;
  return (existsSync(dir) ? readdirSync(dir) : []).filter((n) => appOfCertFile(dir, join(dir, n, 'cert.pem')) !== null && h.store.getApp(n) !== null);
}

/** A look at every app, and at files of apps that have no record (at start and on resync). */
export function resyncAll(h: Hop3): void {
  try {
    housekeeping(h);
  } catch (err) {
    h.log.warn({ err }, 'housekeeping failed; retried on the next resync');
  }
  void h.reconciler.triggerAll();
  for (const app of orphans(h)) void h.reconciler.notice(app);
}

/**
 * Everything that makes the reconciler look at an app: record changes, files changed under the
 * directories hop3 manages, vassal processes that exited or came back, host servers that died
 * (restarted at once), requests through the proxy that fail or get through again, and a
 * periodic resync.
 */
export function startTriggers(h: Hop3): () => Promise<void> {
  const { reconciler, store, log } = h;
  const unsubscribe = store.onChange((app) => void reconciler.trigger(app));

  const dirs = [h.layout.uwsgiAvailable, h.layout.uwsgiEnabled, h.plugins.proxy.sitePath('x').replace(/\/[^/]*$/, '')];
  const watcher: FSWatcher = watch(dirs, { ignoreInitial: true, depth: 0 });
  watcher.on('all', (_event, path) => {
    const app = appOfFile(path);
    if (app) void reconciler.notice(app);
  });

  // A certificate or key deleted or replaced by hand is drift: its app gets a look at once.
  const certWatcher: FSWatcher = watch(h.layout.certs, { ignoreInitial: true, depth: 1 });
  // (Only apps with a record: a destroy removes its app's certificate in its own passes.)
  certWatcher.on('all', (_event, path) => {
    const app = appOfCertFile(h.layout.certs, path);
    if (app && h.store.getApp(app) !== null) void reconciler.notice(app);
  });
  // Renewal: the diff says when a certificate is inside its window; this makes sure it is asked.
  const renewal = setInterval(() => {
    for (const app of appsWithCerts(h)) void reconciler.notice(app);
  }, CERT_CHECK_MS);

  // The emperor's stats are the process-exit signal: a vassal's pid, respawn count or
  // readiness changing means its app needs a look.
  const seen = new Map<string, string>();
  let polling = false;
  const poll = setInterval(async () => {
    if (polling) return;
    polling = true;
    try {
      const stats = await h.supervisor.stats(1000);
      const byApp = new Map<string, string>();
      for (const [id, v] of stats) {
        const app = parseUnitName(id.replace(/\.ini$/, ''))?.app;
        if (app) byApp.set(app, `${byApp.get(app) ?? ''}${id}:${v.pid}:${v.respawns}:${v.ready}:${v.cursed};`);
      }
      for (const app of new Set([...seen.keys(), ...byApp.keys()])) {
        const sig = byApp.get(app) ?? '';
        if (seen.get(app) !== sig) void reconciler.notice(app);
        if (sig) seen.set(app, sig);
        else seen.delete(app);
      }
    } catch {
      // The emperor is down (the supervisor restarts it) or busy.
    } finally {
      polling = false;
    }
  }, 250);

  const stopSupervising = superviseHostServers(h, [h.supervisor, h.proxyServer]);
  const stopProber = startProber(h);

  const resync = setInterval(async () => {
    try {
      await h.supervisor.ensureRunning();
      await h.proxyServer.ensureRunning();
    } catch (err) {
      log.error({ err }, 'could not restart a managed server');
    }
    resyncAll(h);
  }, h.config.resyncMs);

  return async () => {
    unsubscribe();
    clearInterval(poll);
    clearInterval(resync);
    clearInterval(renewal);
    stopSupervising();
    await stopProber();
    await watcher.close();
    await certWatcher.close();
  };
}
