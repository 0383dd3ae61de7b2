import { keyOf, type Observed, type Provider } from '../plugins/provider.js';
import { ofKind } from './by-kind.js';
import type { Action, DesiredApp, DriftFinding, ObservedApp, Phase, Plan, Unknown } from './types.js';
import { PHASES, UNKNOWN } from './types.js';

/** What the planner needs of a provider: pure parts only. */
export type PlannedProvider = Pick<Provider, 'kind' | 'phase' | 'diff' | 'describe'>
  & Partial<Pick<Provider, 'expected' | 'partial' | 'retireAfter' | 'pruneOnly' | 'selfHealed' | 'dataLost' | 'retired' | 'retiresLater'>>;

type Act = (phase: Phase, action: Action, finding?: Omit<DriftFinding, 'action'>, dataLost?: boolean) => void;
type Seen = Observed<unknown> | Unknown | undefined;

/** A kind whose observation failed, as a whole or for one of its resources. */
function blind(live: Seen): boolean {
  if (live === UNKNOWN) return true;
  if (live !== undefined) for (const v of live.values()) if (v === UNKNOWN) return true;
  return false;
}

/** Every resource of `kind` that could not be seen is one no longer desired. */
function onlyUndesiredUnseen(kind: string, resources: DesiredApp['resources'], live: Seen): boolean {
  if (live === UNKNOWN || live === undefined) return false;
  const wanted = ofKind(resources, kind).names;
  return [...live].every(([name, v]) => v !== UNKNOWN || !wanted.has(name));
}

/**
 * plan(desired, observed) → actions. Pure: no I/O, no clock. Converged ⇔ no actions.
 *
 * Every action is put in a named phase (PHASES); the plan runs the phases in order, so the order
 * of the lines below does not decide what runs first. The planner knows resources, providers and
 * phases only: what a kind needs before it is retired, it says itself (Provider.retireAfter).
 */
export function plan(d: DesiredApp, o: ObservedApp, providers: readonly PlannedProvider[] = []): Plan {
  const byPhase = new Map<Phase, Action[]>();
  const at = (phase: Phase, action: Action) => {
    const queued = byPhase.get(phase);
    if (queued) queued.push(action);
    else byPhase.set(phase, [action]);
  };
  const ordered = () => (byPhase.size === 0 ? [] : PHASES.flatMap((p) => byPhase.get(p) ?? []));
  const findings: DriftFinding[] = [];
  const target = d.target;
  const running = d.state === 'running' && target !== null;

  // Build first; the resources of a release are only known once it has an artifact.
  if (running && target.status === 'pending') {
    return { actions: [{ type: 'build', version: target.version, builder: o.builder ?? null }], findings, rollout: true };
  }
  const rollout = running && target.status === 'built';

  /** Queue an action; when nothing new was asked for, it repairs drift (or only reports it). */
  const act: Act = (phase, action, finding, dataLost = false) => {
    // Data gone is drift whatever else was asked: a desired change never recreates it empty unasked.
    if (!finding || ((!d.settled || rollout) && !dataLost)) {
      at(phase, action);
      return;
    }
    const f: DriftFinding = { ...finding, action: d.healPolicy === 'heal' ? 'healed' : 'reported' };
    findings.push(f);
    if (f.action === 'healed') at(phase, { ...action, drift: f });
  };

  // A rollout needs to see what it starts, switches and retires; without that it waits (but for
  // what a provider retires later: what it cannot see is left to a later pass).
  if (rollout) {
    for (const p of providers) {
      const live = o.resources.get(p.kind);
      if (!blind(live) || (p.retiresLater && onlyUndesiredUnseen(p.kind, d.resources, live))) continue;
      const name = live === UNKNOWN || live === undefined ? null : [...live].find(([, v]) => v === UNKNOWN)![0];
      const resource = name === null ? p.kind : keyOf({ kind: p.kind, name });
      findings.push({ resource, kind: 'unknown', desired: `release v${target.version}`, observed: 'could not be observed', action: 'reported' });
      return { actions: [], findings, rollout: false };
    }
  }
  if (rollout && target.spec.run.beforeRun.length > 0) {
    at('release', { type: 'release-phase', version: target.version, commands: target.spec.run.beforeRun });
  }

  // What each state keeps is desiredApp's to say (a stopped app keeps its certificate and the
  // releases retention keeps, a paused one its site), not the planner's.
  planResources(d.resources, d.resources, o, providers, act, findings);

  if (rollout && d.health) at('health', { type: 'await-healthy', version: target.version, check: d.health });
  if (rollout) at('live', { type: 'mark-live', version: target.version });
  return { actions: ordered(), findings, rollout };
}

/**
 * Pair desired and observed resources by key, per provider: desired without live is created,
 * both with a difference updated or replaced (in the provider's phase), live without desired
 * deleted in `prune`. A difference the provider calls expected is applied as a desired change,
 * not found as drift. Anything UNKNOWN is only reported, and a kind with an UNKNOWN resource
 * deletes nothing: what could not be seen may still be in use. Nor does a kind whose
 * `retireAfter` kinds cannot be seen: they may still send it work.
 */
function planResources(
  want: DesiredApp['resources'], all: DesiredApp['resources'], o: ObservedApp, providers: readonly PlannedProvider[], act: Act, findings: DriftFinding[],
): void {
  const unknown = (resource: string, desired: string) =>
    findings.push({ resource, kind: 'unknown', desired, observed: 'could not be observed', action: 'reported' });
  for (const p of providers) {
    const live = o.resources.get(p.kind);
    if (live === undefined) continue;
    const { resources: mine, names: wanted } = ofKind(p.pruneOnly ? all : want, p.kind);
    if (live === UNKNOWN) {
      unknown(p.kind, `${mine.length} ${p.kind}`);
      continue;
    }
    // Most providers have nothing of most apps (no addon, no rendered file): nothing to pair.
    if (mine.length === 0 && live.size === 0) continue;
    for (const r of mine) {
      const seen = live.get(r.name);
      // Retention only deletes: of what it keeps, only what could not be seen is said.
      if (seen === UNKNOWN) unknown(keyOf(r), p.describe(r.spec));
      else if (!p.pruneOnly) planOne(p, r, seen, act, findings);
    }
    for (const [name, seen] of live) if (seen === UNKNOWN && !wanted.has(name)) unknown(keyOf({ kind: p.kind, name }), 'absent');
    if (blind(live) || (p.retireAfter ?? []).some((k) => blind(o.resources.get(k)))) continue;
    for (const [name, seen] of live) {
      if (wanted.has(name) || seen === null || seen === UNKNOWN) continue;
      const resource = keyOf({ kind: p.kind, name });
      const action: Action = { type: 'resource', op: 'delete', kind: p.kind, name, resource, desired: null, live: seen };
      // Retention is policy, not a repair of drift; nor is dropping what the records retired.
      if (p.pruneOnly || p.retired?.(seen)) act('prune', action);
      else act('prune', action, { resource, kind: 'unexpected', desired: 'absent', observed: p.describe(seen) });
    }
  }
}

/** One desired resource against what was seen of it (not UNKNOWN). */
function planOne(p: PlannedProvider, r: DesiredApp['resources'][number], seen: unknown, act: Act, findings: DriftFinding[]): void {
  if (seen == null) {
    const resource = keyOf(r);
    act(p.phase, { type: 'resource', kind: p.kind, name: r.name, resource, desired: r.spec, op: 'create', live: null }, { resource, kind: 'missing', desired: p.describe(r.spec), observed: 'absent' });
    return;
  }
  const healed = p.selfHealed?.(r.name, seen);
  if (healed) {
    // Already repaired by its own supervisor: healed drift whatever the heal policy.
    const f: DriftFinding = { ...healed, kind: 'missing', action: 'healed' };
    findings.push(f);
    act('sync', { type: 'acknowledge', kind: p.kind, name: r.name, resource: healed.resource, live: seen, drift: f });
  }
  const diff = p.diff(r.spec, seen);
  if (diff === 'none') return;
  const resource = keyOf(r);
  const action: Action = { type: 'resource', kind: p.kind, name: r.name, resource, desired: r.spec, op: diff, live: seen };
  // An expected change (a renewal) is no repair: the heal policy does not hold it back.
  if (p.expected?.(r.spec, seen)) act(p.phase, action);
  else act(p.phase, action, { resource, kind: p.partial?.(seen) ? 'missing' : 'changed', desired: p.describe(r.spec), observed: p.describe(seen) }, p.dataLost?.(seen) ?? false);
}
