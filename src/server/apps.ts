import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { assertConfined, checkAppPaths, settleOwnership } from '../lib/confine.js';
import { operationalError, userError } from '../lib/errors.js';
import { secureAppDirs } from '../lib/layout.js';
import { assertValidSpec, loadAppDir } from '../manifest/index.js';
import type { AppSpec } from '../manifest/types.js';
import type { AppRecord, BuildArtifact, ReleaseRecord, ReleaseSource } from '../store/types.js';
import type { Hop3 } from './hop3.js';
import { allocatePorts } from './ports.js';
import { refValue, ZERO_SHA } from '../git/repo.js';
import { serverNames } from '../reconcile/desired.js';
import { recordedReleaseGroups, stopLeftoverReleaseCommand } from '../reconcile/execute.js';

/** The processes that listen on a port of their own. */
const HTTP_KINDS = new Set(['wsgi', 'web']);

export function requireApp(h: Hop3, name: string): AppRecord {
  const app = h.store.getApp(name);
  if (!app) throw userError('APP_NOT_FOUND', `no app named ${name}`, { hint: 'see `hop3 apps`' });
  return app;
}

/** Summary shown by `hop3 apps` and `hop3 status`. */
export function appView(h: Hop3, app: AppRecord) {
  const release = app.currentRelease === null ? null : `v${app.currentRelease}`;
  return {
    name: app.name,
    state: h.lifecycles.state(app.name),
    desiredState: app.desiredState,
    sync: app.sync,
    health: app.health,
    release,
    desiredRelease: app.desiredRelease === null ? null : `v${app.desiredRelease}`,
    generation: app.generation,
    observedGeneration: app.observedGeneration,
    message: app.message,
    urls: urlsOf(h, app),
    updatedAt: app.updatedAt,
  };
}

function urlsOf(h: Hop3, app: AppRecord): string[] {
  const release = app.currentRelease === null ? null : h.store.getRelease(app.name, app.currentRelease);
  if (!release) return [];
  const port = h.config.httpPort === 80 ? '' : `:${h.config.httpPort}`;
  return serverNames(app.name, release, h.config).map((host) => `http://${host}${port}/`);
}

export function releaseView(r: ReleaseRecord, current: number | null) {
  return {
    version: `v${r.version}`,
    commit: r.commit,
    source: r.source,
    createdAt: r.createdAt,
    status: r.status,
    current: r.version === current,
    message: r.message,
  };
}

/**
 * A host name serves one app: names under HOP3_DOMAIN are hop3's own (<app>.<HOP3_DOMAIN>), and
 * a domain another app's running or desired release declares stays that app's.
 */
function checkDomainsFree(h: Hop3, app: string, spec: AppSpec): void {
  const taken = new Map<string, string>();
  for (const other of h.store.listApps()) {
    if (other.name === app) continue;
    for (const v of new Set([other.currentRelease, other.desiredRelease])) {
      for (const d of (v === null ? null : h.store.getRelease(other.name, v))?.spec.domains ?? []) taken.set(d, other.name);
    }
  }
  for (const d of spec.domains) {
    const owner = taken.get(d);
    if (owner) throw userError('DOMAIN_TAKEN', `${d} is already served by app ${owner}`, { hint: 'remove it from that app first' });
    if (d === h.config.domain || d.endsWith(`.${h.config.domain}`)) {
      throw userError('DOMAIN_RESERVED', `${d} is under HOP3_DOMAIN (${h.config.domain}), whose names hop3 gives to apps`, { hint: `every app is served at <app>.${h.config.domain} already` });
    }
  }
}

/** Not an app name (those have no spaces), so it never meets an app's deploy lock. */
const RELEASES_LOCK = 'new release';

const httpProcesses = (spec: AppSpec) => spec.processes.filter((p) => HTTP_KINDS.has(p.kind)).map((p) => p.name);

interface ReleaseDraft {
  source: ReleaseSource; commit: string | null; spec: AppSpec; artifact: BuildArtifact | null; env?: Record<string, string>;
  /** The client's id for the call, so that a repeat of it finds this release (see rollOut). */
  requestId?: string | null;
  /** The branch a push deploys. */
  ref?: string | null;
}

/**
 * Create a release record (the reconciler builds and rolls it out once it is desired). Its env
 * is the spec's overlaid with `config set` values, unless given (a rollback restores an old one).
 * The checks and the port choice come first; then `within.before` (an env edit), the release,
 * its event and `within.after` (making it desired) are written in one transaction: all land or
 * none does.
 */
async function newRelease(
  h: Hop3, app: string, r: ReleaseDraft,
  within: { before?: () => void; after?: (release: ReleaseRecord) => void } = {},
): Promise<ReleaseRecord> {
  // Domains and ports are checked and recorded one release at a time, across apps, so no two
  // get the same.
  return h.deployLocks.run(RELEASES_LOCK, async () => {
    checkDomainsFree(h, app, r.spec);
    const ports = await allocatePorts(httpProcesses(r.spec), h.store.portsInUse(), h.config.portRange);
    return h.store.writeRetrying(() => {
      within.before?.();
      const env = r.env ?? { ...r.spec.env, ...h.store.getEnv(app) };
      const release = h.store.createRelease({ app, source: r.source, commit: r.commit, spec: r.spec, env, artifact: r.artifact, ports, requestId: r.requestId, ref: r.ref });
      h.store.addEvent(app, 'release.created', { release: release.version, source: r.source });
      within.after?.(release);
      return release;
    });
  });
}

/** Resolves once a release is live or failed (the rollout runs in the reconcile loop). */
async function settled(h: Hop3, app: string, version: number): Promise<void> {
  for (;;) {
    const status = h.store.getRelease(app, version)?.status;
    if (status === undefined || status === 'live' || status === 'failed' || status === 'retired') return;
    const a = h.store.getApp(app);
    // Stopped meanwhile: this deploy ends here, failed, so whoever waits for it hears so, and a
    // later start runs the release that was live.
    if (a && (a.desiredState !== 'running' || a.desiredRelease !== version)) {
      cancelRelease(h, app, version, `cancelled: ${app} was stopped during the deploy`);
      return;
    }
    await sleep(100);
  }
}

/**
 * Fail a release that is not live yet and stop its rollout (a rejected push, a deploy the user
 * gave up on). A release that already went live or failed is left as it is.
 */
export function cancelRelease(h: Hop3, app: string, version: number, reason: string) {
  const before = h.store.getRelease(app, version);
  if (!before) throw userError('RELEASE_NOT_FOUND', `${app} has no release v${version}`, { hint: `see \`hop3 releases ${app}\`` });
  const cancelled = h.store.transaction(() => {
    const failed = h.store.failRelease(app, version, reason);
    if (failed) h.store.addEvent(app, 'release.failed', { release: version, code: 'RELEASE_CANCELLED', message: reason });
    return failed;
  });
  if (cancelled) h.reconciler.abortRollout(app, version);
  return { app, release: `v${version}`, cancelled, status: h.store.getRelease(app, version)!.status };
}

/**
 * After a restart no push is still waiting for its release: its hook lost the daemon and
 * rejected the push, so the release must not go live later.
 */
export function cancelOrphanedPushes(h: Hop3): void {
  for (const r of h.store.pendingReleases()) {
    if (r.source === 'push') cancelRelease(h, r.app, r.version, 'cancelled: hop3-server restarted during the push; push again');
  }
}

/**
 * Release commands a killed daemon left running are stopped at start, those of releases that
 * will run again and of those just cancelled alike: neither may go on beside a new daemon.
 */
export async function stopLeftoverReleaseCommands(h: Hop3): Promise<void> {
  await Promise.all(recordedReleaseGroups(h.layout).map(({ app, file }) => stopLeftoverReleaseCommand({ app, store: h.store, log: h.log }, file, null)));
}

/**
 * Under the app's deploy lock (so deploys to one app happen one after another, each seeing the
 * one before), create a release and make it desired; hold the lock until it is live or failed.
 * `start`: a deploy runs its release; a config change or rollback of a stopped app only records
 * it, for the next start. `create` may call `desire` inside the transaction that records the
 * release; otherwise it is made desired after. Resolves once the release is recorded.
 */
function rollOut<R extends ReleaseRecord | null>(
  h: Hop3, app: string, start: boolean, create: (desire: (release: ReleaseRecord) => void) => Promise<R>, requestId?: string,
): Promise<R> {
  return new Promise((resolve, reject) => {
    void h.deployLocks.run(app, async () => {
      // A repeat of a call that was recorded (its client lost the daemon before the answer, and
      // sent it again) gets the release it made, and records nothing new.
      const seen = requestId === undefined || h.store.getApp(app) === null ? null : h.store.releaseByRequest(app, requestId);
      if (seen) {
        resolve(seen as R);
        return;
      }
      let desired = false;
      const desire = (r: ReleaseRecord) => {
        h.store.updateDesired(app, { desiredRelease: r.version, ...(start ? { desiredState: 'running' } : {}) });
        desired = true;
      };
      let release: R;
      try {
        release = await create(desire);
        if (release && !desired) await h.store.writeRetrying(() => desire(release!));
      } catch (err) {
        reject(err);
        return;
      }
      resolve(release);
      if (release && h.store.getApp(app)?.desiredState === 'running') await settled(h, app, release.version);
    }).catch((err: unknown) => h.log.error({ app, err }, 'deploy lock holder failed'));
  });
}

/** What a deploy, config change or rollback answers: the release, and whether it will roll out now. */
const recorded = (h: Hop3, app: string, r: ReleaseRecord) => ({
  app, release: `v${r.version}`, version: r.version, desiredState: h.store.getApp(app)?.desiredState ?? 'stopped',
});

/**
 * Deploy an app directory that `unpack` writes (an upload or a pushed commit). The tree and the
 * spec are checked before anything is recorded: a link out of the app or a bad hop3.toml
 * changes nothing and the running release keeps serving.
 */
export async function deployArchive(
  h: Hop3, app: string, unpack: (dest: string) => Promise<void>,
  opts: { commit: string | null; push: { ref: string; old: string } | null; requestId?: string },
) {
  const appDir = h.layout.app(app);
  const incoming = join(appDir, 'releases', `.incoming-${randomBytes(6).toString('hex')}`);
  const src = join(incoming, 'src');
  mkdirSync(src, { recursive: true });
  try {
    await unpack(src);
    assertConfined(src);
    const spec = assertValidSpec(loadAppDir(src));
    checkAppPaths(src, spec);
    settleOwnership(src, h.plugins.proxy.fileReader());
    const release = await rollOut(h, app, true, async () => {
      if (opts.push) await checkBranchUnmoved(h, app, opts.push);
      // The first deploy creates the app; a refused first deploy leaves nothing behind.
      const isNew = h.store.getApp(app) === null;
      h.store.createApp(app);
      let r: ReleaseRecord;
      try {
        r = await newRelease(h, app, { source: opts.push ? 'push' : 'rpc', commit: opts.commit, spec, artifact: null, requestId: opts.requestId, ref: opts.push?.ref ?? null });
      } catch (err) {
        if (isNew) h.store.deleteApp(app);
        throw err;
      }
      const releaseDir = h.layout.releaseDir(app, r.version);
      rmSync(releaseDir, { recursive: true, force: true });
      renameSync(incoming, releaseDir);
      for (const d of ['data', 'log']) mkdirSync(join(appDir, d), { recursive: true, mode: 0o700 });
      secureAppDirs(h.layout, app);
      return r;
    }, opts.requestId);
    return recorded(h, app, release);
  } finally {
    // A refused unpack may still be closing its last file.
    rmSync(incoming, { recursive: true, force: true, maxRetries: 5 });
  }
}

/**
 * A push deploys only if its branch still points where the pusher saw it: an HTTP push that
 * raced another would otherwise deploy code its branch then refuses to record.
 */
async function checkBranchUnmoved(h: Hop3, app: string, push: { ref: string; old: string }): Promise<void> {
  const current = (await refValue(h.layout, app, push.ref)) ?? '0'.repeat(40);
  if (current !== push.old && !(ZERO_SHA.test(current) && ZERO_SHA.test(push.old))) {
    throw userError('BRANCH_MOVED', `${push.ref} moved to ${current.slice(0, 12)} while this push was prepared`, { hint: 'fetch, rebase or merge, and push again' });
  }
}

/**
 * A config change makes a new release from the same build, with the new environment. `edit`
 * changes the env records; it lands in the same transaction as the release (or alone, while
 * the app has no build yet), so a change that fails leaves env and releases as they were.
 */
export async function releaseConfigChange(h: Hop3, name: string, edit: () => void, requestId?: string) {
  const release = await rollOut(h, name, false, async (desire) => {
    // Chosen under the lock: a deploy that was in progress is the base once it is live.
    const app = requireApp(h, name);
    const base = [app.desiredRelease, app.currentRelease]
      .map((v) => (v === null ? null : h.store.getRelease(app.name, v)))
      .find((r) => r?.artifact && r.status !== 'failed');
    if (!base) {
      await h.store.writeRetrying(edit);
      return null;
    }
    return newRelease(h, name, { source: 'config', commit: base.commit, spec: base.spec, artifact: base.artifact, requestId }, { before: edit, after: desire });
  }, requestId);
  return release && recorded(h, name, release);
}

/**
 * Roll back to an earlier release (default: the one that was live before the current one):
 * a new release from its build, spec and environment, with no build step.
 */
export async function rollback(h: Hop3, name: string, version: number | undefined, opts: { onlyFrom?: number; requestId?: string } = {}) {
  requireApp(h, name);
  let from: ReleaseRecord | undefined;
  const release = await rollOut(h, name, false, async (desire) => {
    // Chosen under the lock, once any deploy in progress is live or failed.
    const app = requireApp(h, name);
    if (opts.onlyFrom !== undefined && h.store.listReleases(name).find((r) => r.status === 'live')?.version !== opts.onlyFrom) {
      throw userError('ROLLBACK_SUPERSEDED', `${name} no longer runs v${opts.onlyFrom}: not rolling back`);
    }
    const releases = h.store.listReleases(name);
    from = version === undefined
      ? releases.find((r) => r.status === 'retired' && r.artifact)
      : releases.find((r) => r.version === version);
    if (!from) {
      throw userError('ROLLBACK_NO_TARGET', version === undefined ? `${name} has no earlier good release to roll back to` : `${name} has no release v${version}`, {
        hint: `see \`hop3 releases ${name}\``,
      });
    }
    if (from.status !== 'live' && from.status !== 'retired') {
      throw userError('ROLLBACK_NOT_GOOD', `v${from.version} never went live (${from.status}${from.message ? `: ${from.message}` : ''})`, {
        hint: `roll back to a release that served: see \`hop3 releases ${name}\``,
      });
    }
    if (!from.artifact || !existsSync(join(h.layout.home, from.artifact.dir))) {
      throw userError('ROLLBACK_NO_ARTIFACT', `the build of v${from.version} is not available (it was pruned)`, { hint: 'HOP3_KEEP_RELEASES sets how many builds are kept' });
    }
    // The configuration goes back too, or the next change would bring the rolled-back values back.
    const good = from;
    const configured = Object.fromEntries(Object.entries(good.env).filter(([k, v]) => good.spec.env[k] !== v));
    return newRelease(h, name, { source: 'rollback', commit: good.commit, spec: good.spec, artifact: good.artifact, env: good.env, requestId: opts.requestId }, {
      before: () => {
        h.store.replaceEnv(name, configured);
        h.store.addEvent(name, 'config.changed', { set: Object.keys(configured), restoredFrom: good.version });
      },
      after: desire,
    });
  }, opts.requestId);
  // A repeated call (see rollOut) answers with the release without choosing again.
  return { ...recorded(h, name, release), from: from ? `v${from.version}` : null };
}

/** Stop the app, wait until its processes and site are gone, then delete its files and records. */
export async function destroyApp(h: Hop3, name: string): Promise<void> {
  // A repository pushed to with no deploy (only other branches) has no record yet.
  if (!h.store.getApp(name) && existsSync(h.layout.app(name))) {
    await h.deployLocks.run(name, () => forgetApp(h, name));
    return;
  }
  requireApp(h, name);
  // Under the deploy lock: no deploy of this app can start (or recreate it) halfway.
  await h.deployLocks.run(name, async () => {
    h.store.updateDesired(name, { desiredState: 'stopped' });
    await h.reconciler.trigger(name);
    const error = h.reconciler.lastPass.get(name)?.error;
    if (error) {
      throw operationalError('DESTROY_INCOMPLETE', `could not stop ${name}: ${error}`, { hint: 'it is stopped as far as possible; run destroy again' });
    }
    await forgetApp(h, name);
  });
}

/** Delete an app that no longer runs: records, history, files. */
async function forgetApp(h: Hop3, name: string): Promise<void> {
  h.store.deleteApp(name);
  h.store.deleteAppHistory(name);
  h.store.addEvent(name, 'app.destroyed', {});
  await h.reconciler.trigger(name); // with no record: removes anything left
  h.lifecycles.forget(name);
  h.reconciler.forget(name);
  rmSync(h.layout.app(name), { recursive: true, force: true });
}
