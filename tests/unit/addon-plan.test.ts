import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createExec } from '../../src/lib/exec.js';
import { layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { createRenderer } from '../../src/lib/render.js';
import { UNKNOWN } from '../../src/lib/unknown.js';
import { instanceProvider, newInstanceSpec, type InstanceLive, type InstanceOps } from '../../src/plugins/addons/instance-provider.js';
import { loadPlugins } from '../../src/plugins/registry.js';
import { plan } from '../../src/reconcile/plan.js';
import type { DesiredApp, ObservedApp } from '../../src/reconcile/types.js';
import type { AttachmentRecord } from '../../src/store/types.js';

/** The planner over addon instances as app resources: plain data, no server. */
const noOps = {} as InstanceOps;
const provider = instanceProvider('pg-database', noOps, () => null);
const spec = newInstanceSpec('blog-db');
const resource = { kind: 'pg-database', name: 'blog-db', spec };

function app(over: Partial<DesiredApp> = {}): DesiredApp {
  return { app: 'blog', state: 'running', healPolicy: 'heal', settled: true, target: null, health: null, resources: [resource], ...over };
}
const seen = (live: InstanceLive | null | typeof UNKNOWN): ObservedApp => ({ resources: new Map([['pg-database', new Map([['blog-db', live]])]]) });
const whole: InstanceLive = { name: 'blog-db', parts: { database: true, role: true }, passwordValid: true, confined: true };
const dropped: InstanceLive = { ...whole, parts: { database: false, role: true }, passwordValid: false };

describe('addon instances in the planner', () => {
  it('attached and missing, as a desired change: created, no drift', () => {
    const p = plan(app({ settled: false }), seen(null), [provider]);
    expect(p.actions).toMatchObject([{ type: 'resource', op: 'create', kind: 'pg-database', name: 'blog-db' }]);
    expect(p.findings).toEqual([]);
  });

  it('present as desired: nothing to do', () => {
    expect(plan(app(), seen(whole), [provider])).toMatchObject({ actions: [], findings: [] });
  });

  it('dropped behind hop3\'s back, heal policy report: reported, nothing recreated', () => {
    const p = plan(app({ healPolicy: 'report' }), seen(dropped), [provider]);
    expect(p.actions).toEqual([]);
    expect(p.findings).toMatchObject([{ resource: 'pg-database:blog-db', kind: 'missing', action: 'reported' }]);
    expect(p.findings[0]!.observed).toContain('no backup to restore; a repair recreates it empty');
    expect(p.findings[0]!.observed).not.toContain(spec.password);
  });

  it('dropped, heal policy heal: recreated (empty), and the finding says so', () => {
    const p = plan(app(), seen(dropped), [provider]);
    expect(p.actions).toMatchObject([{ op: 'update', name: 'blog-db', drift: { action: 'healed', kind: 'missing' } }]);
    expect(p.findings[0]!.observed).toContain('recreates it empty');
  });

  it('dropped, found by a pass that applies a desired change or a rollout: still the heal policy\'s to decide', () => {
    for (const over of [{ settled: false }, { settled: false, healPolicy: 'report' as const }]) {
      const p = plan(app(over), seen(dropped), [provider]);
      expect(p.findings).toMatchObject([{ resource: 'pg-database:blog-db', kind: 'missing', action: over.healPolicy === 'report' ? 'reported' : 'healed' }]);
      expect(p.actions.length).toBe(over.healPolicy === 'report' ? 0 : 1);
    }
  });

  it('detached: no longer desired, and observe only looks at what is desired, so nothing is dropped', () => {
    const p = plan(app({ resources: [] }), { resources: new Map([['pg-database', new Map()]]) }, [provider]);
    expect(p).toMatchObject({ actions: [], findings: [] });
  });

  it('its server down: Unknown, reported, nothing created or dropped', () => {
    for (const o of [seen(UNKNOWN), { resources: new Map([['pg-database', UNKNOWN]]) } as ObservedApp]) {
      const p = plan(app({ healPolicy: 'heal' }), o, [provider]);
      expect(p.actions).toEqual([]);
      expect(p.findings.map((f) => f.kind)).toEqual(['unknown']);
    }
  });
});

describe('addon plugins', () => {
  const home = mkdtempSync(join(tmpdir(), 'hop3-addon-plan-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const config = loadConfig({ HOP3_HOME: home, HOP3_POSTGRES_PORT: '15432', HOP3_MARIADB_PORT: '13306', HOP3_REDIS_PORT: '16379' }, 1000);
  const types = new Set<string>();
  const plugins = loadPlugins({ config, layout: layoutOf(home), log: createLogger('silent'), exec: createExec(), render: createRenderer(), addonRecords: { addonTypes: () => types, loginTombstones: () => [], forgetLoginTombstone: () => undefined } });

  it('an addon server is a host resource only while an addon of its type is recorded', () => {
    const wanted = () => plugins.hostProviders.flatMap((p) => p.host?.desired() ?? []).map((r) => r.kind).filter((k) => k.startsWith('addon-server:'));
    expect(wanted()).toEqual([]);
    types.add('redis');
    expect(wanted()).toEqual(['addon-server:redis']);
    types.add('postgres');
    expect(wanted().sort()).toEqual(['addon-server:postgres', 'addon-server:redis']);
  });

  it('attachments become the instance resources, each app\'s own login and the URL variables of the app', () => {
    const box = plugins.addons.credentials();
    const pg = newInstanceSpec('blog-db');
    const cache = newInstanceSpec('cache');
    const records: Record<string, { type: string; credentials: string }> = {
      'blog-db': { type: 'postgres', credentials: box.seal('pg-database', pg) },
      cache: { type: 'redis', credentials: box.seal('redis-user', cache) },
    };
    const at = (addon: string, env: string, app = 'blog'): AttachmentRecord => ({
      addon, app, env, credentials: plugins.addons.sealLogin(records[addon]?.type ?? 'postgres', addon, app), createdAt: '',
    });
    const atts = [at('blog-db', 'DATABASE_URL'), at('cache', 'CACHE_URL'), at('gone', 'X_URL')];
    const { resources, env } = plugins.addons.attached(atts, (n) => records[n] ?? null);
    const pgLogin = plugins.addons.openLogin('postgres', atts[0]!)!;
    const cacheLogin = plugins.addons.openLogin('redis', atts[1]!)!;
    expect(pgLogin).toMatchObject({ addon: 'blog-db', user: 'blog-db_blog' });
    expect(cacheLogin).toMatchObject({ addon: 'cache', user: 'cache_blog' });
    expect(resources).toEqual([
      { kind: 'pg-database', name: 'blog-db', spec: pg }, { kind: 'pg-login', name: 'blog-db_blog', spec: pgLogin },
      { kind: 'redis-user', name: 'cache', spec: cache }, { kind: 'redis-login', name: 'cache_blog', spec: cacheLogin },
    ]);
    // The app reaches the addon's database and prefix as its own login, never with the addon's password.
    expect(env).toEqual({
      DATABASE_URL: `postgres://blog-db_blog:${pgLogin.password}@127.0.0.1:15432/blog-db`,
      CACHE_URL: `redis://cache_blog:${cacheLogin.password}@127.0.0.1:16379/0`,
      CACHE_KEY_PREFIX: 'cache:',
    });
    expect(JSON.stringify(env)).not.toContain(pg.password);
    // Two apps attached to one addon hold different passwords.
    const other = plugins.addons.openLogin('postgres', at('blog-db', 'DATABASE_URL', 'shop'))!;
    expect(other.user).toBe('blog-db_shop');
    expect(other.password).not.toBe(pgLogin.password);
    // Sealed under its own name: copied to another addon's record, it does not open; nor a login copied to another app's attachment.
    expect(() => plugins.addons.attached([at('cache', 'REDIS_URL')], () => ({ type: 'redis', credentials: records['blog-db']!.credentials }))).toThrow();
    expect(() => plugins.addons.openLogin('postgres', { ...atts[0]!, app: 'shop' })).toThrow();
  });

  it('an attachment recorded before apps had logins keeps reaching the addon as its role', () => {
    const box = plugins.addons.credentials();
    const pg = newInstanceSpec('old-db');
    const { resources, env } = plugins.addons.attached([{ addon: 'old-db', app: 'blog', env: 'DATABASE_URL', credentials: null, createdAt: '' }], () => ({ type: 'postgres', credentials: box.seal('pg-database', pg) }));
    expect(resources).toEqual([{ kind: 'pg-database', name: 'old-db', spec: pg }]);
    expect(env.DATABASE_URL).toBe(`postgres://old-db:${pg.password}@127.0.0.1:15432/old-db`);
  });

  it('addons shell: each type\'s client gets the password in a 0600 file or the one variable it reads, never in argv', () => {
    const spec = { ...newInstanceSpec('blog-db'), user: 'blog-db_blog' };
    const shells = Object.fromEntries(plugins.addons.definitions.map((d) => [d.type, d.instances.shell(spec)]));
    for (const [type, sh] of Object.entries(shells)) {
      expect(JSON.stringify(sh.args), type).not.toContain(spec.password);
      expect(JSON.stringify(sh.args), type).not.toMatch(/(^|")-a"|--pass/);
      expect(Object.entries(sh.env).filter(([, v]) => v.includes(spec.password)).map(([k]) => k), type).toEqual(type === 'redis' ? ['REDISCLI_AUTH'] : []);
    }
    expect(shells.postgres).toMatchObject({ program: 'psql', file: { env: 'PGPASSFILE', content: `127.0.0.1:15432:blog-db:blog-db_blog:${spec.password}\n` } });
    expect(shells.mariadb).toMatchObject({ program: 'mariadb', file: { flag: '--defaults-extra-file=' } });
    expect(shells.mariadb!.file!.content).toContain(`password=${spec.password}\n`);
    expect(shells.redis).toMatchObject({ program: 'redis-cli', args: ['-h', '127.0.0.1', '-p', '16379', '--user', 'blog-db_blog'], file: null });
  });

  it('type names as users give them', () => {
    expect(plugins.addons.of('mysql').type).toBe('mariadb');
    expect(plugins.addons.of('postgresql').type).toBe('postgres');
    expect(() => plugins.addons.of('oracle')).toThrow(/not an addon type/);
  });
});
