import { admit } from './admit.js';
import type { Caller } from './authorize.js';
import type { CommandContext } from './context.js';
import { requireApp } from './views.js';

/**
 * The app's armed cron entries, with their last and next runs (UTC), read from what the
 * scheduler runs from: an entry of a release that is not live yet is not listed, one of a
 * stopped app is not armed.
 */
export function listCron(ctx: CommandContext, caller: Caller, app: string) {
  admit(caller, 'apps.read', app);
  const a = requireApp(ctx, app);
  const now = new Date();
  return ctx.plugins.schedulers.flatMap((s) => s.entries(a.name, now));
}
