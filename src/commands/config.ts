import { admit } from './admit.js';
import type { Caller } from './authorize.js';
import type { CommandContext } from './context.js';
import { newRelease, recorded, rollOut } from './release-records.js';
import { requireApp } from './views.js';

/**
 * A config change makes a new release from the same build, with the new environment. `edit`
 * changes the env records; it lands in the same transaction as the release (or alone, while
 * the app has no build yet), so a change that fails leaves env and releases as they were.
 */
export async function releaseConfigChange(ctx: CommandContext, name: string, edit: () => void, requestId?: string) {
  const release = await rollOut(ctx, name, false, async (desire) => {
    // Chosen under the lock: a deploy that was in progress is the base once it is live.
    const app = requireApp(ctx, name);
    const base = [app.desiredRelease, app.currentRelease]
      .map((v) => (v === null ? null : ctx.store.getRelease(app.name, v)))
      .find((r) => r?.artifact && r.status !== 'failed');
    if (!base) {
      await ctx.store.writeRetrying(edit);
      return null;
    }
    return newRelease(ctx, name, { source: 'config', commit: base.commit, spec: base.spec, artifact: base.artifact, requestId }, { before: edit, after: desire });
  }, requestId);
  return release && recorded(ctx, name, release);
}

/** `hop3 config set`: values are already checked (names and values) by the caller's schema. */
export async function configSet(ctx: CommandContext, caller: Caller, p: { app: string; values: Record<string, string>; requestId?: string | undefined }) {
  admit(caller, 'config.write', p.app);
  requireApp(ctx, p.app);
  return {
    app: p.app,
    ...(await releaseConfigChange(ctx, p.app, () => {
      ctx.store.editEnv(p.app, p.values, []);
      ctx.store.addEvent(p.app, 'config.changed', { set: Object.keys(p.values) });
    }, p.requestId)),
  };
}

export async function configUnset(ctx: CommandContext, caller: Caller, p: { app: string; keys: string[]; requestId?: string | undefined }) {
  admit(caller, 'config.write', p.app);
  const a = requireApp(ctx, p.app);
  const present = ctx.store.getEnv(a.name);
  const keys = p.keys.filter((k) => k in present);
  // Nothing left to unset: done, unless this repeats a call that recorded a release (rollOut answers it).
  const repeated = p.requestId !== undefined && ctx.store.releaseByRequest(a.name, p.requestId) !== null;
  if (keys.length === 0 && !repeated) return { app: a.name };
  return {
    app: a.name,
    ...(await releaseConfigChange(ctx, a.name, () => {
      ctx.store.editEnv(a.name, {}, keys);
      ctx.store.addEvent(a.name, 'config.changed', { unset: keys });
    }, p.requestId)),
  };
}
