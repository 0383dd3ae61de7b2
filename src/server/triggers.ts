import { watch, type FSWatcher } from 'chokidar';
import { existsSync, readdirSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { parseUnitName } from '../plugins/deployers/unit-name.js';
import type { Hop3 } from './hop3.js';
import { housekeeping } from './housekeeping.js';
import { startProber } from './prober.js';

/** How often host resources are looked at: a dead server is restarted within about this. */
const HOST_LOOK_MS = 250;

/** Which app a file under a provider's watched directories belongs to, if any. */
function appOfFile(h: Hop3, path: string): string | null {
  if (basename(path).startsWith('.')) return null; // atomic-write temporaries
  for (const p of h.plugins.providers) {
    const app = p.ownerOf?.(path);
    if (app) return app;
  }
  return null;
}

/**
 * Apps that have resources on the machine but no record (a destroy cut short, a file put there
 * by hand): a pass over them removes what is left and records the drift.
 */
function orphans(h: Hop3): string[] {
  const found = new Set(h.plugins.providers.flatMap((p) => p.owners?.() ?? []));
  return [...found].filter((app) => h.store.getApp(app) === null);
}

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
 * Everything that makes the reconciler look at an owner: record changes, files changed under the
 * directories its providers name, unit processes that exited or came back, a host server's pid
 * that changed (a look every 250 ms: the host pass restarts a dead one at once), requests through
 * the proxy that fail or get through again, and a periodic resync.
 */
export function startTriggers(h: Hop3): () => Promise<void> {
  const { reconciler, store } = h;
  const unsubscribe = store.onChange((app) => void reconciler.trigger(app));

  const dirs = [...new Set(h.plugins.providers.flatMap((p) => p.watchPaths?.() ?? []))];
  const watcher: FSWatcher = watch(dirs, { ignoreInitial: true, depth: 0 });
  watcher.on('all', (_event, path) => {
    const app = appOfFile(h, path);
    if (app) void reconciler.notice(app);
  });

  // A certificate or key deleted or replaced by hand is drift: its app gets a look at once.
  const certWatcher: FSWatcher = watch(h.layout.certs, { ignoreInitial: true, depth: 1 });
  // (Only apps with a record: a destroy removes its app's certificate in its own passes.)
  certWatcher.on('all', (_event, path) => {
    const app = appOfCertFile(h.layout.certs, path);
    if (app && h.store.getApp(app) !== null) void reconciler.notice(app);
  });
  // Renewal: the diff says when a certificate is inside its window; this makes sure it is asked
  // (hourly by default, and at start with the first resync). A look at a certificate that is fine
  // reads its files and plans nothing.
  const renewal = setInterval(() => {
    for (const app of appsWithCerts(h)) void reconciler.notice(app);
  }, h.config.certCheckMs);

  // The unit supervisor's stats are the process-exit signal: a unit's pid, respawn count or
  // readiness changing means its app needs a look.
  const seen = new Map<string, string>();
  let polling = false;
  const poll = setInterval(async () => {
    if (polling) return;
    polling = true;
    try {
      const stats = await h.plugins.supervisor.stats(1000);
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
      // The unit supervisor is down (the host pass restarts it) or busy.
    } finally {
      polling = false;
    }
  }, 250);

  // Host resources: a cheap look (pid files and /proc, no spawn); any change, a death above all,
  // makes the host pass look, which restarts what is down (retried with backoff when it fails).
  const glance = () => h.plugins.hostProviders.map((p) => `${p.kind}=${p.host?.glance() ?? ''}`).join(' ');
  let glanced = glance();
  const hostLook = setInterval(() => {
    const now = glance();
    if (now === glanced) return;
    glanced = now;
    void reconciler.noticeHost();
  }, HOST_LOOK_MS);

  // What changes without a file or process hop3 watches (a proxy config changed through its own API).
  const unwatch = [...h.plugins.providers, ...h.plugins.hostProviders].map((p) => p.watch?.((owner) => void reconciler.notice(owner)));
  const stopProber = startProber(h);

  // Also looks at the host (Reconciler.triggerAll).
  const resync = setInterval(() => resyncAll(h), h.config.resyncMs);

  return async () => {
    unsubscribe();
    clearInterval(poll);
    clearInterval(resync);
    clearInterval(renewal);
    clearInterval(hostLook);
    for (const u of unwatch) u?.();
    await stopProber();
    await watcher.close();
    await certWatcher.close();
  };
}
