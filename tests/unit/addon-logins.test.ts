import { describe, expect, it } from 'vitest';
import { UNKNOWN } from '../../src/lib/unknown.js';
import { addonOfLogin, checkLoginName, loginName, loginProvider, newLoginSpec, type LoginLive, type LoginOps } from '../../src/plugins/addons/login-provider.js';
import { assertValidSpec, parseAppSpec } from '../../src/manifest/index.js';
import { plan } from '../../src/reconcile/plan.js';
import { observeResources } from '../../src/reconcile/observe.js';
import type { DesiredApp, ObservedApp } from '../../src/reconcile/types.js';

describe('login names', () => {
  it('say whose they are: ADDON_APP, or a digest of an app name too long for it', () => {
    expect(loginName('blog-db', 'blog')).toBe('blog-db_blog');
    const long = `a${'-b'.repeat(31)}`;
    const hashed = loginName('a'.repeat(32), long);
    expect(hashed).toMatch(/^a{32}__[0-9a-f]{16}$/);
    expect(hashed.length).toBeLessThanOrEqual(63);
    expect(loginName('a'.repeat(32), long)).toBe(hashed);
    expect(loginName('a'.repeat(32), `${long}x`)).not.toBe(hashed);
    expect(addonOfLogin('blog-db_blog')).toBe('blog-db');
    expect(addonOfLogin(hashed)).toBe('a'.repeat(32));
  });

  it('refuse what hop3 does not make, before any statement', () => {
    expect(() => loginName('x; drop', 'blog')).toThrow(/not a valid name/);
    for (const bad of ['blog', 'postgres_x', 'a_b_c', 'a_"x"', `${'a'.repeat(32)}_${'b'.repeat(40)}`, 'A_b']) {
      expect(() => checkLoginName(bad), bad).toThrow(/not a login name/);
    }
  });

  it('each new login has its own random password', () => {
    expect(newLoginSpec('db', 'a').password).not.toBe(newLoginSpec('db', 'a').password);
  });
});

describe('logins in the planner', () => {
  const spec = newLoginSpec('blog-db', 'blog');
  const p = loginProvider('pg-login', {} as LoginOps, () => '/nowhere');
  const app = (over: Partial<DesiredApp> = {}): DesiredApp => ({
    app: 'blog', state: 'running', healPolicy: 'heal', settled: true, target: null, health: null, resources: [{ kind: 'pg-login', name: spec.user, spec }], ...over,
  });
  const seen = (live: LoginLive | null | typeof UNKNOWN): ObservedApp => ({ resources: new Map([['pg-login', new Map([[spec.user, live]])]]) });
  const ok: LoginLive = { user: spec.user, passwordValid: true, confined: true };

  it('as desired: nothing; dropped or its password changed by hand: drift, healed or reported, never showing the password', () => {
    expect(plan(app(), seen(ok), [p])).toMatchObject({ actions: [], findings: [] });
    expect(plan(app(), seen(null), [p]).findings).toMatchObject([{ resource: `pg-login:${spec.user}`, kind: 'missing', action: 'healed' }]);
    const changed = plan(app({ healPolicy: 'report' }), seen({ ...ok, passwordValid: false }), [p]);
    expect(changed.actions).toEqual([]);
    expect(changed.findings).toMatchObject([{ kind: 'changed', action: 'reported' }]);
    expect(changed.findings[0]!.observed).toContain('credentials do not log in');
    expect(JSON.stringify(changed)).not.toContain(spec.password);
    expect(plan(app(), seen({ ...ok, confined: false }), [p]).actions).toMatchObject([{ op: 'update', name: spec.user }]);
  });

  it('its server down: Unknown, nothing done', () => {
    const r = plan(app(), seen(UNKNOWN), [p]);
    expect(r.actions).toEqual([]);
    expect(r.findings.map((f) => f.kind)).toEqual(['unknown']);
  });

  // A detached app's login, as its provider lists it from its tombstone: live, no longer desired.
  const retired: LoginLive = { ...ok, retired: 7 };
  const rollout = (over: Partial<DesiredApp> = {}) => app({
    settled: false,
    target: { app: 'blog', version: 3, source: 'config', commit: null, spec: assertValidSpec(parseAppSpec({ 'hop3.toml': '[build]\nbuilder = "static"\n' })), env: {}, artifact: { kind: 'static', dir: 'x', metadata: {} }, ports: {}, status: 'built', message: '', createdAt: '' },
    ...over,
  });

  it('retired and still there: deleted in the prune phase as a desired change, whatever the heal policy, never as drift', () => {
    for (const over of [{}, { healPolicy: 'report' as const }, { settled: false }]) {
      const r = plan(app({ resources: [], ...over }), seen(retired), [p]);
      expect(r.actions, JSON.stringify(over)).toMatchObject([{ type: 'resource', op: 'delete', kind: 'pg-login', name: spec.user }]);
      expect(r.actions[0]).not.toHaveProperty('drift');
      expect(r.findings).toEqual([]);
    }
    // In the rollout of the release without it: after the switch, before the release is marked live.
    const r = plan(rollout({ resources: [] }), seen(retired), [p]);
    expect(r.actions.map((a) => (a.type === 'resource' ? `${a.op}:${a.kind}` : a.type))).toEqual(['delete:pg-login', 'mark-live']);
  });

  it('live and not desired without a tombstone (another provider\'s way): drift, left to the heal policy', () => {
    const r = plan(app({ resources: [], healPolicy: 'report' }), seen(ok), [p]);
    expect(r.actions).toEqual([]);
    expect(r.findings).toMatchObject([{ kind: 'unexpected', action: 'reported' }]);
  });

  it('retired and its server down: nothing deleted, reported; the rollout of the release without it goes on', () => {
    const r = plan(rollout({ resources: [] }), seen(UNKNOWN), [p]);
    expect(r.rollout).toBe(true);
    expect(r.actions.map((a) => a.type)).toEqual(['mark-live']);
    expect(r.findings).toMatchObject([{ resource: `pg-login:${spec.user}`, kind: 'unknown', action: 'reported' }]);
  });

  it('an app with no login desired is not asked about unless it has a retired one; one not seen keeps its tombstone', async () => {
    const forgotten: number[] = [];
    const records = { of: (o: string) => (o === 'blog' ? [{ ...spec, id: 4 }] : []), has: (o: string) => o === 'blog', owners: () => ['blog'], gone: (id: number) => void forgotten.push(id) };
    // No server behind it: asking it fails, which must read as UNKNOWN, never as gone.
    const withRetired = loginProvider('pg-login', {} as LoginOps, () => '/nowhere', records);
    expect(await observeResources([withRetired], 'shop', [])).toEqual(new Map([['pg-login', new Map()]]));
    expect(await observeResources([withRetired], 'blog', [])).toEqual(new Map([['pg-login', UNKNOWN]]));
    expect(forgotten).toEqual([]);
    expect(withRetired.owners?.()).toEqual(['blog']);
  });

  it('desired and its server down: the rollout waits (its release needs the login)', () => {
    const r = plan(rollout(), seen(UNKNOWN), [p]);
    expect(r).toMatchObject({ actions: [], rollout: false });
    expect(r.findings.map((f) => f.kind)).toEqual(['unknown']);
  });
});

describe('addons shell runs only beside the daemon', () => {
  it('loopback API URLs are, others are not', async () => {
    const { isLoopbackApi } = await import('../../src/cli/addon-shell.js');
    for (const url of ['http://127.0.0.1:8000', 'http://localhost:8000', 'http://[::1]:8000', 'http://127.1.2.3']) expect(isLoopbackApi(url), url).toBe(true);
    for (const url of ['https://hop3.example.com', 'http://10.0.0.1:8000', 'http://127.0.0.1.example.com']) expect(isLoopbackApi(url), url).toBe(false);
  });
});
