import type { DesiredResource, Observed, Provider } from '../plugins/provider.js';
import type { ObservedApp, Unknown } from './types.js';
import { UNKNOWN } from './types.js';

/**
 * Look at the machine afresh for one owner: each provider looks at the owner's resources of its
 * kind; one that fails is UNKNOWN as a whole. A provider that looks only at desired resources is
 * not asked about an owner with none of its kind: its answer would be empty (a resync asks about
 * every app, and most have no addon instance or rendered file), unless it has retired ones of the
 * owner to look at.
 */
export async function observeResources(providers: readonly Provider[], owner: string, desired: DesiredResource[]): Promise<ObservedApp['resources']> {
  const byKind = new Map<string, DesiredResource[]>();
  for (const r of desired) {
    const same = byKind.get(r.kind);
    if (same) same.push(r);
    else byKind.set(r.kind, [r]);
  }
  const seen: ObservedApp['resources'] = new Map();
  const looks: Promise<void>[] = [];
  for (const p of providers) {
    const mine = byKind.get(p.kind) ?? [];
    if (mine.length === 0 && p.observesDesiredOnly && !p.hasRetired?.(owner)) {
      seen.set(p.kind, new Map());
      continue;
    }
    looks.push(look(p, owner, mine).then((live) => void seen.set(p.kind, live)));
  }
  await Promise.all(looks);
  return seen;
}

async function look(p: Provider, owner: string, mine: DesiredResource[]): Promise<Observed<unknown> | Unknown> {
  try {
    return await p.observe(owner, mine);
  } catch {
    return UNKNOWN;
  }
}
