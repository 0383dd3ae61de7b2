import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { userError } from '../lib/errors.js';
import type { ReleaseRecord } from '../store/types.js';
import { admit } from './admit.js';
import type { Caller } from './authorize.js';
import type { CommandContext } from './context.js';
import { cancelRelease, newRelease, recorded, rollOut } from './release-records.js';
import { requireApp } from './views.js';

export interface RollbackInput {
  app: string;
  /** Default: the release that was live before the current one. */
  version?: number | undefined;
  /** Roll back only while this release is the live one (an unlanded push's undo). */
  onlyFrom?: number | undefined;
  requestId?: string | undefined;
}

/**
 * Roll back to an earlier release: a new release from its build, spec and environment, with no
 * build step.
 */
export async function rollback(ctx: CommandContext, caller: Caller, p: RollbackInput) {
  admit(caller, 'releases.rollback', p.app);
  const name = p.app;
  requireApp(ctx, name);
  let from: ReleaseRecord | undefined;
  const release = await rollOut(ctx, name, false, async (desire) => {
    // Chosen under the lock, once any deploy in progress is live or failed.
    requireApp(ctx, name);
    if (p.onlyFrom !== undefined && ctx.store.listReleases(name).find((r) => r.status === 'live')?.version !== p.onlyFrom) {
      throw userError('ROLLBACK_SUPERSEDED', `${name} no longer runs v${p.onlyFrom}: not rolling back`);
    }
    const releases = ctx.store.listReleases(name);
    from = p.version === undefined
      ? releases.find((r) => r.status === 'retired' && r.artifact)
      : releases.find((r) => r.version === p.version);
    if (!from) {
      throw userError('ROLLBACK_NO_TARGET', p.version === undefined ? `${name} has no earlier good release to roll back to` : `${name} has no release v${p.version}`, {
        hint: `see \`hop3 releases ${name}\``,
      });
    }
    if (from.status !== 'live' && from.status !== 'retired') {
      throw userError('ROLLBACK_NOT_GOOD', `v${from.version} never went live (${from.status}${from.message ? `: ${from.message}` : ''})`, {
        hint: `roll back to a release that served: see \`hop3 releases ${name}\``,
      });
    }
    if (!from.artifact || !existsSync(join(ctx.layout.home, from.artifact.dir))) {
      throw userError('ROLLBACK_NO_ARTIFACT', `the build of v${from.version} is not available (it was pruned)`, { hint: 'HOP3_KEEP_RELEASES sets how many builds are kept' });
    }
    // The configuration goes back too, or the next change would bring the rolled-back values back.
    const good = from;
    const configured = Object.fromEntries(Object.entries(good.env).filter(([k, v]) => good.spec.env[k] !== v));
    return newRelease(ctx, name, { source: 'rollback', commit: good.commit, spec: good.spec, artifact: good.artifact, env: good.env, requestId: p.requestId }, {
      before: () => {
        ctx.store.replaceEnv(name, configured);
        ctx.store.addEvent(name, 'config.changed', { set: Object.keys(configured), restoredFrom: good.version });
      },
      after: desire,
    });
  }, p.requestId);
  // A repeated call (see rollOut) answers with the release without choosing again.
  return { ...recorded(ctx, name, release), from: from ? `v${from.version}` : null };
}

/** `hop3 cancel`: fail a release still being deployed (default: the one in progress). */
export function cancel(ctx: CommandContext, caller: Caller, p: { app: string; version?: number | undefined; reason?: string | undefined }) {
  admit(caller, 'releases.cancel', p.app);
  const a = requireApp(ctx, p.app);
  const inProgress = a.desiredRelease === null ? null : ctx.store.getRelease(a.name, a.desiredRelease);
  const v = p.version ?? (inProgress?.status === 'pending' || inProgress?.status === 'built' ? inProgress.version : null);
  if (v === null) {
    throw userError('NOTHING_TO_CANCEL', `${a.name} has no deploy in progress`, { hint: `see \`hop3 releases ${a.name}\`` });
  }
  return cancelRelease(ctx, a.name, v, `cancelled: ${p.reason ?? 'by request'}`);
}

/**
 * After a restart no push is still waiting for its release: its hook lost the daemon and
 * rejected the push, so the release must not go live later.
 */
export function cancelOrphanedPushes(ctx: CommandContext): void {
  for (const r of ctx.store.pendingReleases()) {
    if (r.source === 'push') cancelRelease(ctx, r.app, r.version, 'cancelled: hop3-server restarted during the push; push again');
  }
}
