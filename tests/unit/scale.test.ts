import { afterEach, describe, expect, it } from 'vitest';
import rpcSchema from '../../schemas/rpc.json' with { type: 'json' };
import { loadConfig } from '../../src/config.js';
import { scale } from '../../src/commands/scale.js';
import { ADMIN } from '../../src/commands/authorize.js';
import { createExec } from '../../src/lib/exec.js';
import { layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { createRenderer } from '../../src/lib/render.js';
import { instanceName, instancesOf, MAX_INSTANCES } from '../../src/manifest/instances.js';
import type { AppSpec, ProcessSpec } from '../../src/manifest/types.js';
import { parseUnitName, unitName } from '../../src/plugins/deployers/unit-name.js';
import { loadPlugins } from '../../src/plugins/registry.js';
import { renderSiteRoute } from '../../src/plugins/proxies/caddy/config.js';
import type { DesiredResource } from '../../src/plugins/provider.js';
import type { ProxySite } from '../../src/plugins/types.js';
import { desiredApp } from '../../src/reconcile/desired.js';
import { plan } from '../../src/reconcile/plan.js';
import type { Action, ObservedApp } from '../../src/reconcile/types.js';
import type { AppRecord, ReleaseRecord } from '../../src/store/types.js';
import { codeOf, commandContext, liveApp } from './command-fixtures.js';

const HOME = '/srv/hop3';
const WEB: ProcessSpec = { name: 'web', kind: 'web', command: 'exec python3 server.py' };
const WORKER: ProcessSpec = { name: 'worker-mail', kind: 'worker', command: 'exec python3 mail.py' };

function spec(processes: ProcessSpec[] = [WEB, WORKER]): AppSpec {
  return {
    name: null, metadata: {}, build: { builder: 'auto', before: [] }, run: { workers: 1, beforeRun: [], maxBodyBytes: 1048576 },
    static: { paths: [], maxAge: 3600 }, tls: { mode: 'off', httpsOnly: false, hsts: false }, processes, env: {}, domains: [],
    healthcheck: { path: '/health', timeout: null, expectStatus: 200 }, addons: [],
  };
}

/** A release of app `a` running `scale`, with a port per web instance from 20000 + 100 × version. */
function release(version: number, status: ReleaseRecord['status'], scale: Record<string, number>): ReleaseRecord {
  const s = spec();
  const ports = Object.fromEntries(instancesOf(s, scale).filter((i) => i.kind === 'web').map((i) => [i.name, 20000 + 100 * version + i.index]));
  return {
    app: 'a', version, source: 'config', commit: null, spec: s, env: {}, status, message: '', createdAt: '2024-01-01T00:00:00.000Z',
    artifact: { kind: 'virtualenv', dir: `apps/a/releases/v${version}`, metadata: {} }, ports, scale,
  };
}

describe('process instances', () => {
  it('the first instance keeps the process name; later ones are <process>.<index>, never a process name', () => {
    expect(instancesOf(spec(), { web: 3, 'worker-mail': 2 }).map((i) => i.name)).toEqual(['web', 'web.2', 'web.3', 'worker-mail', 'worker-mail.2']);
    expect(instancesOf(spec(), {}).map((i) => i.name)).toEqual(['web', 'worker-mail']);
    expect(instancesOf(spec(), { 'worker-mail': 0 }).map((i) => i.name)).toEqual(['web']);
    // Static, release and cron entries are no processes to count.
    expect(instancesOf(spec([WEB, { name: 'static', kind: 'static', command: 'public' }, { name: 'cron-x', kind: 'cron', command: 'x', schedule: '* * * * *' }]), {}).map((i) => i.name)).toEqual(['web']);
  });

  it('unit names parse back to app, release, process and index, unambiguously with suffixed process names', () => {
    for (const [process, index] of [['web', 1], ['web', 3], ['worker-2', 1], ['worker', 2], ['worker-mail', 16]] as const) {
      expect(parseUnitName(unitName('my-app', 7, instanceName(process, index)))).toEqual({ app: 'my-app', version: 7, process, index });
    }
    expect(parseUnitName('a.v1.worker.2x')).toBeNull();
    expect(parseUnitName('a.v1.worker.0')).toBeNull();
  });

  it('the maximum count is one number: the RPC schema and the command agree', () => {
    expect(rpcSchema.methods['apps.scale'].params.properties.counts.additionalProperties.maximum).toBe(MAX_INSTANCES);
  });
});

describe('the uwsgi deployer and the proxies with a scaled release', () => {
  const config = loadConfig({ HOP3_HOME: HOME }, 0);
  const ctx = { config, layout: layoutOf(HOME), log: createLogger('silent'), render: createRenderer(), exec: createExec() };
  const plugins = loadPlugins(ctx);
  const uwsgi = plugins.deployers.find((d) => d.name === 'uwsgi')!;

  it('plans one vassal per instance, each with its own port, run file, log and HOP3_INSTANCE', () => {
    const { units, info } = uwsgi.plan(release(2, 'built', { web: 3, 'worker-mail': 2 }), { restartCount: 0 });
    expect(units.map((u) => u.name)).toEqual(['a.v2.web', 'a.v2.web.2', 'a.v2.web.3', 'a.v2.worker-mail', 'a.v2.worker-mail.2']);
    expect(units.map((u) => u.process)).toEqual(['web', 'web', 'web', 'worker-mail', 'worker-mail']);
    expect(new Set(units.map((u) => u.log)).size).toBe(5);
    expect(new Set(units.map((u) => u.files[0]!.path)).size).toBe(5);
    const envs = units.map((u) => (JSON.parse(u.files[0]!.content) as { env: Record<string, string> }).env);
    expect(envs.map((e) => [e.HOP3_PROCESS, e.HOP3_INSTANCE, e.PORT])).toEqual([
      ['web', '1', '20201'], ['web', '2', '20202'], ['web', '3', '20203'], ['worker-mail', '1', undefined], ['worker-mail', '2', undefined],
    ]);
    expect(units[1]!.config.content).toContain('a.v2.web.2.pid');
    expect(info).toEqual({ protocol: 'http', address: '127.0.0.1', port: 20201, morePorts: [20202, 20203] });
  });

  const site = (ports: number[]): ProxySite => ({
    app: 'a', release: 2, serverNames: ['a.localhost'], staticPaths: [], staticMaxAge: 0, maxBodyBytes: 1024,
    target: { protocol: 'http', address: '127.0.0.1', port: ports[0]!, ...(ports.length > 1 ? { morePorts: ports.slice(1) } : {}) },
  });

  it('nginx balances over every instance with an upstream block; one instance keeps the plain proxy_pass', () => {
    const text = plugins.proxy.render(site([20201, 20202, 20203]));
    expect(text).toMatch(/upstream hop3-a \{\s+server 127\.0\.0\.1:20201;\s+server 127\.0\.0\.1:20202;\s+server 127\.0\.0\.1:20203;\s+\}/);
    expect(text).toContain('proxy_pass http://hop3-a;');
    const one = plugins.proxy.render(site([20201]));
    expect(one).not.toContain('upstream');
    expect(one).toContain('proxy_pass http://127.0.0.1:20201;');
  });

  it('Caddy dials every instance in turn, trying another when one refuses', () => {
    const json = JSON.stringify(renderSiteRoute(site([20201, 20202])));
    expect(json).toContain('"upstreams":[{"dial":"127.0.0.1:20201"},{"dial":"127.0.0.1:20202"}]');
    expect(json).toContain('"selection_policy":{"policy":"round_robin"}');
    expect(JSON.stringify(renderSiteRoute(site([20201])))).not.toContain('load_balancing');
    expect(() => renderSiteRoute(site([20201, 70000]))).toThrow(/upstream port/);
  });

  describe('planner: scaling up and down is a rollout with create-before-delete', () => {
    const record: AppRecord = {
      name: 'a', generation: 2, observedGeneration: 1, desiredState: 'running', desiredRelease: 2, currentRelease: 1, restartCount: 0,
      healPolicy: 'heal', deployBranch: null, owner: 'admin', lifecycle: null, sync: 'Synced', health: 'Healthy', message: '',
      createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z',
    };
    /** Reality exactly as the desired resources of `live` (running) say, as its providers would see it. */
    function observed(live: ReleaseRecord): ObservedApp {
      const d = desiredApp({ ...record, desiredRelease: live.version, currentRelease: live.version }, live, plugins, config, [live]);
      const resources = new Map<string, Map<string, unknown>>(plugins.providers.map((p) => [p.kind, new Map()]));
      for (const r of d.resources) resources.get(r.kind)?.set(r.name, liveOf(r));
      return { resources };
    }
    function liveOf(r: DesiredResource): unknown {
      const s = r.spec as { path: string; content: string };
      if (r.kind === 'vassal') return { content: s.content, enabled: true, process: { pid: 4242, respawns: 0, ready: true, cursed: false, restartedFrom: null } };
      if (r.kind === 'site') return { path: s.path, content: s.content, loaded: true };
      if (r.kind === 'release-dir') return r.spec;
      return { path: s.path, content: s.content };
    }
    const step = (a: Action) => (a.type === 'resource' ? `${a.op} ${a.resource}` : a.type);

    it('up: every new instance starts, the health gate checks each web instance, then the switch, then the old unit goes', () => {
      const from = release(1, 'live', {});
      const to = release(2, 'built', { web: 3, 'worker-mail': 2 });
      const d = desiredApp(record, to, plugins, config, [to, from]);
      const p = plan(d, observed(from), plugins.providers);
      const steps = p.actions.map(step).filter((s) => !s.includes('release-dir'));
      const vassals = ['a.v2.web', 'a.v2.web.2', 'a.v2.web.3', 'a.v2.worker-mail', 'a.v2.worker-mail.2'];
      for (const v of vassals) expect(steps).toContain(`create vassal:${v}`);
      const health = p.actions.find((a) => a.type === 'await-healthy');
      expect(health?.type === 'await-healthy' && health.check.urls).toEqual(['http://127.0.0.1:20201/health', 'http://127.0.0.1:20202/health', 'http://127.0.0.1:20203/health']);
      const at = (s: string) => steps.indexOf(s);
      for (const v of vassals) expect(at(`create vassal:${v}`)).toBeLessThan(at('await-healthy'));
      expect(at('await-healthy')).toBeLessThan(at('update site:a'));
      expect(at('update site:a')).toBeLessThan(at('delete vassal:a.v1.web'));
      expect(at('delete vassal:a.v1.worker-mail')).toBeGreaterThan(at('update site:a'));
      expect(steps.at(-1)).toBe('mark-live');
      expect(p.findings).toEqual([]);
    });

    it('down: the one instance left starts and passes the gate before the switch; every old instance goes after it', () => {
      const from = release(1, 'live', { web: 3, 'worker-mail': 2 });
      const to = release(2, 'built', { web: 1, 'worker-mail': 0 });
      const d = desiredApp(record, to, plugins, config, [to, from]);
      const p = plan(d, observed(from), plugins.providers);
      const steps = p.actions.map(step).filter((s) => !s.includes('release-dir'));
      expect(steps.filter((s) => s.startsWith('create vassal'))).toEqual(['create vassal:a.v2.web']);
      const health = p.actions.find((a) => a.type === 'await-healthy');
      expect(health?.type === 'await-healthy' && health.check.urls).toEqual(['http://127.0.0.1:20201/health']);
      const deleted = steps.filter((s) => s.startsWith('delete vassal')).sort();
      expect(deleted).toEqual(['delete vassal:a.v1.web', 'delete vassal:a.v1.web.2', 'delete vassal:a.v1.web.3', 'delete vassal:a.v1.worker-mail', 'delete vassal:a.v1.worker-mail.2']);
      for (const s of deleted) expect(steps.indexOf(s)).toBeGreaterThan(steps.indexOf('update site:a'));
    });

    it('a scaled release that is live and matches reality plans nothing', () => {
      const live = release(2, 'live', { web: 3, 'worker-mail': 2 });
      const settled = { ...record, generation: 1, currentRelease: 2 };
      expect(plan(desiredApp(settled, live, plugins, config, [live]), observed(live), plugins.providers).actions.filter((a) => !(a.type === 'resource' && a.kind === 'release-dir'))).toEqual([]);
    });
  });
});

describe('hop3 scale (the command, over a real store)', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const fn of cleanups.splice(0).reverse()) fn();
  });
  /** A stopped app with a live v1 of web + worker-mail (a scale change only records its release). */
  function setup() {
    const { ctx, store } = commandContext(cleanups);
    store.createApp('a');
    const r = store.createRelease({ app: 'a', source: 'rpc', commit: null, spec: spec(), env: {}, ports: { web: 20001 }, artifact: { kind: 'virtualenv', dir: 'apps/a/releases/v1', metadata: {} } });
    store.markLive('a', r.version);
    store.updateDesired('a', { desiredRelease: r.version, desiredState: 'stopped' });
    return { ctx, store };
  }

  it('records the counts and a release from the same build whose ports cover every web instance', async () => {
    const { ctx, store } = setup();
    const r = await scale(ctx, ADMIN, { app: 'a', counts: { web: 3, 'worker-mail': 2 } });
    expect(r).toMatchObject({ app: 'a', release: 'v2', counts: { web: 3, 'worker-mail': 2 } });
    expect(store.getScale('a')).toEqual({ web: 3, 'worker-mail': 2 });
    const v2 = store.getRelease('a', 2)!;
    expect(v2.scale).toEqual({ web: 3, 'worker-mail': 2 });
    expect(v2.artifact).toEqual(store.getRelease('a', 1)!.artifact);
    expect(Object.keys(v2.ports).sort()).toEqual(['web', 'web.2', 'web.3']);
    expect(new Set(Object.values(v2.ports)).size).toBe(3);
    expect(store.listEvents({ app: 'a' }).map((e) => e.kind)).toContain('app.scaled');
    // A later scale changes only what it names; the other counts stay.
    await scale(ctx, ADMIN, { app: 'a', counts: { web: 2 } });
    expect(store.getRelease('a', 3)!.scale).toEqual({ web: 2, 'worker-mail': 2 });
  });

  it('counts that already run record no release', async () => {
    const { ctx, store } = setup();
    const r = await scale(ctx, ADMIN, { app: 'a', counts: { web: 1 } });
    expect(r).not.toHaveProperty('release');
    expect(store.listReleases('a')).toHaveLength(1);
  });

  it('refuses, naming the problem, and changes nothing', async () => {
    const { ctx, store } = setup();
    const cases: [Record<string, unknown>, string][] = [
      [{ nope: 2 }, 'SCALE_PROCESS_UNKNOWN'],
      [{ web: 0 }, 'SCALE_WEB_ZERO'],
      [{ web: MAX_INSTANCES + 1 }, 'SCALE_COUNT_INVALID'],
      [{ web: 2.5 }, 'SCALE_COUNT_INVALID'],
      [{ web: '2' }, 'SCALE_COUNT_INVALID'],
      [{}, 'SCALE_COUNT_INVALID'],
      // A valid count beside a bad one: neither is recorded.
      [{ web: 2, 'worker-mail': -1 }, 'SCALE_COUNT_INVALID'],
    ];
    for (const [counts, code] of cases) expect(await codeOf(() => scale(ctx, ADMIN, { app: 'a', counts })), JSON.stringify(counts)).toBe(code);
    expect(store.getScale('a')).toEqual({});
    expect(store.listReleases('a')).toHaveLength(1);
    expect(await codeOf(() => scale(ctx, ADMIN, { app: 'ghost', counts: { web: 2 } }))).toBe('APP_NOT_FOUND');
  });

  it('a static or cron entry is not a process to scale; an app with no build has nothing to scale', async () => {
    const { ctx, store } = commandContext(cleanups);
    liveApp(store, 's', spec([{ name: 'static', kind: 'static', command: 'public' }]), 'stopped');
    expect(await codeOf(() => scale(ctx, ADMIN, { app: 's', counts: { static: 2 } }))).toBe('SCALE_PROCESS_NOT_RUNNABLE');
    store.createApp('new');
    expect(await codeOf(() => scale(ctx, ADMIN, { app: 'new', counts: { web: 2 } }))).toBe('SCALE_NO_RELEASE');
  });
});
