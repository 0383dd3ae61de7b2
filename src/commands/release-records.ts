import { setTimeout as sleep } from 'node:timers/promises';
import { userError } from '../lib/errors.js';
import type { AppSpec } from '../manifest/types.js';
import { instancesOf, PORT_KINDS, SCALABLE_KINDS, type ScaleCounts } from '../manifest/instances.js';
import { allocatePorts } from './ports.js';
import type { BuildArtifact, ReleaseRecord, ReleaseSource } from '../store/types.js';
import type { CommandContext } from './context.js';

/**
 * What deploy, config set/unset and rollback share: recording a release and making it desired,
 * one at a time per app, in one transaction each.
 */

/** Not an app name (those have no spaces), so it never meets an app's deploy lock. */
const RELEASES_LOCK = 'new release';

/** The instances that listen on a port of their own: one port each. */
const portedInstances = (spec: AppSpec, scale: ScaleCounts) => instancesOf(spec, scale).filter((i) => PORT_KINDS.has(i.kind)).map((i) => i.name);

/** The counts a release of `spec` runs: the app's, for the process types the spec has. */
function countsFor(spec: AppSpec, counts: ScaleCounts): ScaleCounts {
  return Object.fromEntries(spec.processes.filter((p) => SCALABLE_KINDS.has(p.kind) && counts[p.name] !== undefined).map((p) => [p.name, counts[p.name]!]));
}

/**
 * A host name serves one app: names under HOP3_DOMAIN are hop3's own (<app>.<HOP3_DOMAIN>), and
 * a domain another app's running or desired release declares stays that app's.
 */
function checkDomainsFree(ctx: CommandContext, app: string, spec: AppSpec): void {
  const taken = new Map<string, string>();
  for (const other of ctx.store.listApps()) {
    if (other.name === app) continue;
    for (const v of new Set([other.currentRelease, other.desiredRelease])) {
      for (const d of (v === null ? null : ctx.store.getRelease(other.name, v))?.spec.domains ?? []) taken.set(d, other.name);
    }
  }
  for (const d of spec.domains) {
    const owner = taken.get(d);
    if (owner) throw userError('DOMAIN_TAKEN', `${d} is already served by app ${owner}`, { hint: 'remove it from that app first' });
    if (d === ctx.config.domain || d.endsWith(`.${ctx.config.domain}`)) {
      throw userError('DOMAIN_RESERVED', `${d} is under HOP3_DOMAIN (${ctx.config.domain}), whose names hop3 gives to apps`, { hint: `every app is served at <app>.${ctx.config.domain} already` });
    }
  }
}

export interface ReleaseDraft {
  source: ReleaseSource; commit: string | null; spec: AppSpec; artifact: BuildArtifact | null; env?: Record<string, string>;
  /** The client's id for the call, so that a repeat of it finds this release (see rollOut). */
  requestId?: string | null | undefined;
  /** The branch a push deploys. */
  ref?: string | null;
  /** Instance counts (a scale change); absent: the app's recorded ones. */
  scale?: ScaleCounts;
}

/**
 * Create a release record (the reconciler builds and rolls it out once it is desired). Its env
 * is the spec's overlaid with `config set` values, unless given (a rollback restores an old one).
 * The checks and the port choice come first; then `within.before` (an env edit), the release,
 * its event and `within.after` (making it desired) are written in one transaction: all land or
 * none does.
 */
export async function newRelease(
  ctx: CommandContext, app: string, r: ReleaseDraft,
  within: { before?: () => void; after?: (release: ReleaseRecord) => void } = {},
): Promise<ReleaseRecord> {
  // Domains and ports are checked and recorded one release at a time, across apps, so no two
  // get the same.
  return ctx.deployLocks.run(RELEASES_LOCK, async () => {
    checkDomainsFree(ctx, app, r.spec);
    // Every release runs the app's current counts (a push, config change or rollback too); scale
    // changes go through this lock as well, so the counts cannot move between here and the write.
    const scale = countsFor(r.spec, r.scale ?? ctx.store.getScale(app));
    const ports = await allocatePorts(portedInstances(r.spec, scale), ctx.store.portsInUse(), ctx.config.portRange);
    return ctx.store.writeRetrying(() => {
      within.before?.();
      const env = r.env ?? { ...r.spec.env, ...ctx.store.getEnv(app) };
      const release = ctx.store.createRelease({ app, source: r.source, commit: r.commit, spec: r.spec, env, artifact: r.artifact, ports, scale, requestId: r.requestId, ref: r.ref });
      ctx.store.addEvent(app, 'release.created', { release: release.version, source: r.source });
      within.after?.(release);
      return release;
    });
  });
}

/**
 * Fail a release that is not live yet and stop its rollout (a rejected push, a deploy the user
 * gave up on). A release that already went live or failed is left as it is.
 */
export function cancelRelease(ctx: CommandContext, app: string, version: number, reason: string) {
  const before = ctx.store.getRelease(app, version);
  if (!before) throw userError('RELEASE_NOT_FOUND', `${app} has no release v${version}`, { hint: `see \`hop3 releases ${app}\`` });
  const cancelled = ctx.store.transaction(() => {
    const failed = ctx.store.failRelease(app, version, reason);
    if (failed) ctx.store.addEvent(app, 'release.failed', { release: version, code: 'RELEASE_CANCELLED', message: reason });
    return failed;
  });
  if (cancelled) ctx.reconciler.abortRollout(app, version);
  return { app, release: `v${version}`, cancelled, status: ctx.store.getRelease(app, version)!.status };
}

/** Resolves once a release is live or failed (the rollout runs in the reconcile loop). */
async function settled(ctx: CommandContext, app: string, version: number): Promise<void> {
  for (;;) {
    const status = ctx.store.getRelease(app, version)?.status;
    if (status === undefined || status === 'live' || status === 'failed' || status === 'retired') return;
    const a = ctx.store.getApp(app);
    // Stopped meanwhile: this deploy ends here, failed, so whoever waits for it hears so, and a
    // later start runs the release that was live.
    if (a && (a.desiredState !== 'running' || a.desiredRelease !== version)) {
      cancelRelease(ctx, app, version, `cancelled: ${app} was stopped during the deploy`);
      return;
    }
    await sleep(100);
  }
}

/**
 * Under the app's deploy lock (so deploys to one app happen one after another, each seeing the
 * one before), create a release and make it desired; hold the lock until it is live or failed.
 * `start`: a deploy runs its release; a config change or rollback of a stopped app only records
 * it, for the next start. `create` may call `desire` inside the transaction that records the
 * release; otherwise it is made desired after. Resolves once the release is recorded.
 */
export function rollOut<R extends ReleaseRecord | null>(
  ctx: CommandContext, app: string, start: boolean, create: (desire: (release: ReleaseRecord) => void) => Promise<R>, requestId?: string,
): Promise<R> {
  return new Promise((resolve, reject) => {
    void ctx.deployLocks.run(app, async () => {
      // A repeat of a call that was recorded (its client lost the daemon before the answer, and
      // sent it again) gets the release it made, and records nothing new.
      const seen = requestId === undefined || ctx.store.getApp(app) === null ? null : ctx.store.releaseByRequest(app, requestId);
      if (seen) {
        resolve(seen as R);
        return;
      }
      let desired = false;
      const desire = (r: ReleaseRecord) => {
        ctx.store.updateDesired(app, { desiredRelease: r.version, ...(start ? { desiredState: 'running' } : {}) });
        desired = true;
      };
      let release: R;
      try {
        release = await create(desire);
        if (release && !desired) await ctx.store.writeRetrying(() => desire(release!));
      } catch (err) {
        reject(err);
        return;
      }
      resolve(release);
      if (release && ctx.store.getApp(app)?.desiredState === 'running') await settled(ctx, app, release.version);
    }).catch((err: unknown) => ctx.log.error({ app, err }, 'deploy lock holder failed'));
  });
}

/** What a deploy, config change or rollback answers: the release, and whether it will roll out now. */
export const recorded = (ctx: CommandContext, app: string, r: ReleaseRecord) => ({
  app, release: `v${r.version}`, version: r.version, desiredState: ctx.store.getApp(app)?.desiredState ?? 'stopped',
});
