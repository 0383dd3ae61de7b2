import type { DesiredResource } from '../plugins/provider.js';

export interface KindGroup {
  resources: readonly DesiredResource[];
  names: ReadonlySet<string>;
}

const NONE: KindGroup = Object.freeze({ resources: Object.freeze([]), names: new Set<string>() });

/**
 * Desired resources grouped by kind. A converged app's desired state is cached, resources array
 * and all, so the grouping is kept with the array: a resync observes and plans every app against
 * every provider, and grouping afresh each time was most of what a no-op pass allocated.
 * Desired resource lists are built once and never changed afterwards.
 */
const groupings = new WeakMap<readonly DesiredResource[], Map<string, KindGroup>>();

export function ofKind(resources: readonly DesiredResource[], kind: string): KindGroup {
  let byKind = groupings.get(resources);
  if (!byKind) {
    const lists = new Map<string, DesiredResource[]>();
    for (const r of resources) {
      const same = lists.get(r.kind);
      if (same) same.push(r);
      else lists.set(r.kind, [r]);
    }
    byKind = new Map([...lists].map(([k, list]) => [k, { resources: list, names: new Set(list.map((r) => r.name)) }]));
    groupings.set(resources, byKind);
  }
  return byKind.get(kind) ?? NONE;
}
