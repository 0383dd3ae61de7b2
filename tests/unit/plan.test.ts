import { describe, expect, it } from 'vitest';
import { plan } from '../../src/reconcile/plan.js';
import { UNKNOWN, type Action, type DesiredApp, type DriftFinding, type HealthCheck, type ObservedApp, type ObservedUnit } from '../../src/reconcile/types.js';
import type { Unit } from '../../src/plugins/types.js';
import type { AppSpec } from '../../src/manifest/types.js';
import type { ReleaseRecord, ReleaseStatus } from '../../src/store/types.js';

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

function unit(version: number, proc: string, restart = 0): Unit {
  const name = unitNameOf(version, proc);
  return {
    name,
    process: proc,
    log: `${HOME}/apps/${APP}/log/${proc}.log`,
    config: { resource: `vassal:${name}`, path: iniPath(version, proc), content: `[uwsgi]\n; ${name} restart ${restart}\n` },
    files: [{ resource: `runfile:${name}`, path: runPath(version, proc), content: `{"unit":"${name}"}\n` }],
  };
}

const SITE_PATH = `${HOME}/nginx/sites/${APP}.conf`;
const siteContent = (version: number) => `server { # ${APP} v${version} }\n`;

const HEALTH: HealthCheck = { url: 'http://127.0.0.1:20002/', host: `${APP}.localhost`, expectStatus: 200, timeoutMs: 30_000, units: [{ name: unitNameOf(2, 'web'), log: `${HOME}/apps/${APP}/log/web.log` }] };

function desired(over: Partial<DesiredApp> = {}): DesiredApp {
  return {
    app: APP,
    state: 'running',
    healPolicy: 'heal',
    settled: true,
    target: release(1, 'live'),
    units: [unit(1, 'web')],
    site: { path: SITE_PATH, content: siteContent(1) },
    health: null,
    resources: [],
    ...over,
  };
}

function proc(restartedFrom: number | null = null, pid = 4242): ObservedUnit['process'] {
  return { pid, respawns: restartedFrom === null ? 0 : 1, ready: true, cursed: false, restartedFrom };
}

/** Reality exactly as `d` wants it (for a running app). */
function observedOf(d: DesiredApp): ObservedApp {
  const files = new Map<string, string | null | typeof UNKNOWN>();
  const units = new Map<string, ObservedUnit>();
  for (const u of d.units) {
    for (const f of [...u.files, u.config]) files.set(f.path, f.content);
    units.set(u.name, { present: true, enabled: true, process: proc() });
  }
  return { units, files, site: d.site.content, siteLoaded: true, resources: new Map() };
}

function unitsOf(o: ObservedApp): Map<string, ObservedUnit> {
  if (o.units === UNKNOWN) throw new Error('units are unknown');
  return o.units;
}

/** A compact `type:subject` view of an action list, to compare order at a glance. */
function brief(actions: Action[]): string[] {
  return actions.map((a) => {
    switch (a.type) {
      case 'build':
      case 'mark-live':
        return `${a.type}:v${a.version}`;
      case 'release-phase':
        return `${a.type}:v${a.version}:${a.commands.join('&&')}`;
      case 'write-file':
      case 'apply-site':
        return `${a.type}:${a.resource}`;
      case 'enable-unit':
      case 'remove-unit':
      case 'ack-restart':
        return `${a.type}:${a.unit}`;
      case 'await-healthy':
        return `${a.type}:v${a.version}`;
      case 'resource':
        return `${a.op}:${a.resource}`;
    }
  });
}

/**
 * A model of the executor over the observed state: what reality looks like after the actions
 * ran. Used to check that a plan is complete (planning again over the result plans nothing).
 */
function applyActions(d: DesiredApp, o: ObservedApp, actions: Action[]): { d: DesiredApp; o: ObservedApp } {
  const files = new Map(o.files);
  const units = o.units === UNKNOWN ? UNKNOWN : new Map(o.units);
  let site = o.site;
  let siteLoaded = o.siteLoaded;
  let target = d.target;
  for (const a of actions) {
    switch (a.type) {
      case 'write-file':
        files.set(a.path, a.content);
        break;
      case 'enable-unit':
        if (units !== UNKNOWN) units.set(a.unit, { present: true, enabled: true, process: proc() });
        break;
      case 'remove-unit':
        if (units !== UNKNOWN) units.delete(a.unit);
        break;
      case 'apply-site':
        site = a.content;
        siteLoaded = true;
        break;
      case 'mark-live':
        target = target && { ...target, status: 'live' };
        break;
      case 'ack-restart':
        if (units !== UNKNOWN) {
          const u = units.get(a.unit)!;
          units.set(a.unit, { ...u, process: proc(null, a.pid) });
        }
        break;
      case 'build':
      case 'release-phase':
      case 'await-healthy':
        break;
    }
  }
  // A completed pass records the generation it acted on: the app is settled again.
  return { d: { ...d, target, settled: target?.status === 'live' }, o: { units, files, site, siteLoaded, resources: new Map() } };
}

// --- tests --------------------------------------------------------------------------------

describe('plan: converged', () => {
  it('plans nothing and finds nothing for a running app that matches its records', () => {
    const d = desired();
    const p = plan(d, observedOf(d));
    expect(p).toEqual({ actions: [], findings: [], rollout: false });
  });

  it('plans nothing for a converged app with several units and a health check', () => {
    const d = desired({ units: [unit(1, 'web'), unit(1, 'worker')], health: HEALTH });
    expect(plan(d, observedOf(d)).actions).toEqual([]);
  });
});

describe('plan: build', () => {
  it('a pending target plans only its build', () => {
    const live = desired();
    const d = desired({ target: release(2, 'pending'), settled: false, units: [], site: { path: SITE_PATH, content: null } });
    const p = plan(d, observedOf(live));
    expect(p).toEqual({ actions: [{ type: 'build', version: 2 }], findings: [], rollout: true });
  });

  it('builds even when reality has drifted: nothing else is planned before the build', () => {
    const live = desired();
    const o = observedOf(live);
    o.site = null;
    unitsOf(o).get(unitNameOf(1, 'web'))!.enabled = false;
    const p = plan(desired({ target: release(2, 'pending'), settled: true }), o);
    expect(brief(p.actions)).toEqual(['build:v2']);
    expect(p.findings).toEqual([]);
  });
});

describe('plan: rollout of a built release', () => {
  /** v1 is running; v2 (web + worker) is built and is the target. */
  function rollout(over: { beforeRun?: string[]; health?: HealthCheck | null; settled?: boolean } = {}) {
    const before = desired({ units: [unit(1, 'web')] });
    const d = desired({
      target: release(2, 'built', over.beforeRun ?? []),
      settled: over.settled ?? false,
      units: [unit(2, 'web'), unit(2, 'worker')],
      site: { path: SITE_PATH, content: siteContent(2) },
      health: over.health === undefined ? HEALTH : over.health,
    });
    return { d, o: observedOf(before) };
  }

  const FULL = [
    'write-file:runfile:a.v2.web',
    'write-file:vassal:a.v2.web',
    'enable-unit:a.v2.web',
    'write-file:runfile:a.v2.worker',
    'write-file:vassal:a.v2.worker',
    'enable-unit:a.v2.worker',
  ];

  it.each([
    {
      name: 'release phase, health check',
      beforeRun: ['python manage.py migrate', 'python manage.py collectstatic'],
      health: HEALTH,
      expected: [
        'release-phase:v2:python manage.py migrate&&python manage.py collectstatic',
        ...FULL,
        'await-healthy:v2',
        'apply-site:site:a',
        'remove-unit:a.v1.web',
        'mark-live:v2',
      ],
    },
    {
      name: 'no release phase when beforeRun is empty',
      beforeRun: [],
      health: HEALTH,
      expected: [...FULL, 'await-healthy:v2', 'apply-site:site:a', 'remove-unit:a.v1.web', 'mark-live:v2'],
    },
    {
      name: 'no health check when none is set',
      beforeRun: [],
      health: null,
      expected: [...FULL, 'apply-site:site:a', 'remove-unit:a.v1.web', 'mark-live:v2'],
    },
  ])('$name', ({ beforeRun, health, expected }) => {
    const { d, o } = rollout({ beforeRun, health });
    const p = plan(d, o);
    expect(brief(p.actions)).toEqual(expected);
    expect(p.rollout).toBe(true);
    expect(p.findings).toEqual([]);
    expect(p.actions.every((a) => a.drift === undefined)).toBe(true);
  });

  it('carries the exact payloads of the release-phase, write, health and site actions', () => {
    const { d, o } = rollout({ beforeRun: ['migrate'] });
    const p = plan(d, o);
    const u = d.units[0]!;
    expect(p.actions[0]).toEqual({ type: 'release-phase', version: 2, commands: ['migrate'] });
    expect(p.actions[1]).toEqual({ type: 'write-file', resource: u.files[0]!.resource, path: u.files[0]!.path, content: u.files[0]!.content });
    expect(p.actions[2]).toEqual({ type: 'write-file', resource: u.config.resource, path: u.config.path, content: u.config.content });
    expect(p.actions[3]).toEqual({ type: 'enable-unit', unit: 'a.v2.web', resource: 'vassal:a.v2.web' });
    expect(p.actions.find((a) => a.type === 'await-healthy')).toEqual({ type: 'await-healthy', version: 2, check: HEALTH });
    expect(p.actions.find((a) => a.type === 'apply-site')).toEqual({ type: 'apply-site', resource: 'site:a', path: SITE_PATH, content: siteContent(2) });
    expect(p.actions.find((a) => a.type === 'remove-unit')).toEqual({ type: 'remove-unit', unit: 'a.v1.web', resource: 'vassal:a.v1.web' });
  });

  it('is zero-downtime: new units, then health, then the proxy switch, then the old units go, then mark-live', () => {
    const { d, o } = rollout();
    const types = plan(d, o).actions.map((a) => a.type);
    const at = (t: Action['type']) => types.indexOf(t);
    const lastEnable = types.lastIndexOf('enable-unit');
    expect(lastEnable).toBeGreaterThanOrEqual(0);
    expect(lastEnable).toBeLessThan(at('await-healthy'));
    expect(at('await-healthy')).toBeLessThan(at('apply-site'));
    expect(at('apply-site')).toBeLessThan(at('remove-unit'));
    expect(at('mark-live')).toBe(types.length - 1);
  });

  it('treats the differences as a desired change, not drift, even when the app looks settled', () => {
    for (const settled of [false, true]) {
      for (const healPolicy of ['heal', 'report'] as const) {
        const { d, o } = rollout({ settled });
        const p = plan({ ...d, healPolicy }, o);
        expect(p.findings).toEqual([]);
        expect(p.actions.every((a) => a.drift === undefined)).toBe(true);
        expect(p.actions.map((a) => a.type)).toContain('remove-unit');
      }
    }
  });

  it('writes only the files still missing when a rollout is resumed', () => {
    const { d, o } = rollout({ health: null });
    const web = d.units[0]!;
    o.files.set(web.files[0]!.path, web.files[0]!.content);
    o.files.set(web.config.path, web.config.content);
    unitsOf(o).set(web.name, { present: true, enabled: true, process: null });
    expect(brief(plan(d, o).actions)).toEqual([
      'write-file:runfile:a.v2.worker',
      'write-file:vassal:a.v2.worker',
      'enable-unit:a.v2.worker',
      'apply-site:site:a',
      'remove-unit:a.v1.web',
      'mark-live:v2',
    ]);
  });

  it('a second plan over the state after the rollout is empty', () => {
    const { d, o } = rollout({ beforeRun: ['migrate'] });
    const first = plan(d, o);
    expect(first.actions.length).toBeGreaterThan(0);
    const after = applyActions(d, o, first.actions);
    expect(after.d.target?.status).toBe('live');
    expect(plan(after.d, after.o)).toEqual({ actions: [], findings: [], rollout: false });
  });
});

// --- drift --------------------------------------------------------------------------------

const WEB = unitNameOf(1, 'web');
const INI = iniPath(1, 'web');
const iniContent = unit(1, 'web').config.content;
const bytes = (s: string) => `${s.length} bytes`;

interface DriftCase {
  name: string;
  mutate: (o: ObservedApp) => void;
  action: Action;
  finding: Omit<DriftFinding, 'action'>;
}

const DRIFT: DriftCase[] = [
  {
    name: 'vassal config deleted',
    mutate: (o) => o.files.set(INI, null),
    action: { type: 'write-file', resource: `vassal:${WEB}`, path: INI, content: iniContent },
    finding: { resource: `vassal:${WEB}`, kind: 'missing', desired: bytes(iniContent), observed: 'absent' },
  },
  {
    name: 'vassal config never observed (absent from the map)',
    mutate: (o) => o.files.delete(INI),
    action: { type: 'write-file', resource: `vassal:${WEB}`, path: INI, content: iniContent },
    finding: { resource: `vassal:${WEB}`, kind: 'missing', desired: bytes(iniContent), observed: 'absent' },
  },
  {
    name: 'vassal config edited',
    mutate: (o) => o.files.set(INI, '[uwsgi]\nmaster = false\n'),
    action: { type: 'write-file', resource: `vassal:${WEB}`, path: INI, content: iniContent },
    finding: { resource: `vassal:${WEB}`, kind: 'changed', desired: bytes(iniContent), observed: bytes('[uwsgi]\nmaster = false\n') },
  },
  {
    name: 'enable link missing',
    mutate: (o) => { unitsOf(o).get(WEB)!.enabled = false; },
    action: { type: 'enable-unit', unit: WEB, resource: `vassal:${WEB}` },
    finding: { resource: `vassal:${WEB}`, kind: 'missing', desired: 'enabled', observed: 'not enabled' },
  },
  {
    name: 'unit gone from disk entirely (config and link)',
    mutate: (o) => { unitsOf(o).delete(WEB); },
    action: { type: 'enable-unit', unit: WEB, resource: `vassal:${WEB}` },
    finding: { resource: `vassal:${WEB}`, kind: 'missing', desired: 'enabled', observed: 'not enabled' },
  },
  {
    name: 'site edited',
    mutate: (o) => { o.site = 'server { listen 81; }\n'; },
    action: { type: 'apply-site', resource: 'site:a', path: SITE_PATH, content: siteContent(1) },
    finding: { resource: 'site:a', kind: 'changed', desired: bytes(siteContent(1)), observed: bytes('server { listen 81; }\n') },
  },
  {
    name: 'site deleted',
    mutate: (o) => { o.site = null; },
    action: { type: 'apply-site', resource: 'site:a', path: SITE_PATH, content: siteContent(1) },
    finding: { resource: 'site:a', kind: 'missing', desired: bytes(siteContent(1)), observed: 'absent' },
  },
  {
    name: 'unexpected extra unit of the same app',
    mutate: (o) => { unitsOf(o).set('a.v1.extra', { present: true, enabled: true, process: proc() }); },
    action: { type: 'remove-unit', unit: 'a.v1.extra', resource: 'vassal:a.v1.extra' },
    finding: { resource: 'vassal:a.v1.extra', kind: 'unexpected', desired: 'absent', observed: 'enabled' },
  },
  {
    name: 'unexpected unit present but not enabled',
    mutate: (o) => { unitsOf(o).set('a.v0.web', { present: true, enabled: false, process: null }); },
    action: { type: 'remove-unit', unit: 'a.v0.web', resource: 'vassal:a.v0.web' },
    finding: { resource: 'vassal:a.v0.web', kind: 'unexpected', desired: 'absent', observed: 'present' },
  },
];

describe('plan: drift on a settled app', () => {
  it.each(DRIFT)('heal policy heal — $name: repaired, with the drift attached', ({ mutate, action, finding }) => {
    const d = desired({ healPolicy: 'heal' });
    const o = observedOf(d);
    mutate(o);
    const p = plan(d, o);
    const f: DriftFinding = { ...finding, action: 'healed' };
    expect(p.actions).toEqual([{ ...action, drift: f }]);
    expect(p.findings).toEqual([f]);
    expect(p.rollout).toBe(false);
    // Healing converges.
    const after = applyActions(d, o, p.actions);
    expect(plan(after.d, after.o).actions).toEqual([]);
  });

  it.each(DRIFT)('heal policy report — $name: reported, nothing done', ({ mutate, finding }) => {
    const d = desired({ healPolicy: 'report' });
    const o = observedOf(d);
    mutate(o);
    const p = plan(d, o);
    expect(p.actions).toEqual([]);
    expect(p.findings).toEqual([{ ...finding, action: 'reported' }]);
  });

  it('a process the emperor restarted is acknowledged once, as healed drift on process:<unit>', () => {
    const d = desired();
    const o = observedOf(d);
    unitsOf(o).get(WEB)!.process = proc(1111, 2222);
    const p = plan(d, o);
    expect(p.actions).toHaveLength(1);
    expect(p.actions[0]).toMatchObject({ type: 'ack-restart', unit: WEB, pid: 2222 });
    expect(p.findings).toHaveLength(1);
    expect(p.findings[0]).toMatchObject({ resource: `process:${WEB}`, kind: 'missing', desired: 'running', action: 'healed' });
    expect(p.findings[0]!.observed).toContain('1111');
    expect(p.findings[0]!.observed).toContain('2222');
    expect(p.actions[0]!.drift).toEqual(p.findings[0]);
    const after = applyActions(d, o, p.actions);
    expect(plan(after.d, after.o).actions).toEqual([]);
  });

  it('under heal policy report a restarted process is still acknowledged: the emperor already healed it', () => {
    const d = desired({ healPolicy: 'report' });
    const o = observedOf(d);
    unitsOf(o).get(WEB)!.process = proc(1111, 2222);
    const p = plan(d, o);
    expect(brief(p.actions)).toEqual([`ack-restart:${WEB}`]);
    expect(p.findings.map((f) => [f.resource, f.action])).toEqual([[`process:${WEB}`, 'healed']]);
  });

  it('a process that is not listed, unknown or never restarted is not drift', () => {
    for (const process of [null, UNKNOWN, proc(null)] as const) {
      const d = desired();
      const o = observedOf(d);
      unitsOf(o).get(WEB)!.process = process;
      expect(plan(d, o)).toEqual({ actions: [], findings: [], rollout: false });
    }
  });

  it('all drift at once: every repair in planner order, every finding recorded', () => {
    const d = desired();
    const o = observedOf(d);
    for (const c of DRIFT.filter((c) => !c.name.startsWith('unit gone') && !c.name.includes('never observed') && c.name !== 'site deleted')) c.mutate(o);
    unitsOf(o).get(WEB)!.process = proc(1, 2);
    const p = plan(d, o);
    expect(brief(p.actions)).toEqual([
      `write-file:vassal:${WEB}`,
      `enable-unit:${WEB}`,
      `ack-restart:${WEB}`, // sync phase: the restart is acknowledged with its unit
      'apply-site:site:a',
      'remove-unit:a.v1.extra',
      'remove-unit:a.v0.web',
    ]);
    expect(p.findings.map((f) => `${f.kind}:${f.resource}`)).toEqual([
      `changed:vassal:${WEB}`,
      `missing:vassal:${WEB}`,
      'changed:site:a',
      `missing:process:${WEB}`,
      'unexpected:vassal:a.v1.extra',
      'unexpected:vassal:a.v0.web',
    ]);
    expect(p.actions.every((a) => a.drift?.action === 'healed')).toBe(true);
    const after = applyActions(d, o, p.actions);
    expect(plan(after.d, after.o)).toEqual({ actions: [], findings: [], rollout: false });
  });
});

describe('plan: not settled (a desired change is being applied)', () => {
  it.each(['heal', 'report'] as const)('heal policy %s: changed files are written with no drift attached', (healPolicy) => {
    // `hop3 restart` bumps restart_count (and the generation): the rendered ini changes.
    const before = desired();
    const d = desired({ healPolicy, settled: false, units: [unit(1, 'web', 1)] });
    const o = observedOf(before);
    const p = plan(d, o);
    expect(p.actions).toEqual([{ type: 'write-file', resource: `vassal:${WEB}`, path: INI, content: unit(1, 'web', 1).config.content }]);
    expect(p.findings).toEqual([]);
    expect(p.rollout).toBe(false);
  });

  it('a missing link and a missing site are restored without drift', () => {
    const d = desired({ settled: false, healPolicy: 'report' });
    const o = observedOf(d);
    unitsOf(o).get(WEB)!.enabled = false;
    o.site = null;
    const p = plan(d, o);
    expect(brief(p.actions)).toEqual([`enable-unit:${WEB}`, 'apply-site:site:a']);
    expect(p.actions.every((a) => a.drift === undefined)).toBe(true);
    expect(p.findings).toEqual([]);
  });
});

describe('plan: stopped app', () => {
  it('removes the site and every unit, without drift when the stop was just asked', () => {
    const running = desired({ units: [unit(1, 'web'), unit(1, 'worker')] });
    // desiredApp() gives a stopped app no site; the planner itself ignores its units.
    const d = desired({ state: 'stopped', settled: false, units: running.units, site: { path: SITE_PATH, content: null } });
    const p = plan(d, observedOf(running));
    expect(p.actions).toEqual([
      { type: 'apply-site', resource: 'site:a', path: SITE_PATH, content: null },
      { type: 'remove-unit', unit: 'a.v1.web', resource: 'vassal:a.v1.web' },
      { type: 'remove-unit', unit: 'a.v1.worker', resource: 'vassal:a.v1.worker' },
    ]);
    expect(p.findings).toEqual([]);
    expect(p.rollout).toBe(false);
  });

  it('does not build a pending target while stopped', () => {
    const d = desired({ state: 'stopped', settled: false, target: release(2, 'pending'), units: [], site: { path: SITE_PATH, content: null } });
    const p = plan(d, { units: new Map(), files: new Map(), site: null, siteLoaded: true, resources: new Map() });
    expect(p).toEqual({ actions: [], findings: [], rollout: false });
  });

  it('a paused app runs no process but keeps a site (the one desiredApp renders for it)', () => {
    const running = desired();
    const pausedSite = 'server { return 503; }\n';
    const d = desired({ state: 'paused', settled: false, units: [], site: { path: SITE_PATH, content: pausedSite } });
    const p = plan(d, observedOf(running));
    expect(p.actions).toEqual([
      { type: 'apply-site', resource: 'site:a', path: SITE_PATH, content: pausedSite },
      { type: 'remove-unit', unit: WEB, resource: `vassal:${WEB}` },
    ]);
    expect(p.findings).toEqual([]);
    // Paused and converged: nothing to do; the site edited by hand is drift like any other.
    const settled = { ...d, settled: true };
    expect(plan(settled, { units: new Map(), files: new Map(), site: pausedSite, siteLoaded: true, resources: new Map() }).actions).toEqual([]);
    expect(plan(settled, { units: new Map(), files: new Map(), site: 'edited', siteLoaded: true, resources: new Map() }).findings).toEqual([
      { resource: 'site:a', kind: 'changed', desired: bytes(pausedSite), observed: bytes('edited'), action: 'healed' },
    ]);
  });

  it('a unit reappearing on a settled stopped app is unexpected drift', () => {
    const d = desired({ state: 'stopped', settled: true, healPolicy: 'report', units: [], site: { path: SITE_PATH, content: null } });
    const o: ObservedApp = { units: new Map([[WEB, { present: true, enabled: true, process: proc() }]]), files: new Map(), site: null, siteLoaded: true, resources: new Map() };
    const p = plan(d, o);
    expect(p.actions).toEqual([]);
    expect(p.findings).toEqual([{ resource: `vassal:${WEB}`, kind: 'unexpected', desired: 'absent', observed: 'enabled', action: 'reported' }]);
  });
});

describe('plan: Unknown is not Missing', () => {
  it('an unknown site is neither applied nor removed, and is reported as unknown', () => {
    for (const content of [siteContent(1), null]) {
      const d = desired({ settled: false, site: { path: SITE_PATH, content } });
      const o = observedOf(desired());
      o.site = UNKNOWN;
      const p = plan(d, o);
      expect(p.actions.map((a) => a.type)).not.toContain('apply-site');
      expect(p.findings).toContainEqual({
        resource: 'site:a', kind: 'unknown', desired: content === null ? 'absent' : bytes(content), observed: 'could not be observed', action: 'reported',
      });
    }
  });

  it('unknown units: nothing is enabled or removed, even when stopping', () => {
    const running = desired();
    for (const d of [
      desired({ settled: false }),
      desired({ state: 'stopped', settled: false, site: { path: SITE_PATH, content: null } }),
      desired({ target: release(2, 'built'), settled: false, units: [unit(2, 'web')], site: { path: SITE_PATH, content: siteContent(2) } }),
    ]) {
      const o: ObservedApp = { ...observedOf(running), units: UNKNOWN };
      const p = plan(d, o);
      const types = p.actions.map((a) => a.type);
      expect(types).not.toContain('enable-unit');
      expect(types).not.toContain('remove-unit');
      expect(p.findings.find((f) => f.resource === 'vassals')).toMatchObject({ kind: 'unknown', action: 'reported' });
    }
  });

  it('unknown units: the files of every unit are still written', () => {
    const d = desired({ settled: false, units: [unit(1, 'web'), unit(1, 'worker')] });
    const o: ObservedApp = { units: UNKNOWN, files: new Map(), site: d.site.content, siteLoaded: true, resources: new Map() };
    expect(brief(plan(d, o).actions)).toEqual([
      `write-file:runfile:${WEB}`,
      `write-file:vassal:${WEB}`,
      'write-file:runfile:a.v1.worker',
      'write-file:vassal:a.v1.worker',
    ]);
  });

  it('an unknown file is not written; the other files still are', () => {
    const d = desired({ units: [unit(1, 'web', 1)], settled: false });
    const o = observedOf(desired());
    o.files.set(INI, UNKNOWN);
    o.files.set(runPath(1, 'web'), null);
    const p = plan(d, o);
    expect(p.actions).toEqual([{ type: 'write-file', resource: `runfile:${WEB}`, path: runPath(1, 'web'), content: unit(1, 'web').files[0]!.content }]);
    expect(p.findings).toEqual([
      { resource: `vassal:${WEB}`, kind: 'unknown', desired: bytes(unit(1, 'web', 1).config.content), observed: 'could not be observed', action: 'reported' },
    ]);
  });

  it('a rollout waits when the units cannot be observed: nothing is switched or marked live', () => {
    const d = desired({
      target: release(2, 'built'),
      settled: false,
      units: [unit(2, 'web')],
      site: { path: SITE_PATH, content: siteContent(2) },
      health: HEALTH,
    });
    const o = observedOf(desired({ units: [unit(1, 'web')] }));
    o.units = UNKNOWN;
    const p = plan(d, o);
    expect(p.actions).toEqual([]);
    expect(p.rollout).toBe(false);
    expect(p.findings).toEqual([{ resource: 'vassals', kind: 'unknown', desired: 'release v2', observed: 'could not be observed', action: 'reported' }]);
  });
});

describe('plan: what the proxy loaded', () => {
  it('a site on disk as wanted but not loaded is re-applied (drift when settled), and the pass after plans nothing', () => {
    const d = desired();
    const o = { ...observedOf(d), siteLoaded: false, resources: new Map() };
    const p = plan(d, o);
    const finding = { resource: 'site:a', kind: 'changed', desired: 'loaded by the proxy', observed: 'written but not loaded', action: 'healed' };
    expect(p.actions).toEqual([{ type: 'apply-site', resource: 'site:a', path: SITE_PATH, content: siteContent(1), drift: finding }]);
    expect(p.findings).toEqual([finding]);
    const after = applyActions(d, o, p.actions);
    expect(plan(after.d, after.o).actions).toEqual([]);
  });

  it('under report, a site not loaded is only reported', () => {
    const d = desired({ healPolicy: 'report' });
    const p = plan(d, { ...observedOf(d), siteLoaded: false, resources: new Map() });
    expect(p.actions).toEqual([]);
    expect(p.findings).toMatchObject([{ resource: 'site:a', observed: 'written but not loaded', action: 'reported' }]);
  });

  it('a rollout cut short after the site was written: the switch (reload) comes before the old units are retired', () => {
    // v2's units run and its site is on disk; nginx still serves v1's.
    const d = desired({ target: release(2, 'built'), settled: false, units: [unit(2, 'web')], site: { path: SITE_PATH, content: siteContent(2) }, health: HEALTH });
    const o = observedOf(d);
    if (o.units !== UNKNOWN) o.units.set(unitNameOf(1, 'web'), { present: true, enabled: true, process: proc() });
    const p = plan(d, { ...o, siteLoaded: false, resources: new Map() });
    expect(brief(p.actions)).toEqual(['await-healthy:v2', 'apply-site:site:a', 'remove-unit:a.v1.web', 'mark-live:v2']);
    expect(p.actions.every((a) => a.drift === undefined)).toBe(true);
    // Loaded: nothing to switch, only the retirement (what happened before the proxy was observed).
    expect(brief(plan(d, o).actions)).toEqual(['await-healthy:v2', 'remove-unit:a.v1.web', 'mark-live:v2']);
  });

  it('an absent site the proxy still serves is re-applied (removal reloaded)', () => {
    const d = desired({ state: 'stopped', settled: true, units: [], site: { path: SITE_PATH, content: null } });
    const p = plan(d, { units: new Map(), files: new Map(), site: null, siteLoaded: false, resources: new Map() });
    expect(brief(p.actions)).toEqual(['apply-site:site:a']);
    expect(p.actions[0]).toMatchObject({ content: null });
  });

  it('a rollout waits while the proxy cannot be observed: nothing is started, switched, retired or marked live', () => {
    const d = desired({ target: release(2, 'built'), settled: false, units: [unit(2, 'web')], site: { path: SITE_PATH, content: siteContent(2) }, health: HEALTH });
    const o: ObservedApp = { ...observedOf(desired({ units: [unit(1, 'web')] })), siteLoaded: UNKNOWN };
    const p = plan(d, o);
    expect(p.actions).toEqual([]);
    expect(p.rollout).toBe(false);
    expect(p.findings).toEqual([{ resource: 'site:a', kind: 'unknown', desired: 'release v2', observed: 'could not be observed', action: 'reported' }]);
  });

  it('while the proxy cannot be observed, no unit is retired; other repairs go on and it is reported', () => {
    const d = desired();
    const o = observedOf(d);
    if (o.units !== UNKNOWN) o.units.set('a.v0.web', { present: true, enabled: true, process: proc() });
    o.files.set(INI, null);
    const unknownProxy: ObservedApp = { ...o, siteLoaded: UNKNOWN };
    const p = plan(d, unknownProxy);
    expect(brief(p.actions)).toEqual([`write-file:vassal:${WEB}`]);
    expect(p.findings).toContainEqual({ resource: 'site:a', kind: 'unknown', desired: 'loaded by the proxy', observed: 'could not be observed', action: 'reported' });
    // Once it is seen again, the stray unit goes.
    expect(brief(plan(d, o).actions)).toContain('remove-unit:a.v0.web');
  });
});

describe('plan: resources of providers, paired by key', () => {
  type Spec = { v: number; key?: string };
  const provider = (kind: string, phase: 'sync' | 'switch' = 'sync') => ({
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
  const ops = (p: ReturnType<typeof plan>) => p.actions.filter((a) => a.type === 'resource').map((a) => `${a.op}:${a.resource}`);

  it.each([
    { name: 'missing: created', live: [] as [string, Spec | null][], want: ['create:cert:a'], finding: 'missing' },
    { name: 'observed absent: created', live: [['a', null]] as [string, Spec | null][], want: ['create:cert:a'], finding: 'missing' },
    { name: 'changed in place: updated', live: [['a', { v: 1, key: 'k' }]] as [string, Spec | null][], want: ['update:cert:a'], finding: 'changed' },
    { name: 'changed key: replaced', live: [['a', { v: 2, key: 'old' }]] as [string, Spec | null][], want: ['replace:cert:a'], finding: 'changed' },
    { name: 'as desired: nothing', live: [['a', { v: 2, key: 'k' }]] as [string, Spec | null][], want: [], finding: null },
  ])('$name', ({ live, want, finding }) => {
    const d = desired({ resources: [res('cert', 'a', { v: 2, key: 'k' })] });
    const p = plan(d, withLive(d, 'cert', live), [CERT]);
    expect(ops(p)).toEqual(want);
    expect(p.findings.map((f) => `${f.kind}:${f.resource}:${f.action}`)).toEqual(finding ? [`${finding}:cert:a:healed`] : []);
    // Planning again over what the action leaves plans nothing.
    expect(ops(plan(d, withLive(d, 'cert', [['a', { v: 2, key: 'k' }]]), [CERT]))).toEqual([]);
  });

  it('live without desired is pruned after the switch; under report it is only reported', () => {
    const d = desired({ resources: [res('cert', 'a', { v: 1 })] });
    const o = withLive(d, 'cert', [['a', { v: 1 }], ['old', { v: 0 }]]);
    const healed = plan(d, o, [CERT]);
    expect(ops(healed)).toEqual(['delete:cert:old']);
    expect(healed.findings).toEqual([{ resource: 'cert:old', kind: 'unexpected', desired: 'absent', observed: 'v0', action: 'healed' }]);
    const reported = plan({ ...d, healPolicy: 'report' }, o, [CERT]);
    expect(ops(reported)).toEqual([]);
    expect(reported.findings.map((f) => f.action)).toEqual(['reported']);
  });

  it('Unknown is reported and never created, replaced or deleted; one Unknown holds back every delete of its kind', () => {
    const d = desired({ resources: [res('cert', 'a', { v: 1 })] });
    const p = plan(d, withLive(d, 'cert', [['a', UNKNOWN], ['old', { v: 0 }]]), [CERT]);
    expect(ops(p)).toEqual([]);
    expect(p.findings).toEqual([{ resource: 'cert:a', kind: 'unknown', desired: 'v1', observed: 'could not be observed', action: 'reported' }]);
    const whole = plan(d, withLive(d, 'cert', UNKNOWN), [CERT]);
    expect(ops(whole)).toEqual([]);
    expect(whole.findings.map((f) => `${f.kind}:${f.resource}`)).toEqual(['unknown:cert']);
  });

  it('a kind its provider did not observe plans nothing (no provider, no guess)', () => {
    const d = desired({ resources: [res('cert', 'a', { v: 1 })] });
    expect(ops(plan(d, observedOf(d), [CERT]))).toEqual([]);
  });

  it('phases order a rollout: sync resources before the health gate, switch resources with the site, deletes after the old units retire', () => {
    const o = observedOf(desired({ units: [unit(1, 'web')] }));
    const d = desired({
      target: release(2, 'built'), settled: false, units: [unit(2, 'web')], site: { path: SITE_PATH, content: siteContent(2) }, health: HEALTH,
      resources: [res('cert', 'a', { v: 2 }), res('route', 'a', { v: 2 })],
    });
    o.resources.set('cert', new Map([['old', { v: 1 }]]));
    o.resources.set('route', new Map([['a', { v: 1 }]]));
    const p = plan(d, o, [CERT, ROUTE]);
    const order = brief(p.actions);
    const i = (s: string) => order.indexOf(s);
    expect(i('create:cert:a')).toBeGreaterThan(-1);
    expect(i('create:cert:a')).toBeLessThan(i('await-healthy:v2'));
    expect(i('await-healthy:v2')).toBeLessThan(i('update:route:a'));
    expect(i('apply-site:site:a')).toBeLessThan(i('delete:cert:old'));
    expect(i(`remove-unit:${unitNameOf(1, 'web')}`)).toBeLessThan(i('mark-live:v2'));
    expect(i('delete:cert:old')).toBeLessThan(i('mark-live:v2'));
    // A desired change: no drift is recorded for what it creates or deletes.
    expect(p.findings).toEqual([]);
  });
});
