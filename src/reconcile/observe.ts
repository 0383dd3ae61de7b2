import type { DesiredResource, Observed, Provider } from '../plugins/provider.js';
import type { ObservedApp, Unknown } from './types.js';
import { UNKNOWN } from './types.js';

/**
 * Look at the machine afresh for one owner: each provider looks at the owner's resources of its
 * kind; one that fails is UNKNOWN as a whole.
 */
export async function observeResources(providers: readonly Provider[], owner: string, desired: DesiredResource[]): Promise<ObservedApp['resources']> {
  const seen: ObservedApp['resources'] = new Map();
  await Promise.all(providers.map(async (p) => {
    let live: Observed<unknown> | Unknown;
    try {
      live = await p.observe(owner, desired.filter((r) => r.kind === p.kind));
    } catch {
      live = UNKNOWN;
    }
    seen.set(p.kind, live);
  }));
  return seen;
}
