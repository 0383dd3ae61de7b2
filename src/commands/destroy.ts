import { existsSync, rmSync } from 'node:fs';
import { operationalError } from '../lib/errors.js';
import { revokeShared } from './addons.js';
import { admit } from './admit.js';
import type { Caller } from './authorize.js';
import type { CommandContext } from './context.js';
import { requireApp } from './views.js';

/** Stop the app, wait until its processes and site are gone, then delete its files and records. */
export async function destroy(ctx: CommandContext, caller: Caller, p: { app: string }) {
  admit(caller, 'apps.destroy', p.app);
  const name = p.app;
  // A repository pushed to with no deploy (only other branches) has no record yet.
  if (!ctx.store.getApp(name) && existsSync(ctx.layout.app(name))) {
    await ctx.deployLocks.run(name, () => forgetApp(ctx, name));
    return { app: name, destroyed: true };
  }
  requireApp(ctx, name);
  // Under the deploy lock: no deploy of this app can start (or recreate it) halfway.
  await ctx.deployLocks.run(name, async () => {
    ctx.store.updateDesired(name, { desiredState: 'stopped' });
    await ctx.reconciler.trigger(name);
    const error = ctx.reconciler.lastPass.get(name)?.error;
    if (error) {
      throw operationalError('DESTROY_INCOMPLETE', `could not stop ${name}: ${error}`, { hint: 'it is stopped as far as possible; run destroy again' });
    }
    await forgetApp(ctx, name);
  });
  return { app: name, destroyed: true };
}

/**
 * Delete an app that no longer runs: records, history, files. Its attachments end as a detach's
 * do, in the transaction that deletes its record: their logins are tombstones, which outlive it.
 */
async function forgetApp(ctx: CommandContext, name: string): Promise<void> {
  const attachments = ctx.store.attachments({ app: name });
  await ctx.store.writeRetrying(() => {
    for (const a of attachments) ctx.store.detach(a.addon, name);
    ctx.store.deleteApp(name);
  });
  await revokeShared(ctx, attachments);
  ctx.store.deleteAppHistory(name);
  ctx.store.addEvent(name, 'app.destroyed', {});
  // With no record: removes anything left, its logins included (a server that does not answer
  // leaves them to a later pass, which finds the owner through their tombstones).
  await ctx.reconciler.trigger(name);
  ctx.lifecycles.forget(name);
  ctx.reconciler.forget(name);
  rmSync(ctx.layout.app(name), { recursive: true, force: true });
}
