import { admit } from './admit.js';
import type { Caller } from './authorize.js';
import type { CommandContext } from './context.js';
import { requireApp } from './views.js';

/** `hop3 reconcile`: a pass now, answered with what it did (`[]` when converged). */
export async function reconcileNow(ctx: CommandContext, caller: Caller, p: { app: string }) {
  admit(caller, 'apps.reconcile', p.app);
  requireApp(ctx, p.app);
  await ctx.reconciler.trigger(p.app);
  const pass = ctx.reconciler.lastPass.get(p.app);
  return { app: p.app, actions: pass?.actions.map(({ type, drift }) => ({ type, drift: drift ?? null })) ?? [], findings: pass?.findings ?? [], error: pass?.error ?? null };
}
