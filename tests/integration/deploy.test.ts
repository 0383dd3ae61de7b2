import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, Daemon, EXAMPLES, PROXIES, within } from './harness.js';

const mtimes = (dir: string) => Object.fromEntries(readdirSync(dir).map((f) => [f, statSync(join(dir, f)).mtimeMs]));

describe.each(PROXIES)('deploys onto the real emperor and %s', (proxy) => {
  const d = new Daemon({}, { proxy });
  beforeAll(() => d.start());
  afterAll(() => d.cleanup());

  it('deploys the WSGI example and serves it through the proxy', async () => {
    const r = await d.hop3(['deploy', join(EXAMPLES, 'hello-wsgi')]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).toContain('release v1 is live');
    const res = await d.get('hello-wsgi.localhost');
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ app: 'hello-wsgi', release: 'v1', greeting: 'hello from hop3' });
  });

  it('deploys the static example and serves it through the proxy', async () => {
    const r = await d.hop3(['deploy', join(EXAMPLES, 'static-site'), '--json']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(JSON.parse(String(r.stdout))).toMatchObject({ name: 'static-site', health: 'Healthy', release: 'v1' });
    const res = await d.get('static-site.localhost');
    expect(res.status).toBe(200);
    expect(res.body).toContain('Served by hop3');
  });

  it('reports status, apps and releases as stable JSON', async () => {
    const s = await d.json(['status', 'hello-wsgi']);
    expect(s).toMatchObject({ name: 'hello-wsgi', state: 'running', sync: 'Synced', health: 'Healthy', release: 'v1' });
    expect(s.observedGeneration).toBe(s.generation);
    const apps = await d.json<{ name: string }[]>(['apps']);
    expect(apps.map((a) => a.name)).toEqual(['hello-wsgi', 'static-site']);
    for (const a of apps) expect(Object.keys(a)).toEqual(expect.arrayContaining(['name', 'state', 'sync', 'health']));
    const releases = await d.json(['releases', 'hello-wsgi']);
    expect(releases).toMatchObject([{ version: 'v1', source: 'rpc', status: 'live', current: true }]);
  });

  it('plans nothing on a second pass and touches no file', async () => {
    const before = { vassals: mtimes(join(d.home, 'uwsgi-available')), sites: mtimes(d.sitesDir) };
    const pid = d.pidOf('hello-wsgi.v1.wsgi.pid');
    for (const app of ['hello-wsgi', 'static-site']) {
      const pass = await d.json(['reconcile', app]);
      expect(pass.actions).toEqual([]);
      expect(pass.error).toBeNull();
    }
    expect(mtimes(join(d.home, 'uwsgi-available'))).toEqual(before.vassals);
    expect(mtimes(d.sitesDir)).toEqual(before.sites);
    expect(d.pidOf('hello-wsgi.v1.wsgi.pid')).toBe(pid);
  });

  it('refuses a bad hop3.toml with a clear error and leaves the running release alone', async () => {
    const bad = appDir({ 'hop3.toml': '[run]\nstrat = "app:application"\nworkers = "many"\n', 'app.py': '' });
    const r = await d.hop3(['deploy', bad, '--app', 'hello-wsgi']);
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/hop3\.toml:2: run\.strat/);
    expect(String(r.stderr)).toMatch(/run\.workers/);
    expect((await d.json(['releases', 'hello-wsgi'])).length).toBe(1);
    expect(JSON.parse((await d.get('hello-wsgi.localhost')).body).release).toBe('v1');
    rmSync(bad, { recursive: true, force: true });
  });

  it('makes a new release on a config change and the app sees the exact value', async () => {
    const value = 'line one\nplugin = evil; server { }';
    const r = await d.hop3(['config', 'set', 'hello-wsgi', `GREETING=${value}`, '--json']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(JSON.parse(String(r.stdout)).release).toBe('v2');
    await within(20_000, async () => JSON.parse((await d.get('hello-wsgi.localhost')).body).release === 'v2');
    expect(JSON.parse((await d.get('hello-wsgi.localhost')).body).greeting).toBe(value);
    expect((await d.json(['config', 'get', 'hello-wsgi'])).GREETING).toBe(value);
    const releases = await d.json(['releases', 'hello-wsgi']);
    expect(releases.map((x: { version: string; source: string; status: string }) => [x.version, x.source, x.status])).toEqual([
      ['v2', 'config', 'live'],
      ['v1', 'rpc', 'retired'],
    ]);
    // The old release's process is retired once the new one serves.
    await within(5000, () => !readdirSync(join(d.home, 'uwsgi-enabled')).some((f) => f.startsWith('hello-wsgi.v1.')));
  });

  it('stops, starts and restarts an app', async () => {
    const stopped = await d.json(['stop', 'hello-wsgi']);
    expect(stopped).toMatchObject({ state: 'stopped', sync: 'Synced' });
    expect((await d.get('hello-wsgi.localhost')).status).toBe(404);
    const started = await d.json(['start', 'hello-wsgi']);
    expect(started).toMatchObject({ state: 'running', sync: 'Synced' });
    await within(10_000, async () => (await d.get('hello-wsgi.localhost')).status === 200);
    const restarted = await d.json(['restart', 'hello-wsgi']);
    expect(restarted.generation).toBeGreaterThan(started.generation);
    const ini = readFileSync(join(d.home, 'uwsgi-available', 'hello-wsgi.v2.wsgi.ini'), 'utf8');
    expect(ini).toMatch(/; restart 1/);
    await within(10_000, async () => (await d.get('hello-wsgi.localhost')).status === 200);
  });

  it('pauses an app: no process runs, the proxy answers 503 for its names; resume serves again', async () => {
    const paused = await d.json(['pause', 'hello-wsgi']);
    expect(paused).toMatchObject({ state: 'paused', desiredState: 'paused', sync: 'Synced', health: 'Missing', release: 'v2' });
    const r = await d.get('hello-wsgi.localhost');
    expect(r).toMatchObject({ status: 503, body: 'hello-wsgi is paused\n' });
    await within(5000, () => !readdirSync(join(d.home, 'uwsgi-enabled')).some((f) => f.startsWith('hello-wsgi.')));
    expect((await d.json<{ actions: unknown[] }>(['reconcile', 'hello-wsgi'])).actions).toEqual([]);
    const again = await d.hop3(['pause', 'hello-wsgi', '--json']);
    expect(again.exitCode).toBe(1);
    expect(JSON.parse(String(again.stdout)).error.code).toBe('APP_NOT_RUNNING');
    const resumed = await d.json(['resume', 'hello-wsgi']);
    expect(resumed).toMatchObject({ state: 'running', desiredState: 'running' });
    await within(10_000, async () => (await d.get('hello-wsgi.localhost')).status === 200);
    expect((await d.hop3(['resume', 'hello-wsgi'])).exitCode).toBe(1);
  });

  it('destroys an app: processes, site, files and records', async () => {
    const r = await d.hop3(['destroy', 'static-site']);
    expect(r.exitCode).toBe(1); // needs --yes
    expect((await d.hop3(['destroy', 'static-site', '--yes'])).exitCode).toBe(0);
    expect((await d.get('static-site.localhost')).status).toBe(404);
    expect(existsSync(d.siteFile('static-site'))).toBe(false);
    expect(readdirSync(d.sitesDir)).not.toContain(basename(d.siteFile('static-site')));
    expect(readdirSync(join(d.home, 'apps'))).not.toContain('static-site');
    const st = await d.hop3(['status', 'static-site', '--json']);
    expect(st.exitCode).toBe(1);
    expect(JSON.parse(String(st.stdout)).error.code).toBe('APP_NOT_FOUND');
  });
});
