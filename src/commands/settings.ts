import { deployBranchesOf } from '../git/repo.js';
import type { HealPolicy } from '../store/types.js';
import { admit } from './admit.js';
import type { Caller } from './authorize.js';
import type { CommandContext } from './context.js';
import { requireApp } from './views.js';

/** `hop3 set`: per-app settings; null clears the deploy branch (back to main or master). */
export async function configure(
  ctx: CommandContext, caller: Caller, p: { app: string; deployBranch?: string | null | undefined; healPolicy?: HealPolicy | undefined },
) {
  admit(caller, 'apps.configure', p.app);
  const a = requireApp(ctx, p.app);
  await ctx.store.writeRetrying(() => {
    if (p.deployBranch !== undefined) ctx.store.setDeployBranch(a.name, p.deployBranch);
    if (p.healPolicy !== undefined) ctx.store.updateDesired(a.name, { healPolicy: p.healPolicy });
  });
  const fresh = requireApp(ctx, a.name);
  return { app: a.name, deployBranch: fresh.deployBranch, deployBranches: deployBranchesOf(fresh), healPolicy: fresh.healPolicy };
}
