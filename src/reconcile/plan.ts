import { keyOf, type Provider } from '../plugins/provider.js';
import type { Action, DesiredApp, DriftFinding, ObservedApp, Phase, Plan } from './types.js';
import { PHASES, UNKNOWN } from './types.js';

const describe = (content: string | null) => (content === null ? 'absent' : `${content.length} bytes`);

/** What the planner needs of a provider: pure parts only. */
export type PlannedProvider = Pick<Provider, 'kind' | 'phase' | 'diff' | 'describe'>;

/**
 * plan(desired, observed) → actions. Pure: no I/O, no clock. Converged ⇔ no actions.
 *
 * Every action is put in a named phase (PHASES); the plan runs the phases in order, so the order
 * of the lines below does not decide what runs first.
 */
export function plan(d: DesiredApp, o: ObservedApp, providers: readonly PlannedProvider[] = []): Plan {
  const byPhase = new Map<Phase, Action[]>(PHASES.map((p) => [p, []]));
  const at = (phase: Phase, action: Action) => byPhase.get(phase)!.push(action);
  const ordered = () => PHASES.flatMap((p) => byPhase.get(p)!);
  const findings: DriftFinding[] = [];
  const target = d.target;
  const running = d.state === 'running' && target !== null;

  // Build first; the units of a release are only known once it has an artifact.
  if (running && target.status === 'pending') {
    return { actions: [{ type: 'build', version: target.version }], findings, rollout: true };
  }
  const rollout = running && target.status === 'built';
  // A paused app keeps its names: nginx answers for it while no process runs.
  const siteContent = running || (d.state === 'paused' && target !== null) ? d.site.content : null;

  /** Queue an action; when nothing new was asked for, it repairs drift (or only reports it). */
  const act = (phase: Phase, action: Action, finding?: Omit<DriftFinding, 'action'>) => {
    if (!finding || !d.settled || rollout) {
      at(phase, action);
      return;
    }
    const f: DriftFinding = { ...finding, action: d.healPolicy === 'heal' ? 'healed' : 'reported' };
    findings.push(f);
    if (f.action === 'healed') at(phase, { ...action, drift: f });
  };
  const unknown = (resource: string, desired: string) =>
    findings.push({ resource, kind: 'unknown', desired, observed: 'could not be observed', action: 'reported' });

  // A rollout needs to see the vassals it starts and retires, and what the proxy serves (old
  // units are retired only once it serves the new site); without that it waits.
  if (rollout && (o.units === UNKNOWN || o.siteLoaded === UNKNOWN)) {
    const resource = o.units === UNKNOWN ? 'vassals' : `site:${d.app}`;
    findings.push({ resource, kind: 'unknown', desired: `release v${target.version}`, observed: 'could not be observed', action: 'reported' });
    return { actions: [], findings, rollout: false };
  }
  if (rollout && target.spec.run.beforeRun.length > 0) {
    at('release', { type: 'release-phase', version: target.version, commands: target.spec.run.beforeRun });
  }

  const units = running ? d.units : [];
  const wanted = new Set(units.map((u) => u.name));
  for (const unit of units) {
    for (const file of [...unit.files, unit.config]) {
      const seen = o.files.get(file.path);
      if (seen === UNKNOWN) {
        unknown(file.resource, describe(file.content));
        continue;
      }
      if (seen === file.content) continue;
      act(
        'sync',
        { type: 'write-file', resource: file.resource, path: file.path, content: file.content },
        { resource: file.resource, kind: seen == null ? 'missing' : 'changed', desired: describe(file.content), observed: describe(seen ?? null) },
      );
    }
    if (o.units === UNKNOWN) continue;
    const seen = o.units.get(unit.name);
    if (!seen?.enabled) {
      act(
        'sync',
        { type: 'enable-unit', unit: unit.name, resource: `vassal:${unit.name}` },
        { resource: `vassal:${unit.name}`, kind: 'missing', desired: 'enabled', observed: 'not enabled' },
      );
    }
  }
  if (o.units === UNKNOWN) unknown('vassals', `${units.length} enabled`);

  planResources(d, o, providers, act, unknown);

  if (rollout && d.health) at('health', { type: 'await-healthy', version: target.version, check: d.health });

  const applySite: Action = { type: 'apply-site', resource: `site:${d.app}`, path: d.site.path, content: siteContent };
  if (o.site === UNKNOWN) {
    unknown(`site:${d.app}`, describe(siteContent));
  } else if (o.site === siteContent && o.siteLoaded === UNKNOWN) {
    unknown(`site:${d.app}`, 'loaded by the proxy');
  } else if (o.site === siteContent && !o.siteLoaded) {
    // On disk as wanted, but the proxy's server never loaded it (or was restarted since): the
    // switch is not done until it does, so it comes before anything is retired.
    act('switch', applySite, { resource: `site:${d.app}`, kind: 'changed', desired: 'loaded by the proxy', observed: 'written but not loaded' });
  } else if (o.site !== siteContent) {
    act(
      'switch',
      applySite,
      {
        resource: `site:${d.app}`,
        kind: o.site === null ? 'missing' : siteContent === null ? 'unexpected' : 'changed',
        desired: describe(siteContent),
        observed: describe(o.site),
      },
    );
  }

  if (o.units !== UNKNOWN) {
    for (const [name, seen] of o.units) {
      if (wanted.has(name)) {
        const proc = seen.process;
        if (proc !== null && proc !== UNKNOWN && proc.restartedFrom !== null) {
          // The emperor already restarted it (a reload keeps the pid); record the drift once.
          const f: DriftFinding = {
            resource: `process:${name}`, kind: 'missing', desired: 'running',
            observed: `pid ${proc.restartedFrom} exited unexpectedly; the emperor restarted it as pid ${proc.pid}`, action: 'healed',
          };
          findings.push(f);
          at('sync', { type: 'ack-restart', unit: name, pid: proc.pid, drift: f });
        }
        continue;
      }
      // Without knowing what the proxy serves, no unit is retired: it may still take traffic.
      if (o.siteLoaded === UNKNOWN) continue;
      // Units of other releases are retired by a desired change; anything else is unexpected.
      act(
        'prune',
        { type: 'remove-unit', unit: name, resource: `vassal:${name}` },
        { resource: `vassal:${name}`, kind: 'unexpected', desired: 'absent', observed: seen.enabled ? 'enabled' : 'present' },
      );
    }
  }

  if (rollout) at('live', { type: 'mark-live', version: target.version });
  return { actions: ordered(), findings, rollout };
}

type Act = (phase: Phase, action: Action, finding?: Omit<DriftFinding, 'action'>) => void;

/**
 * Pair desired and observed resources by key, per provider: desired without live is created,
 * both with a difference updated or replaced (in the provider's phase), live without desired
 * deleted in `prune`. Anything UNKNOWN is only reported, and a kind with an UNKNOWN resource
 * deletes nothing: what could not be seen may still be in use.
 */
function planResources(d: DesiredApp, o: ObservedApp, providers: readonly PlannedProvider[], act: Act, unknown: (resource: string, desired: string) => void): void {
  for (const p of providers) {
    const want = d.resources.filter((r) => r.kind === p.kind);
    const live = o.resources.get(p.kind);
    if (live === undefined) continue;
    if (live === UNKNOWN) {
      unknown(p.kind, `${want.length} ${p.kind}`);
      continue;
    }
    const wanted = new Set(want.map((r) => r.name));
    for (const r of want) {
      const resource = keyOf(r);
      const seen = live.get(r.name);
      const base = { type: 'resource' as const, kind: p.kind, name: r.name, resource, desired: r.spec };
      if (seen === UNKNOWN) {
        unknown(resource, p.describe(r.spec));
      } else if (seen == null) {
        act(p.phase, { ...base, op: 'create', live: null }, { resource, kind: 'missing', desired: p.describe(r.spec), observed: 'absent' });
      } else {
        const diff = p.diff(r.spec, seen);
        if (diff !== 'none') act(p.phase, { ...base, op: diff, live: seen }, { resource, kind: 'changed', desired: p.describe(r.spec), observed: p.describe(seen) });
      }
    }
    if ([...live.values()].some((v) => v === UNKNOWN)) continue;
    for (const [name, seen] of live) {
      if (wanted.has(name) || seen === null || seen === UNKNOWN) continue;
      const resource = keyOf({ kind: p.kind, name });
      act('prune', { type: 'resource', op: 'delete', kind: p.kind, name, resource, desired: null, live: seen },
        { resource, kind: 'unexpected', desired: 'absent', observed: p.describe(seen) });
    }
  }
}
