import { createExec } from '../../src/lib/exec.js';
import { describe, expect, it } from 'vitest';
import { plan, type PlannedProvider } from '../../src/reconcile/plan.js';
import { UNKNOWN, type Action, type DesiredApp, type DriftFinding, type HealthCheck, type ObservedApp } from '../../src/reconcile/types.js';
import type { ProxyServer, UnitSupervisor } from '../../src/plugins/types.js';
import type { DesiredResource } from '../../src/plugins/provider.js';
import { layoutOf } from '../../src/lib/layout.js';
import { runFileProvider } from '../../src/plugins/files/run-file-provider.js';
import { vassalProvider, type VassalLive } from '../../src/plugins/deployers/uwsgi/vassal-provider.js';
import { siteProvider, type SiteLive } from '../../src/plugins/proxies/site-provider.js';
import type { AppSpec } from '../../src/manifest/types.js';
import type { ReleaseRecord, ReleaseStatus } from '../../src/store/types.js';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { certResources } from '../../src/plugins/certs/resource-provider.js';
import { issueSelfSigned } from '../../src/plugins/certs/self-signed.js';
import type { CertDesired, CertLive } from '../../src/plugins/certs/index.js';
import { hostServerProvider } from '../../src/plugins/host-server-provider.js';
import { HOST_OWNER } from '../../src/reconcile/host-pass.js';

// --- factories ----------------------------------------------------------------------------

const APP = 'a';
const HOME = '/srv/hop3';

function spec(over: Partial<AppSpec> = {}): AppSpec {
  return {
    name: null,
    metadata: {},
    build: { builder: 'auto', before: [] },
    run: { workers: 2, beforeRun: [], maxBodyBytes: 10485760 },
    static: { paths: [], maxAge: 3600 },
    tls: { mode: 'auto', httpsOnly: false, hsts: false },
    processes: [{ name: 'web', kind: 'web', command: 'python app.py' }],
    env: {},
    domains: [],
    healthcheck: { path: '/', timeout: null, expectStatus: 200 },
    addons: [],
    ...over,
  };
}

function release(version: number, status: ReleaseStatus, beforeRun: string[] = []): ReleaseRecord {
  return {
    app: APP,
    version,
    source: 'push',
    commit: null,
    spec: spec({ run: { workers: 2, beforeRun, maxBodyBytes: 10485760 } }),
    env: {},
    artifact: status === 'pending' ? null : { kind: 'virtualenv', dir: `apps/${APP}/releases/v${version}`, metadata: {} },
    ports: { web: 20000 + version },
    status,
    message: '',
    createdAt: '2024-01-01T00:00:00.000Z',
  };
}

const unitNameOf = (version: number, proc: string) => `${APP}.v${version}.${proc}`;
const iniPath = (version: number, proc: string) => `${HOME}/uwsgi-available/${unitNameOf(version, proc)}.ini`;
const runPath = (version: number, proc: string) => `${HOME}/apps/${APP}/releases/v${version}/run/${proc}.json`;
const SITE_PATH = `${HOME}/nginx/sites/${APP}.conf`;
const siteContent = (version: number) => `server { # ${APP} v${version} }\n`;
const iniOf = (version: number, proc: string, restart = 0) => `[uwsgi]\n; ${unitNameOf(version, proc)} restart ${restart}\n`;
const runOf = (version: number, proc: string) => `{"unit":"${unitNameOf(version, proc)}"}\n`;

// The real providers' pure parts (diff, describe, partial, retireAfter, selfHealed): the planner
// never calls their observe or apply, so the servers they are given are never asked anything.
const never = () => { throw new Error('a planner test must not reach a server'); };
const SERVED = { pidFile: '/nonexistent', pidMarker: 'x', managed: () => true, pid: () => null } as const;
const SUPERVISOR: UnitSupervisor = { resource: 'emperor', uses: 'vassal', ...SERVED, ensureRunning: never, stats: never, stop: never };
const SERVER: ProxyServer = { resource: 'nginx', uses: 'site', ...SERVED, ensureRunning: never, stop: never, apply: never, drained: never, loaded: never };
const PROVIDERS: PlannedProvider[] = [runFileProvider(), vassalProvider(layoutOf(HOME), SUPERVISOR), siteProvider(SERVER, (app) => `${HOME}/nginx/sites/${app}.conf`, () => '')];

/** The resources of one process unit: the file it reads, then its vassal. */
function unit(version: number, proc: string, restart = 0): DesiredResource[] {
  const name = unitNameOf(version, proc);
  return [
    { kind: 'runfile', name, spec: { path: runPath(version, proc), content: runOf(version, proc) } },
    { kind: 'vassal', name, spec: { path: iniPath(version, proc), content: iniOf(version, proc, restart) } },
  ];
}
const site = (content: string): DesiredResource => ({ kind: 'site', name: APP, spec: { path: SITE_PATH, content } });

const HEALTH: HealthCheck = { urls: ['http://127.0.0.1:20002/'], host: `${APP}.localhost`, expectStatus: 200, timeoutMs: 30_000, units: [{ name: unitNameOf(2, 'web'), log: `${HOME}/apps/${APP}/log/web.log` }] };

function desired(over: Partial<DesiredApp> = {}): DesiredApp {
  return {
    app: APP,
    state: 'running',
    healPolicy: 'heal',
    settled: true,
    target: release(1, 'live'),
    health: null,
    resources: [...unit(1, 'web'), site(siteContent(1))],
    ...over,
  };
}

function proc(restartedFrom: number | null = null, pid = 4242): VassalLive['process'] {
  return { pid, respawns: restartedFrom === null ? 0 : 1, ready: true, cursed: false, restartedFrom };
}

/** What a provider observes once a desired resource is applied. */
function liveOf(r: DesiredResource): unknown {
  const spec = r.spec as { path: string; content: string };
  switch (r.kind) {
    case 'runfile': return { path: spec.path, content: spec.content };
    case 'vassal': return { content: spec.content, enabled: true, process: proc() } satisfies VassalLive;
    case 'site': return { path: spec.path, content: spec.content, loaded: true } satisfies SiteLive;
    default: return spec;
  }
}

/** Reality exactly as `d` wants it: every provider observed, nothing else there. */
function observedOf(d: DesiredApp): ObservedApp {
  const resources: ObservedApp['resources'] = new Map(PROVIDERS.map((p) => [p.kind, new Map()]));
  for (const r of d.resources) (resources.get(r.kind) as Map<string, unknown> | undefined)?.set(r.name, liveOf(r));
  return { resources };
}

/** The live map of one kind, to change by hand. */
function live(o: ObservedApp, kind: string): Map<string, unknown> {
  const m = o.resources.get(kind);
  if (m === undefined || m === UNKNOWN) throw new Error(`${kind} is not observed`);
  return m as Map<string, unknown>;
}
const vassal = (o: ObservedApp, name: string) => live(o, 'vassal').get(name) as VassalLive;

/** A compact `type:subject` view of an action list, to compare order at a glance. */
function brief(actions: Action[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case 'build':
      case 'mark-live':
      case 'await-healthy':
        return `${a.type}:v${a.version}`;
      case 'release-phase':
        return `${a.type}:v${a.version}:${a.commands.join('&&')}`;
      case 'resource':
        return `${a.op}:${a.resource}`;
      case 'acknowledge':
        return `ack:${a.resource}`;
    }
  });
}

/**
 * A model of the executor over the observed state: what reality looks like after the actions
 * ran. Used to check that a plan is complete (planning again over the result plans nothing).
 */
function applyActions(d: DesiredApp, o: ObservedApp, actions: Action[]): { d: DesiredApp; o: ObservedApp } {
  const resources: ObservedApp['resources'] = new Map([...o.resources].map(([k, v]) => [k, v === UNKNOWN ? v : new Map(v)]));
  let target = d.target;
  for (const a of actions) {
    const m = resources.get(a.type === 'resource' || a.type === 'acknowledge' ? a.kind : '');
    const kind = m === undefined || m === UNKNOWN ? null : (m as Map<string, unknown>);
    switch (a.type) {
      case 'resource':
        if (a.op === 'delete') kind?.delete(a.name);
        else kind?.set(a.name, liveOf({ kind: a.kind, name: a.name, spec: a.desired }));
        break;
      case 'acknowledge': {
        const v = kind?.get(a.name) as VassalLive;
        const p = v.process as Exclude<VassalLive['process'], null | typeof UNKNOWN>;
        kind?.set(a.name, { ...v, process: proc(null, p.pid) });
        break;
      }
      case 'mark-live':
        target = target && { ...target, status: 'live' };
        break;
      case 'build':
      case 'release-phase':
      case 'await-healthy':
        break;
    }
  }
  // A completed pass records the generation it acted on: the app is settled again.
  return { d: { ...d, target, settled: target?.status === 'live' }, o: { resources } };
}

const planned = (d: DesiredApp, o: ObservedApp) => plan(d, o, PROVIDERS);
const bytes = (s: string) => `${s.length} bytes`;
const WEB = unitNameOf(1, 'web');
const INI = iniPath(1, 'web');

// --- tests --------------------------------------------------------------------------------

describe('plan: converged', () => {
  it('plans nothing and finds nothing for a running app that matches its records', () => {
    const d = desired();
    expect(planned(d, observedOf(d))).toEqual({ actions: [], findings: [], rollout: false });
  });

  it('plans nothing for a converged app with several units and a health check', () => {
    const d = desired({ resources: [...unit(1, 'web'), ...unit(1, 'worker'), site(siteContent(1))], health: HEALTH });
    expect(planned(d, observedOf(d)).actions).toEqual([]);
  });
});

describe('plan: build', () => {
  it('a pending target plans only its build, naming the builder observation found accepts its source', () => {
    const d = desired({ target: release(2, 'pending'), settled: false, resources: [] });
    const o = { ...observedOf(desired()), builder: 'python' };
    expect(planned(d, o)).toEqual({ actions: [{ type: 'build', version: 2, builder: 'python' }], findings: [], rollout: true });
    // No builder accepts it: the build is still planned (and fails, with the reason, when it runs).
    expect(planned(d, { ...o, builder: null }).actions).toEqual([{ type: 'build', version: 2, builder: null }]);
  });

  it('builds even when reality has drifted: nothing else is planned before the build', () => {
    const o = observedOf(desired());
    live(o, 'site').delete(APP);
    vassal(o, WEB).enabled = false;
    const p = planned(desired({ target: release(2, 'pending'), settled: true }), o);
    expect(brief(p.actions)).toEqual(['build:v2']);
    expect(p.findings).toEqual([]);
  });
});

describe('plan: every resource kind — create, update, prune, unknown', () => {
  const d = desired();
  const other: Record<string, unknown> = {
    runfile: { path: runPath(1, 'web'), content: '{}' },
    vassal: { content: '[uwsgi]\n', enabled: true, process: proc() },
    site: { path: SITE_PATH, content: 'server {}', loaded: true },
  };
  const extra: Record<string, [string, unknown]> = {
    runfile: ['a.v0.web', { path: runPath(0, 'web'), content: '{}' }],
    vassal: ['a.v0.web', { enabled: true, process: proc() }],
    site: ['a', { path: SITE_PATH, content: 'server {}', loaded: true }],
  };
  const nameOf = (kind: string) => (kind === 'site' ? APP : WEB);

  it.each(['runfile', 'vassal', 'site'])('%s: absent is created, changed is updated, and the pass after plans nothing', (kind) => {
    for (const [seen, op] of [[undefined, 'create'], [null, 'create'], [other[kind], 'update']] as const) {
      const o = observedOf(d);
      if (seen === undefined) live(o, kind).delete(nameOf(kind));
      else live(o, kind).set(nameOf(kind), seen);
      const p = planned(d, o);
      expect(brief(p.actions)).toEqual([`${op}:${kind}:${nameOf(kind)}`]);
      expect(p.findings).toMatchObject([{ resource: `${kind}:${nameOf(kind)}`, kind: op === 'create' ? 'missing' : 'changed', action: 'healed' }]);
      const after = applyActions(d, o, p.actions);
      expect(planned(after.d, after.o).actions).toEqual([]);
    }
  });

  it.each(['runfile', 'vassal', 'site'])('%s: live without desired is pruned, after the switch', (kind) => {
    const without = desired({ resources: d.resources.filter((r) => r.kind !== kind) });
    const o = observedOf(d);
    const [name, value] = extra[kind]!;
    live(o, kind).set(name, value);
    const p = planned(without, o);
    expect(brief(p.actions).filter((a) => a.startsWith('delete:'))).toContain(`delete:${kind}:${name}`);
    expect(p.findings).toContainEqual(expect.objectContaining({ resource: `${kind}:${name}`, kind: 'unexpected', desired: 'absent' }));
  });

  it.each(['runfile', 'vassal', 'site'])('%s: Unknown is reported, never created, updated or deleted', (kind) => {
    for (const whole of [false, true]) {
      const o = observedOf(desired({ resources: [] }));
      if (whole) o.resources.set(kind, UNKNOWN);
      else live(o, kind).set(nameOf(kind), UNKNOWN);
      const p = planned({ ...d, settled: false }, o);
      expect(brief(p.actions).filter((a) => a.includes(`:${kind}:`))).toEqual([]);
      expect(p.findings).toContainEqual(expect.objectContaining({ resource: whole ? kind : `${kind}:${nameOf(kind)}`, kind: 'unknown', action: 'reported' }));
    }
  });
});

describe('plan: rollout of a built release', () => {
  /** v1 is running; v2 (web + worker) is built and is the target. */
  function rollout(over: { beforeRun?: string[]; health?: HealthCheck | null; settled?: boolean } = {}) {
    const before = desired();
    const d = desired({
      target: release(2, 'built', over.beforeRun ?? []),
      settled: over.settled ?? false,
      resources: [...unit(2, 'web'), ...unit(2, 'worker'), site(siteContent(2))],
      health: over.health === undefined ? HEALTH : over.health,
    });
    return { d, o: observedOf(before) };
  }

  // The files units read come before the units (the run-file provider comes first in its phase).
  const FULL = ['create:runfile:a.v2.web', 'create:runfile:a.v2.worker', 'create:vassal:a.v2.web', 'create:vassal:a.v2.worker'];
  // The old release's file stays with its release directory; its unit is retired.
  const RETIRE = ['delete:vassal:a.v1.web'];

  it.each([
    {
      name: 'release phase, health check',
      beforeRun: ['python manage.py migrate', 'python manage.py collectstatic'],
      health: HEALTH,
      expected: ['release-phase:v2:python manage.py migrate&&python manage.py collectstatic', ...FULL, 'await-healthy:v2', 'update:site:a', ...RETIRE, 'mark-live:v2'],
    },
    { name: 'no release phase when beforeRun is empty', beforeRun: [], health: HEALTH, expected: [...FULL, 'await-healthy:v2', 'update:site:a', ...RETIRE, 'mark-live:v2'] },
    { name: 'no health check when none is set', beforeRun: [], health: null, expected: [...FULL, 'update:site:a', ...RETIRE, 'mark-live:v2'] },
  ])('$name', ({ beforeRun, health, expected }) => {
    const { d, o } = rollout({ beforeRun, health });
    live(o, 'runfile').clear(); // run files are observed only where desired
    const p = planned(d, o);
    expect(brief(p.actions)).toEqual(expected);
    expect(p.rollout).toBe(true);
    expect(p.findings).toEqual([]);
    expect(p.actions.every((a) => a.drift === undefined)).toBe(true);
  });

  it('carries the exact payloads of the release-phase, resource and health actions', () => {
    const { d, o } = rollout({ beforeRun: ['migrate'] });
    live(o, 'runfile').clear();
    const p = planned(d, o);
    expect(p.actions[0]).toEqual({ type: 'release-phase', version: 2, commands: ['migrate'] });
    expect(p.actions[1]).toEqual({ type: 'resource', op: 'create', kind: 'runfile', name: 'a.v2.web', resource: 'runfile:a.v2.web', desired: { path: runPath(2, 'web'), content: runOf(2, 'web') }, live: null });
    expect(p.actions[3]).toEqual({ type: 'resource', op: 'create', kind: 'vassal', name: 'a.v2.web', resource: 'vassal:a.v2.web', desired: { path: iniPath(2, 'web'), content: iniOf(2, 'web') }, live: null });
    expect(p.actions.find((a) => a.type === 'await-healthy')).toEqual({ type: 'await-healthy', version: 2, check: HEALTH });
    expect(p.actions.find((a) => a.type === 'resource' && a.kind === 'site')).toMatchObject({ op: 'update', desired: { path: SITE_PATH, content: siteContent(2) } });
    expect(p.actions.find((a) => a.type === 'resource' && a.op === 'delete')).toMatchObject({ kind: 'vassal', name: 'a.v1.web', desired: null });
  });

  it('is zero-downtime: new units, then health, then the proxy switch, then the old units go, then mark-live', () => {
    const { d, o } = rollout();
    const order = brief(planned(d, o).actions);
    const at = (s: string) => order.indexOf(s);
    expect(at('create:vassal:a.v2.worker')).toBeGreaterThanOrEqual(0);
    expect(at('create:vassal:a.v2.worker')).toBeLessThan(at('await-healthy:v2'));
    expect(at('await-healthy:v2')).toBeLessThan(at('update:site:a'));
    expect(at('update:site:a')).toBeLessThan(at('delete:vassal:a.v1.web'));
    expect(at('mark-live:v2')).toBe(order.length - 1);
  });

  it('treats the differences as a desired change, not drift, even when the app looks settled', () => {
    for (const settled of [false, true]) {
      for (const healPolicy of ['heal', 'report'] as const) {
        const { d, o } = rollout({ settled });
        const p = planned({ ...d, healPolicy }, o);
        expect(p.findings).toEqual([]);
        expect(p.actions.every((a) => a.drift === undefined)).toBe(true);
        expect(brief(p.actions)).toContain('delete:vassal:a.v1.web');
      }
    }
  });

  it('creates only what is still missing when a rollout is resumed', () => {
    const { d, o } = rollout({ health: null });
    for (const r of unit(2, 'web')) live(o, r.kind).set(r.name, { ...(liveOf(r) as object), ...(r.kind === 'vassal' ? { process: null } : {}) });
    expect(brief(planned(d, o).actions)).toEqual(['create:runfile:a.v2.worker', 'create:vassal:a.v2.worker', 'update:site:a', 'delete:runfile:a.v1.web', 'delete:vassal:a.v1.web', 'mark-live:v2']);
  });

  it('a second plan over the state after the rollout is empty', () => {
    const { d, o } = rollout({ beforeRun: ['migrate'] });
    const first = planned(d, o);
    expect(first.actions.length).toBeGreaterThan(0);
    const after = applyActions(d, o, first.actions);
    expect(after.d.target?.status).toBe('live');
    expect(planned(after.d, after.o)).toEqual({ actions: [], findings: [], rollout: false });
  });
});

// --- drift --------------------------------------------------------------------------------

interface DriftCase {
  name: string;
  mutate: (o: ObservedApp) => void;
  action: string;
  finding: Omit<DriftFinding, 'action'>;
}

const iniContent = iniOf(1, 'web');
const DRIFT: DriftCase[] = [
  {
    name: 'vassal config deleted',
    mutate: (o) => live(o, 'vassal').set(WEB, null),
    action: `create:vassal:${WEB}`,
    finding: { resource: `vassal:${WEB}`, kind: 'missing', desired: `${bytes(iniContent)}, enabled`, observed: 'absent' },
  },
  {
    name: 'unit gone from disk entirely (config and link; absent from the map)',
    mutate: (o) => live(o, 'vassal').delete(WEB),
    action: `create:vassal:${WEB}`,
    finding: { resource: `vassal:${WEB}`, kind: 'missing', desired: `${bytes(iniContent)}, enabled`, observed: 'absent' },
  },
  {
    name: 'vassal config edited',
    mutate: (o) => { vassal(o, WEB).content = '[uwsgi]\nmaster = false\n'; },
    action: `update:vassal:${WEB}`,
    finding: { resource: `vassal:${WEB}`, kind: 'changed', desired: `${bytes(iniContent)}, enabled`, observed: `${bytes('[uwsgi]\nmaster = false\n')}, enabled` },
  },
  {
    name: 'enable link missing',
    mutate: (o) => { vassal(o, WEB).enabled = false; },
    action: `update:vassal:${WEB}`,
    finding: { resource: `vassal:${WEB}`, kind: 'missing', desired: `${bytes(iniContent)}, enabled`, observed: `${bytes(iniContent)}, not enabled` },
  },
  {
    name: 'run file deleted',
    mutate: (o) => live(o, 'runfile').set(WEB, null),
    action: `create:runfile:${WEB}`,
    finding: { resource: `runfile:${WEB}`, kind: 'missing', desired: bytes(runOf(1, 'web')), observed: 'absent' },
  },
  {
    name: 'run file edited',
    mutate: (o) => live(o, 'runfile').set(WEB, { path: runPath(1, 'web'), content: '{}' }),
    action: `update:runfile:${WEB}`,
    finding: { resource: `runfile:${WEB}`, kind: 'changed', desired: bytes(runOf(1, 'web')), observed: bytes('{}') },
  },
  {
    name: 'site edited',
    mutate: (o) => live(o, 'site').set(APP, { path: SITE_PATH, content: 'server { listen 81; }\n', loaded: true }),
    action: 'update:site:a',
    finding: { resource: 'site:a', kind: 'changed', desired: bytes(siteContent(1)), observed: bytes('server { listen 81; }\n') },
  },
  {
    name: 'site deleted (the proxy still serves it)',
    mutate: (o) => live(o, 'site').set(APP, { path: SITE_PATH, content: null, loaded: false }),
    action: 'update:site:a',
    finding: { resource: 'site:a', kind: 'missing', desired: bytes(siteContent(1)), observed: 'absent, not loaded by the proxy' },
  },
  {
    name: 'unexpected extra unit of the same app',
    mutate: (o) => live(o, 'vassal').set('a.v1.extra', { enabled: true, process: proc() }),
    action: 'delete:vassal:a.v1.extra',
    finding: { resource: 'vassal:a.v1.extra', kind: 'unexpected', desired: 'absent', observed: 'config, enabled' },
  },
  {
    name: 'unexpected unit present but not enabled',
    mutate: (o) => live(o, 'vassal').set('a.v0.web', { enabled: false, process: null }),
    action: 'delete:vassal:a.v0.web',
    finding: { resource: 'vassal:a.v0.web', kind: 'unexpected', desired: 'absent', observed: 'config, not enabled' },
  },
];

describe('plan: drift on a settled app', () => {
  it.each(DRIFT)('heal policy heal — $name: repaired, with the drift attached', ({ mutate, action, finding }) => {
    const d = desired({ healPolicy: 'heal' });
    const o = observedOf(d);
    mutate(o);
    const p = planned(d, o);
    const f: DriftFinding = { ...finding, action: 'healed' };
    expect(brief(p.actions)).toEqual([action]);
    expect(p.actions[0]!.drift).toEqual(f);
    expect(p.findings).toEqual([f]);
    expect(p.rollout).toBe(false);
    // Healing converges.
    const after = applyActions(d, o, p.actions);
    expect(planned(after.d, after.o).actions).toEqual([]);
  });

  it.each(DRIFT)('heal policy report — $name: reported, nothing done', ({ mutate, finding }) => {
    const d = desired({ healPolicy: 'report' });
    const o = observedOf(d);
    mutate(o);
    const p = planned(d, o);
    expect(p.actions).toEqual([]);
    expect(p.findings).toEqual([{ ...finding, action: 'reported' }]);
  });

  it('a process the emperor restarted is acknowledged once, as healed drift on process:<unit>', () => {
    const d = desired();
    const o = observedOf(d);
    vassal(o, WEB).process = proc(1111, 2222);
    const p = planned(d, o);
    expect(brief(p.actions)).toEqual([`ack:process:${WEB}`]);
    expect(p.actions[0]).toMatchObject({ type: 'acknowledge', kind: 'vassal', name: WEB });
    expect(p.findings).toHaveLength(1);
    expect(p.findings[0]).toMatchObject({ resource: `process:${WEB}`, kind: 'missing', desired: 'running', action: 'healed' });
    expect(p.findings[0]!.observed).toContain('1111');
    expect(p.findings[0]!.observed).toContain('2222');
    expect(p.actions[0]!.drift).toEqual(p.findings[0]);
    const after = applyActions(d, o, p.actions);
    expect(planned(after.d, after.o).actions).toEqual([]);
  });

  it('under heal policy report a restarted process is still acknowledged: the emperor already healed it', () => {
    const d = desired({ healPolicy: 'report' });
    const o = observedOf(d);
    vassal(o, WEB).process = proc(1111, 2222);
    const p = planned(d, o);
    expect(brief(p.actions)).toEqual([`ack:process:${WEB}`]);
    expect(p.findings.map((f) => [f.resource, f.action])).toEqual([[`process:${WEB}`, 'healed']]);
  });

  it('a process that is not listed, unknown or never restarted is not drift', () => {
    for (const process of [null, UNKNOWN, proc(null)] as const) {
      const d = desired();
      const o = observedOf(d);
      vassal(o, WEB).process = process;
      expect(planned(d, o)).toEqual({ actions: [], findings: [], rollout: false });
    }
  });

  it('all drift at once: every repair in phase order, every finding recorded', () => {
    const d = desired();
    const o = observedOf(d);
    for (const name of ['run file edited', 'vassal config edited', 'site edited', 'unexpected extra unit of the same app', 'unexpected unit present but not enabled']) {
      DRIFT.find((c) => c.name === name)!.mutate(o);
    }
    vassal(o, WEB).enabled = false;
    vassal(o, WEB).process = proc(1, 2);
    const p = planned(d, o);
    expect(brief(p.actions)).toEqual([
      `update:runfile:${WEB}`,
      `ack:process:${WEB}`, // sync phase: the restart is acknowledged with its unit
      `update:vassal:${WEB}`,
      'update:site:a',
      'delete:vassal:a.v1.extra',
      'delete:vassal:a.v0.web',
    ]);
    expect(p.findings.map((f) => `${f.kind}:${f.resource}`)).toEqual([
      `changed:runfile:${WEB}`,
      `missing:process:${WEB}`,
      `missing:vassal:${WEB}`,
      'unexpected:vassal:a.v1.extra',
      'unexpected:vassal:a.v0.web',
      'changed:site:a',
    ]);
    expect(p.actions.every((a) => a.drift?.action === 'healed')).toBe(true);
    const after = applyActions(d, o, p.actions);
    expect(planned(after.d, after.o)).toEqual({ actions: [], findings: [], rollout: false });
  });
});

describe('plan: not settled (a desired change is being applied)', () => {
  it.each(['heal', 'report'] as const)('heal policy %s: a changed config is updated with no drift attached', (healPolicy) => {
    // `hop3 restart` bumps restart_count (and the generation): the rendered ini changes.
    const before = desired();
    const d = desired({ healPolicy, settled: false, resources: [...unit(1, 'web', 1), site(siteContent(1))] });
    const p = planned(d, observedOf(before));
    expect(p.actions).toEqual([{
      type: 'resource', op: 'update', kind: 'vassal', name: WEB, resource: `vassal:${WEB}`,
      desired: { path: INI, content: iniOf(1, 'web', 1) }, live: vassal(observedOf(before), WEB),
    }]);
    expect(p.findings).toEqual([]);
    expect(p.rollout).toBe(false);
  });

  it('a missing link and a missing site are restored without drift', () => {
    const d = desired({ settled: false, healPolicy: 'report' });
    const o = observedOf(d);
    vassal(o, WEB).enabled = false;
    live(o, 'site').set(APP, null);
    const p = planned(d, o);
    expect(brief(p.actions)).toEqual([`update:vassal:${WEB}`, 'create:site:a']);
    expect(p.actions.every((a) => a.drift === undefined)).toBe(true);
    expect(p.findings).toEqual([]);
  });
});

describe('plan: stopped app', () => {
  it('removes the site and every unit, without drift when the stop was just asked', () => {
    const running = desired({ resources: [...unit(1, 'web'), ...unit(1, 'worker'), site(siteContent(1))] });
    // desiredApp() gives a stopped app none of these (what a state keeps is its to say).
    const d = { ...running, state: 'stopped' as const, settled: false, resources: [] };
    const p = planned(d, observedOf(running));
    expect(brief(p.actions)).toEqual(['delete:runfile:a.v1.web', 'delete:runfile:a.v1.worker', 'delete:vassal:a.v1.web', 'delete:vassal:a.v1.worker', 'delete:site:a']);
    expect(p.actions.find((a) => a.type === 'resource' && a.kind === 'site')).toMatchObject({ op: 'delete', desired: null, live: { path: SITE_PATH } });
    expect(p.findings).toEqual([]);
    expect(p.rollout).toBe(false);
  });

  it('does not build a pending target while stopped', () => {
    const d = desired({ state: 'stopped', settled: false, target: release(2, 'pending'), resources: [] });
    expect(planned(d, observedOf(d))).toEqual({ actions: [], findings: [], rollout: false });
  });

  it('a paused app runs no process but keeps a site (the one desiredApp renders for it)', () => {
    const running = desired();
    const pausedSite = 'server { return 503; }\n';
    const d = desired({ state: 'paused', settled: false, resources: [site(pausedSite)] });
    const o = observedOf(running);
    live(o, 'runfile').clear(); // observed only where desired
    const p = planned(d, o);
    expect(brief(p.actions)).toEqual([`update:site:a`, `delete:vassal:${WEB}`]);
    expect(p.actions[0]).toMatchObject({ desired: { content: pausedSite } });
    expect(p.findings).toEqual([]);
    // Paused and converged: nothing to do; the site edited by hand is drift like any other.
    const settled = { ...d, settled: true };
    expect(planned(settled, observedOf(settled)).actions).toEqual([]);
    const edited = observedOf(settled);
    live(edited, 'site').set(APP, { path: SITE_PATH, content: 'edited', loaded: true });
    expect(planned(settled, edited).findings).toEqual([{ resource: 'site:a', kind: 'changed', desired: bytes(pausedSite), observed: bytes('edited'), action: 'healed' }]);
  });

  it('a unit reappearing on a settled stopped app is unexpected drift', () => {
    const d = desired({ state: 'stopped', settled: true, healPolicy: 'report', resources: [] });
    const o = observedOf(d);
    live(o, 'vassal').set(WEB, { enabled: true, process: proc() });
    const p = planned(d, o);
    expect(p.actions).toEqual([]);
    expect(p.findings).toEqual([{ resource: `vassal:${WEB}`, kind: 'unexpected', desired: 'absent', observed: 'config, enabled', action: 'reported' }]);
  });

  it('a failed release: its units are retired, the live release keeps running', () => {
    // desiredApp renders the live release (v1) when the desired one (v2) failed.
    const d = desired({ settled: false });
    const o = observedOf(d);
    live(o, 'vassal').set('a.v2.web', { enabled: true, process: proc() });
    expect(brief(planned(d, o).actions)).toEqual(['delete:vassal:a.v2.web']);
  });
});

describe('plan: Unknown is not Missing', () => {
  it('an unknown site is neither applied nor removed, and is reported as unknown', () => {
    for (const resources of [desired().resources, unit(1, 'web')]) {
      const d = desired({ settled: false, resources });
      const o = observedOf(desired());
      live(o, 'site').set(APP, UNKNOWN);
      const p = planned(d, o);
      expect(brief(p.actions).filter((a) => a.includes(':site:'))).toEqual([]);
      expect(p.findings).toContainEqual(expect.objectContaining({ kind: 'unknown', observed: 'could not be observed', action: 'reported' }));
    }
  });

  it('unknown vassals: nothing is created, updated or removed, even when stopping', () => {
    const running = desired();
    for (const d of [
      desired({ settled: false, resources: [...unit(1, 'web', 1), site(siteContent(1))] }),
      desired({ state: 'stopped', settled: false, resources: [] }),
    ]) {
      const o = observedOf(running);
      o.resources.set('vassal', UNKNOWN);
      const p = planned(d, o);
      expect(brief(p.actions).filter((a) => a.includes(':vassal:'))).toEqual([]);
      expect(p.findings.find((f) => f.resource === 'vassal')).toMatchObject({ kind: 'unknown', action: 'reported' });
    }
  });

  it('unknown vassals: the files units read are still written', () => {
    const d = desired({ settled: false, resources: [...unit(1, 'web'), ...unit(1, 'worker'), site(siteContent(1))] });
    const o = observedOf(desired());
    o.resources.set('vassal', UNKNOWN);
    expect(brief(planned(d, o).actions)).toEqual(['create:runfile:a.v1.worker']);
  });

  it('an unknown file is not written; the other files still are', () => {
    const d = desired({ settled: false, resources: [...unit(1, 'web'), ...unit(1, 'worker'), site(siteContent(1))] });
    const o = observedOf(d);
    live(o, 'runfile').set(WEB, UNKNOWN);
    live(o, 'runfile').set('a.v1.worker', null);
    const p = planned(d, o);
    expect(brief(p.actions)).toEqual(['create:runfile:a.v1.worker']);
    expect(p.findings).toEqual([{ resource: `runfile:${WEB}`, kind: 'unknown', desired: bytes(runOf(1, 'web')), observed: 'could not be observed', action: 'reported' }]);
  });

  it('a rollout waits when the units cannot be observed: nothing is switched or marked live', () => {
    const d = desired({ target: release(2, 'built'), settled: false, resources: [...unit(2, 'web'), site(siteContent(2))], health: HEALTH });
    const o = observedOf(desired());
    o.resources.set('vassal', UNKNOWN);
    const p = planned(d, o);
    expect(p.actions).toEqual([]);
    expect(p.rollout).toBe(false);
    expect(p.findings).toEqual([{ resource: 'vassal', kind: 'unknown', desired: 'release v2', observed: 'could not be observed', action: 'reported' }]);
  });
});

describe('plan: what the proxy loaded', () => {
  const notLoaded = (o: ObservedApp, content: string | null = siteContent(1)) => live(o, 'site').set(APP, { path: SITE_PATH, content, loaded: false });

  it('a site on disk as wanted but not loaded is re-applied (drift when settled), and the pass after plans nothing', () => {
    const d = desired();
    const o = observedOf(d);
    notLoaded(o);
    const p = planned(d, o);
    const finding = { resource: 'site:a', kind: 'changed', desired: bytes(siteContent(1)), observed: `${bytes(siteContent(1))}, not loaded by the proxy`, action: 'healed' };
    expect(brief(p.actions)).toEqual(['update:site:a']);
    expect(p.actions[0]!.drift).toEqual(finding);
    expect(p.findings).toEqual([finding]);
    const after = applyActions(d, o, p.actions);
    expect(planned(after.d, after.o).actions).toEqual([]);
  });

  it('under report, a site not loaded is only reported', () => {
    const d = desired({ healPolicy: 'report' });
    const o = observedOf(d);
    notLoaded(o);
    const p = planned(d, o);
    expect(p.actions).toEqual([]);
    expect(p.findings).toMatchObject([{ resource: 'site:a', observed: `${bytes(siteContent(1))}, not loaded by the proxy`, action: 'reported' }]);
  });

  it('a rollout cut short after the site was written: the switch (reload) comes before the old units are retired', () => {
    // v2's units run and its site is on disk; the proxy still serves v1's.
    const d = desired({ target: release(2, 'built'), settled: false, resources: [...unit(2, 'web'), site(siteContent(2))], health: HEALTH });
    const o = observedOf(d);
    live(o, 'vassal').set(unitNameOf(1, 'web'), { enabled: true, process: proc() });
    notLoaded(o, siteContent(2));
    const p = planned(d, o);
    expect(brief(p.actions)).toEqual(['await-healthy:v2', 'update:site:a', 'delete:vassal:a.v1.web', 'mark-live:v2']);
    expect(p.actions.every((a) => a.drift === undefined)).toBe(true);
    // Loaded: nothing to switch, only the retirement (what happened before the proxy was observed).
    live(o, 'site').set(APP, { path: SITE_PATH, content: siteContent(2), loaded: true });
    expect(brief(planned(d, o).actions)).toEqual(['await-healthy:v2', 'delete:vassal:a.v1.web', 'mark-live:v2']);
  });

  it('an absent site the proxy still serves is re-applied (removal reloaded)', () => {
    const d = desired({ state: 'stopped', settled: true, resources: [] });
    const o = observedOf(d);
    notLoaded(o, null);
    const p = planned(d, o);
    expect(brief(p.actions)).toEqual(['delete:site:a']);
    expect(p.actions[0]).toMatchObject({ live: { content: null, loaded: false } });
  });

  it('a rollout waits while the proxy cannot be observed: nothing is started, switched, retired or marked live', () => {
    const d = desired({ target: release(2, 'built'), settled: false, resources: [...unit(2, 'web'), site(siteContent(2))], health: HEALTH });
    const o = observedOf(desired());
    live(o, 'site').set(APP, UNKNOWN);
    const p = planned(d, o);
    expect(p.actions).toEqual([]);
    expect(p.rollout).toBe(false);
    expect(p.findings).toEqual([{ resource: 'site:a', kind: 'unknown', desired: 'release v2', observed: 'could not be observed', action: 'reported' }]);
  });

  it('while the proxy cannot be observed, no unit is retired; other repairs go on and it is reported', () => {
    const d = desired();
    const o = observedOf(d);
    live(o, 'vassal').set('a.v0.web', { enabled: true, process: proc() });
    live(o, 'vassal').set(WEB, null);
    const known = live(o, 'site').get(APP);
    live(o, 'site').set(APP, UNKNOWN);
    const p = planned(d, o);
    expect(brief(p.actions)).toEqual([`create:vassal:${WEB}`]);
    expect(p.findings).toContainEqual({ resource: 'site:a', kind: 'unknown', desired: bytes(siteContent(1)), observed: 'could not be observed', action: 'reported' });
    // Once it is seen again, the stray unit goes.
    live(o, 'site').set(APP, known);
    expect(brief(planned(d, o).actions)).toContain('delete:vassal:a.v0.web');
  });
});

describe('plan: resources of providers, paired by key', () => {
  type Spec = { v: number; key?: string };
  const provider = (kind: string, phase: 'sync' | 'switch' = 'sync'): PlannedProvider => ({
    kind,
    phase,
    // A changed key needs a new resource; anything else is updated in place.
    diff: (d: unknown, l: unknown) => ((d as Spec).key !== (l as Spec).key ? 'replace' as const : (d as Spec).v !== (l as Spec).v ? 'update' as const : 'none' as const),
    describe: (x: unknown) => `v${(x as Spec).v}`,
  });
  const CERT = provider('cert');
  const ROUTE = provider('route', 'switch');
  const res = (kind: string, name: string, spec: Spec) => ({ kind, name, spec });
  const withLive = (d: DesiredApp, kind: string, live: [string, Spec | null | typeof UNKNOWN][] | typeof UNKNOWN) => {
    const o = observedOf(d);
    o.resources.set(kind, live === UNKNOWN ? UNKNOWN : new Map(live));
    return o;
  };
  const ops = (p: ReturnType<typeof plan>) => p.actions.filter((a) => a.type === 'resource' && ['cert', 'route'].includes(a.kind)).map((a) => `${(a as { op: string }).op}:${(a as { resource: string }).resource}`);
  const withCerts = (over: Partial<DesiredApp> = {}) => desired({ ...over, resources: [...desired().resources, ...(over.resources ?? [])] });

  it.each([
    { name: 'missing: created', live: [] as [string, Spec | null][], want: ['create:cert:a'], finding: 'missing' },
    { name: 'observed absent: created', live: [['a', null]] as [string, Spec | null][], want: ['create:cert:a'], finding: 'missing' },
    { name: 'changed in place: updated', live: [['a', { v: 1, key: 'k' }]] as [string, Spec | null][], want: ['update:cert:a'], finding: 'changed' },
    { name: 'changed key: replaced', live: [['a', { v: 2, key: 'old' }]] as [string, Spec | null][], want: ['replace:cert:a'], finding: 'changed' },
    { name: 'as desired: nothing', live: [['a', { v: 2, key: 'k' }]] as [string, Spec | null][], want: [], finding: null },
  ])('$name', ({ live: seen, want, finding }) => {
    const d = withCerts({ resources: [res('cert', 'a', { v: 2, key: 'k' })] });
    const p = plan(d, withLive(d, 'cert', seen), [...PROVIDERS, CERT]);
    expect(ops(p)).toEqual(want);
    expect(p.findings.map((f) => `${f.kind}:${f.resource}:${f.action}`)).toEqual(finding ? [`${finding}:cert:a:healed`] : []);
    // Planning again over what the action leaves plans nothing.
    expect(ops(plan(d, withLive(d, 'cert', [['a', { v: 2, key: 'k' }]]), [...PROVIDERS, CERT]))).toEqual([]);
  });

  it('live without desired is pruned after the switch; under report it is only reported', () => {
    const d = withCerts({ resources: [res('cert', 'a', { v: 1 })] });
    const o = withLive(d, 'cert', [['a', { v: 1 }], ['old', { v: 0 }]]);
    const healed = plan(d, o, [...PROVIDERS, CERT]);
    expect(ops(healed)).toEqual(['delete:cert:old']);
    expect(healed.findings).toEqual([{ resource: 'cert:old', kind: 'unexpected', desired: 'absent', observed: 'v0', action: 'healed' }]);
    const reported = plan({ ...d, healPolicy: 'report' }, o, [...PROVIDERS, CERT]);
    expect(ops(reported)).toEqual([]);
    expect(reported.findings.map((f) => f.action)).toEqual(['reported']);
  });

  it('Unknown is reported and never created, replaced or deleted; one Unknown holds back every delete of its kind', () => {
    const d = withCerts({ resources: [res('cert', 'a', { v: 1 })] });
    const p = plan(d, withLive(d, 'cert', [['a', UNKNOWN], ['old', { v: 0 }]]), [...PROVIDERS, CERT]);
    expect(ops(p)).toEqual([]);
    expect(p.findings).toEqual([{ resource: 'cert:a', kind: 'unknown', desired: 'v1', observed: 'could not be observed', action: 'reported' }]);
    const whole = plan(d, withLive(d, 'cert', UNKNOWN), [...PROVIDERS, CERT]);
    expect(ops(whole)).toEqual([]);
    expect(whole.findings.map((f) => `${f.kind}:${f.resource}`)).toEqual(['unknown:cert']);
  });

  it('a kind its provider did not observe plans nothing (no provider, no guess)', () => {
    const d = withCerts({ resources: [res('cert', 'a', { v: 1 })] });
    expect(ops(plan(d, observedOf(d), [...PROVIDERS, CERT]))).toEqual([]);
  });

  it('retireAfter: a kind is not deleted while a kind that may send it work cannot be seen', () => {
    const BACKEND = { ...provider('backend'), retireAfter: ['route'] };
    const d = withCerts();
    const o = withLive(d, 'backend', [['old', { v: 0 }]]);
    o.resources.set('route', new Map([['a', UNKNOWN]]));
    expect(brief(plan(d, o, [...PROVIDERS, BACKEND, ROUTE]).actions)).toEqual([]);
    o.resources.set('route', new Map());
    expect(brief(plan(d, o, [...PROVIDERS, BACKEND, ROUTE]).actions)).toEqual(['delete:backend:old']);
  });

  it('pruneOnly: desired says what to keep; nothing is created, and its deletes are not drift', () => {
    const KEEP = { ...provider('dir'), pruneOnly: true };
    const d = withCerts({ resources: [res('dir', 'v2', { v: 0 }), res('dir', 'v3', { v: 0 })] });
    const o = withLive(d, 'dir', [['v1', { v: 0 }], ['v3', { v: 0 }]]);
    const p = plan(d, o, [...PROVIDERS, KEEP]);
    expect(brief(p.actions)).toEqual(['delete:dir:v1']);
    expect(p.findings).toEqual([]);
    expect(p.actions[0]!.drift).toBeUndefined();
  });

  it('pruneOnly: a kept resource that could not be seen is reported, and nothing of its kind is pruned', () => {
    const KEEP = { ...provider('dir'), pruneOnly: true };
    const d = withCerts({ resources: [res('dir', 'v2', { v: 0 })] });
    const o = withLive(d, 'dir', [['v1', { v: 0 }], ['v2', UNKNOWN]]);
    const p = plan(d, o, [...PROVIDERS, KEEP]);
    expect(brief(p.actions)).toEqual([]);
    expect(p.findings).toEqual([expect.objectContaining({ resource: 'dir:v2', kind: 'unknown', action: 'reported' })]);
  });

  it('phases order a rollout: sync resources before the health gate, switch resources with the site, deletes after the switch', () => {
    const o = observedOf(desired());
    const d = desired({
      target: release(2, 'built'), settled: false, health: HEALTH,
      resources: [...unit(2, 'web'), site(siteContent(2)), res('cert', 'a', { v: 2 }), res('route', 'a', { v: 2 })],
    });
    o.resources.set('cert', new Map([['old', { v: 1 }]]));
    o.resources.set('route', new Map([['a', { v: 1 }]]));
    const p = plan(d, o, [...PROVIDERS, CERT, ROUTE]);
    const order = brief(p.actions);
    const i = (s: string) => order.indexOf(s);
    expect(i('create:cert:a')).toBeGreaterThan(-1);
    expect(i('create:cert:a')).toBeLessThan(i('await-healthy:v2'));
    expect(i('await-healthy:v2')).toBeLessThan(i('update:route:a'));
    expect(i('update:site:a')).toBeLessThan(i('delete:cert:old'));
    expect(i(`delete:vassal:${unitNameOf(1, 'web')}`)).toBeLessThan(i('mark-live:v2'));
    expect(i('delete:cert:old')).toBeLessThan(i('mark-live:v2'));
    // A desired change: no drift is recorded for what it creates or deletes.
    expect(p.findings).toEqual([]);
  });
});

describe('plan: expected changes (renewals) are not drift', () => {
  type Spec = { v: number; due?: boolean };
  // A resource that a clock makes due: `due` live differs from desired, and is expected.
  const TIMED: PlannedProvider = {
    kind: 'timed', phase: 'sync',
    diff: (d, l) => ((d as Spec).v !== (l as Spec).v || (l as Spec).due ? 'update' : 'none'),
    expected: (d, l) => (d as Spec).v === (l as Spec).v && (l as Spec).due === true,
    describe: (x) => `v${(x as Spec).v}`,
  };
  const withTimed = (healPolicy: 'heal' | 'report', seen: Spec | null) => {
    const d = desired({ healPolicy, resources: [...desired().resources, { kind: 'timed', name: 'a', spec: { v: 1 } }] });
    const o = observedOf(d);
    o.resources.set('timed', new Map([['a', seen]]));
    return plan(d, o, [...PROVIDERS, TIMED]);
  };

  it.each(['heal', 'report'] as const)('heal policy %s: an expected difference is applied, with no finding and no drift on the action', (policy) => {
    const p = withTimed(policy, { v: 1, due: true });
    expect(brief(p.actions)).toEqual(['update:timed:a']);
    expect(p.actions[0]!.drift).toBeUndefined();
    expect(p.findings).toEqual([]);
  });

  it('a difference the provider does not call expected is still drift: healed under heal, only reported under report', () => {
    expect(withTimed('heal', { v: 0 }).findings.map((f) => `${f.kind}:${f.action}`)).toEqual(['changed:healed']);
    const reported = withTimed('report', { v: 0 });
    expect(brief(reported.actions)).toEqual([]);
    expect(reported.findings.map((f) => `${f.kind}:${f.resource}:${f.action}`)).toEqual(['changed:timed:a:reported']);
    // Absent is never expected: a create outside a desired change is drift.
    expect(withTimed('report', null).findings.map((f) => `${f.kind}:${f.action}`)).toEqual(['missing:reported']);
  });

  describe('the certificate provider', () => {
    const home = mkdtempSync(join(tmpdir(), 'hop3-plan-cert-'));
    afterAll(() => rmSync(home, { recursive: true, force: true }));
    const DAY = 86_400_000;
    let clock = new Date();
    const certs = certResources(
      { config: loadConfig({ HOP3_HOME: home }, 0), layout: layoutOf(home), log: createLogger('silent'), exec: createExec(), now: () => clock },
      async () => undefined,
    );
    const want: CertDesired = { name: APP, names: [`${APP}.localhost`], mode: 'self-signed', renewRequestedAt: null };
    const actx = { owner: APP, log: createLogger('silent') };
    const stored = async (spec = want) => (await certs.observe(APP, [{ kind: 'cert', name: APP, spec }])).get(APP) as CertLive | null;
    const planFor = async (healPolicy: 'heal' | 'report', spec: CertDesired, seen: CertLive | null) => {
      const d = desired({ healPolicy, resources: [...desired().resources, { kind: 'cert', name: APP, spec }] });
      const o = observedOf(d);
      o.resources.set('cert', new Map([[APP, seen]]));
      return plan(d, o, [...PROVIDERS, certs]);
    };
    const certOps = (p: ReturnType<typeof plan>) => brief(p.actions).filter((a) => a.includes(':cert:'));

    it('heal policy report: a certificate in its renewal window is still renewed, as no drift', async () => {
      await certs.apply('create', APP, want, null, actx);
      const live = (await stored())!;
      expect(certOps(await planFor('report', want, live))).toEqual([]);
      clock = new Date(live.notAfter.getTime() - 29 * DAY);
      try {
        const p = await planFor('report', want, live);
        expect(certOps(p)).toEqual(['update:cert:a']);
        expect(p.findings).toEqual([]);
        expect(p.actions.find((a) => a.type === 'resource' && a.kind === 'cert')!.drift).toBeUndefined();
      } finally {
        clock = new Date();
      }
    });

    it('heal policy report: a requested renewal, new names and a stand-in are renewed too', async () => {
      const live = (await stored())!;
      const asked = { ...want, renewRequestedAt: new Date(Date.parse(live.record!.issuedAt!) + 1000).toISOString() };
      for (const [spec, seen] of [
        [asked, live],
        [{ ...want, names: [`${APP}.localhost`, `www.${APP}.localhost`] }, live],
        [{ ...want, mode: 'acme' }, { ...live, record: { ...live.record!, mode: 'acme', standIn: true } }],
      ] as [CertDesired, CertLive][]) {
        const p = await planFor('report', spec, seen);
        expect(certOps(p)).toEqual(['update:cert:a']);
        expect(p.findings).toEqual([]);
      }
    });

    it('heal policy report: a deleted certificate, or a key replaced by hand, is only reported; under heal it is repaired as drift', async () => {
      const deleted = await planFor('report', want, null);
      expect(certOps(deleted)).toEqual([]);
      expect(deleted.findings.map((f) => `${f.kind}:${f.resource}:${f.action}`)).toEqual(['missing:cert:a:reported']);

      mkdirSync(join(home, 'other'), { recursive: true });
      const other = await issueSelfSigned(createExec(), join(home, 'other'), ['other.localhost']);
      writeFileSync(join(home, 'certs', APP, 'key.pem'), other.key);
      const swapped = (await stored())!;
      expect(swapped.keyMatches).toBe(false);
      const reported = await planFor('report', want, swapped);
      expect(certOps(reported)).toEqual([]);
      expect(reported.findings.map((f) => `${f.kind}:${f.resource}:${f.action}`)).toEqual(['changed:cert:a:reported']);
      // Due for renewal as well: still drift (the files were changed by hand).
      clock = new Date(swapped.notAfter.getTime() - DAY);
      try {
        expect((await planFor('report', want, swapped)).findings.map((f) => f.action)).toEqual(['reported']);
      } finally {
        clock = new Date();
      }
      const healed = await planFor('heal', want, swapped);
      expect(certOps(healed)).toEqual(['update:cert:a']);
      expect(healed.findings.map((f) => `${f.kind}:${f.action}`)).toEqual(['changed:healed']);
    });
  });
});

describe('plan: host resources (owner host), paired by key like an app\'s', () => {
  // The real host-server provider's pure parts, over a server the planner never asks anything.
  const server = { ...SERVED, resource: 'emperor', uses: 'vassal', ensureRunning: never, stop: never };
  const host = hostServerProvider(server, 'uwsgi');
  const wanted: DesiredResource = { kind: 'emperor', name: 'uwsgi', spec: { server: 'uwsgi' } };
  const hostDesired = (resources: DesiredResource[] = [wanted]): DesiredApp => ({
    app: HOST_OWNER, state: 'running', healPolicy: 'heal', settled: true, target: null, health: null, resources,
  });
  const seen = (live: unknown): ObservedApp => ({ resources: new Map([['emperor', new Map([['uwsgi', live]])]]) });

  it.each([
    { name: 'running, its configuration loaded', live: { pid: 42, current: true }, actions: [], findings: [] },
    {
      name: 'missing (not running)', live: null, actions: ['create:emperor:uwsgi'],
      findings: [{ resource: 'emperor:uwsgi', kind: 'missing', desired: 'uwsgi running', observed: 'absent', action: 'healed' }],
    },
    {
      name: 'running an old configuration', live: { pid: 42, current: false }, actions: ['update:emperor:uwsgi'],
      findings: [{ resource: 'emperor:uwsgi', kind: 'changed', desired: 'uwsgi running', observed: 'pid 42, its configuration not loaded', action: 'healed' }],
    },
    {
      name: 'UNKNOWN (its pid file unreadable)', live: UNKNOWN, actions: [],
      findings: [{ resource: 'emperor:uwsgi', kind: 'unknown', desired: 'uwsgi running', observed: 'could not be observed', action: 'reported' }],
    },
  ])('$name → $actions', ({ live, actions, findings }) => {
    const p = plan(hostDesired(), seen(live), [host]);
    expect(brief(p.actions)).toEqual(actions);
    expect(p.findings).toEqual(findings);
    expect(p.rollout).toBe(false);
  });

  it('a kind that could not be observed at all plans nothing', () => {
    const p = plan(hostDesired(), { resources: new Map([['emperor', UNKNOWN]]) }, [host]);
    expect(p.actions).toEqual([]);
    expect(p.findings.map((f) => f.kind)).toEqual(['unknown']);
  });

  it('a server that is not hop3\'s to run is not desired, and nothing is planned for it', () => {
    const system = hostServerProvider({ ...server, managed: () => false }, 'nginx');
    expect(system.host!.desired()).toEqual([]);
    expect(host.host!.desired()).toEqual([wanted]);
    expect(plan(hostDesired([]), { resources: new Map([['emperor', new Map()]]) }, [system]).actions).toEqual([]);
  });
});
