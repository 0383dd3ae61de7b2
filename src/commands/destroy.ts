import { existsSync, rmSync } from 'node:fs';
import { operationalError } from '../lib/errors.js';
import { revokeAttachments } from './addons.js';
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

/** Delete an app that no longer runs: records, history, files. */
async function forgetApp(ctx: CommandContext, name: string): Promise<void> {
  const attachments = ctx.store.attachments({ app: name });
  ctx.store.deleteApp(name);
  // Its attachments went with it: the logins it had stop logging in.
  await revokeAttachments(ctx, attachments);
  ctx.store.deleteAppHistory(name);
  ctx.store.addEvent(name, 'app.destroyed', {});
  await ctx.reconciler.trigger(name); // with no record: removes anything left
  ctx.lifecycles.forget(name);
  ctx.reconciler.forget(name);
  rmSync(ctx.layout.app(name), { recursive: true, force: true });
}
