import { deployBranchesOf } from '../git/repo.js';
import { appSubject, nameOfSubject } from '../plugins/addons/backups/backups.js';
import { maskUrlPassword } from './addons.js';
import { admit } from './admit.js';
import type { Caller } from './authorize.js';
import type { CommandContext } from './context.js';
import { appView, releaseView, requireApp } from './views.js';

/** Reads: they change nothing, but go through the same door as the commands. */

export function listApps(ctx: CommandContext, caller: Caller) {
  admit(caller, 'apps.read', null);
  return ctx.store.listApps().map((a) => appView(ctx, a));
}

export function appStatus(ctx: CommandContext, caller: Caller, app: string) {
  admit(caller, 'apps.read', app);
  const a = requireApp(ctx, app);
  return { ...appView(ctx, a), backups: scheduledBackups(ctx, a.name) };
}

/**
 * The backup schedules of the app's data and of the addons it is attached to, as the scheduler
 * last recorded them; `problem` says when the last run failed, did not verify, or ran late
 * (hop3 was down at its due time).
 */
function scheduledBackups(ctx: CommandContext, app: string) {
  const now = new Date();
  const subjects = [appSubject(app), ...ctx.store.attachments({ app }).map((x) => x.addon)];
  return subjects.flatMap((subject) => {
    const st = ctx.backups.schedules.status(subject, now);
    if (st === null) return [];
    const problem = st.lastResult === 'failed' || st.lastResult === 'unverified' ? st.lastResult : st.missed ? 'missed' : null;
    return [{ name: nameOfSubject(subject), cron: st.cron, lastRun: st.lastRun, lastResult: st.lastResult, lastError: st.lastError, missed: st.missed, nextRun: st.nextRun, problem }];
  });
}

export function listDrift(ctx: CommandContext, caller: Caller, q: { app?: string; limit?: number }) {
  admit(caller, 'apps.read', q.app ?? null);
  if (q.app !== undefined) requireApp(ctx, q.app);
  return ctx.store.listDrift(q.app, q.limit ?? 100);
}

export function listEvents(ctx: CommandContext, caller: Caller, q: { app?: string; after?: number; limit?: number }) {
  admit(caller, 'apps.read', q.app ?? null);
  return ctx.store.listEvents(q);
}

export function listReleases(ctx: CommandContext, caller: Caller, app: string) {
  admit(caller, 'apps.read', app);
  const a = requireApp(ctx, app);
  return ctx.store.listReleases(a.name).map((r) => releaseView(r, a.currentRelease));
}

/** The app's variables, with those its addons give it (their passwords masked unless `reveal`). */
export function configGet(ctx: CommandContext, caller: Caller, app: string, reveal = false) {
  admit(caller, 'config.read', app);
  requireApp(ctx, app);
  const { store, plugins } = ctx;
  const addons = plugins.addons.attached(store.attachments({ app }), (addon) => store.getAddon(addon)).env;
  const shown = Object.fromEntries(Object.entries(addons).map(([k, v]) => [k, reveal ? v : maskUrlPassword(v)]));
  return { ...store.getEnv(app), ...shown };
}

/** The branches whose pushes deploy (the pre-receive hook asks before it lets a push in). */
export function gitInfo(ctx: CommandContext, caller: Caller, app: string) {
  admit(caller, 'git.read', app);
  return { app, deployBranches: deployBranchesOf(ctx.store.getApp(app)) };
}
