import type { DesiredResource, Observed, Provider } from '../plugins/provider.js';
import { ofKind } from './by-kind.js';
import type { ObservedApp, Unknown } from './types.js';
import { UNKNOWN } from './types.js';

/**
 * Look at the machine afresh for one owner: each provider looks at the owner's resources of its
 * kind; one that fails is UNKNOWN as a whole. A provider that looks only at desired resources is
 * not asked about an owner with none of its kind: its answer would be empty (a resync asks about
 * every app, and most have no addon instance or rendered file), unless it has retired ones of the
 * owner to look at.
 */
export async function observeResources(providers: readonly Provider[], owner: string, desired: readonly DesiredResource[]): Promise<ObservedApp['resources']> {
  const seen: ObservedApp['resources'] = new Map();
  const kinds: string[] = [];
  const looks: Promise<Observed<unknown> | Unknown>[] = [];
  for (const p of providers) {
    const mine = ofKind(desired, p.kind).resources;
    if (mine.length === 0 && p.observesDesiredOnly && !p.hasRetired?.(owner)) {
      seen.set(p.kind, NOTHING_SEEN);
      continue;
    }
    kinds.push(p.kind);
    looks.push(look(p, owner, mine as DesiredResource[]));
  }
  const found = await Promise.all(looks);
  for (let i = 0; i < kinds.length; i++) seen.set(kinds[i]!, found[i]!);
  return seen;
}

/** What a provider that looks only at desired resources sees with none; shared by every such answer (observations are only read). */
const NOTHING_SEEN: Observed<unknown> = new Map();

async function look(p: Provider, owner: string, mine: DesiredResource[]): Promise<Observed<unknown> | Unknown> {
  try {
    return await p.observe(owner, mine);
  } catch {
    return UNKNOWN;
  }
}
