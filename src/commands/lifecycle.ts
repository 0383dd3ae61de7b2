import { operationalError, userError } from '../lib/errors.js';
import type { AppRecord } from '../store/types.js';
import { admit } from './admit.js';
import type { Caller } from './authorize.js';
import type { CommandContext } from './context.js';
import { appView, requireApp } from './views.js';

/** start, stop, restart, pause, resume: `detach` answers once the change is recorded. */
export interface LifecycleInput {
  app: string;
  detach?: boolean | undefined;
}

/** Wait for the pass a desired change triggered, then answer with the app's status. */
async function settle(ctx: CommandContext, name: string, detach = false) {
  if (detach) {
    // The client follows it (or not) through apps.status and apps.events.
    ctx.reconciler.trigger(name).catch((err: unknown) => ctx.log.warn({ app: name, err }, 'pass failed'));
    return appView(ctx, requireApp(ctx, name));
  }
  await ctx.reconciler.trigger(name);
  const error = ctx.reconciler.lastPass.get(name)?.error;
  if (error) {
    throw operationalError('PASS_FAILED', `${name}: the change is recorded, but applying it failed: ${error}`, {
      hint: `hop3-server retries it; see \`hop3 status ${name}\` and \`hop3 events ${name}\``,
    });
  }
  return appView(ctx, requireApp(ctx, name));
}

/** Record a desired-state change (the store bumps the generation), then let the loop apply it. */
async function change(
  ctx: CommandContext, caller: Caller, p: LifecycleInput,
  check: (a: AppRecord) => void, patch: { desiredState: AppRecord['desiredState']; restart?: boolean },
) {
  admit(caller, 'apps.lifecycle', p.app);
  const a = requireApp(ctx, p.app);
  check(a);
  await ctx.store.writeRetrying(() => ctx.store.updateDesired(a.name, patch));
  return settle(ctx, a.name, p.detach === true);
}

const always = () => undefined;

export const start = (ctx: CommandContext, caller: Caller, p: LifecycleInput) => change(ctx, caller, p, always, { desiredState: 'running' });

export const stop = (ctx: CommandContext, caller: Caller, p: LifecycleInput) => change(ctx, caller, p, always, { desiredState: 'stopped' });

export const restart = (ctx: CommandContext, caller: Caller, p: LifecycleInput) =>
  change(ctx, caller, p, always, { desiredState: 'running', restart: true });

export const pause = (ctx: CommandContext, caller: Caller, p: LifecycleInput) => change(ctx, caller, p, (a) => {
  if (a.desiredState !== 'running' || a.currentRelease === null) {
    throw userError('APP_NOT_RUNNING', `${a.name} is ${a.currentRelease === null ? 'not deployed' : a.desiredState}: only a running app can be paused`, { hint: `\`hop3 start ${a.name}\` first` });
  }
}, { desiredState: 'paused' });

export const resume = (ctx: CommandContext, caller: Caller, p: LifecycleInput) => change(ctx, caller, p, (a) => {
  if (a.desiredState !== 'paused') throw userError('APP_NOT_PAUSED', `${a.name} is ${a.desiredState}, not paused`, { hint: `\`hop3 start ${a.name}\` starts a stopped app` });
}, { desiredState: 'running' });
