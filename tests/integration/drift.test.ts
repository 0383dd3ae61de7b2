import { appendFileSync, existsSync, lstatSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, EXAMPLES, PROXIES, within } from './harness.js';

type Drift = { app: string; resource: string; kind: string; desired: string; observed: string; detectedAt: string; action: string };

describe.each(PROXIES)('drift is reported and repaired (%s)', (proxy) => {
  const d = new Daemon({}, { proxy });
  const vassal = () => join(d.home, 'uwsgi-available', 'hello-wsgi.v1.wsgi.ini');
  const site = () => d.siteFile('static-site');

  beforeAll(async () => {
    await d.start();
    for (const ex of ['hello-wsgi', 'static-site']) {
      const r = await d.hop3(['deploy', join(EXAMPLES, ex)]);
      expect(r.exitCode, String(r.stderr)).toBe(0);
    }
  });
  afterAll(() => d.cleanup());

  /** Wait for a new drift finding on `resource` and for `repaired()`; both within 2 s. */
  async function expectHealed(resource: string, kind: string, repaired: () => Promise<boolean> | boolean, since: string) {
    const { elapsedMs } = await within(2000, async () => {
      const drift = await d.json<Drift[]>(['drift', 'hello-wsgi']).then(async (a) => [...a, ...(await d.json<Drift[]>(['drift', 'static-site']))]);
      const found = drift.find((f) => f.resource === resource && f.kind === kind && f.detectedAt > since && f.action === 'healed');
      return found && (await repaired());
    });
    return elapsedMs;
  }

  it('records its findings in the documented JSON shape', async () => {
    const since = new Date().toISOString();
    rmSync(vassal());
    await expectHealed('vassal:hello-wsgi.v1.wsgi', 'missing', () => statSync(vassal()).isFile(), since);
    const all = await d.json<Drift[]>(['drift']);
    expect(Object.keys(all[0]!).sort()).toEqual(['action', 'app', 'desired', 'detectedAt', 'kind', 'observed', 'resource']);
  });

  it('restores a deleted vassal file within 2 s and the app serves again', async () => {
    await within(5000, async () => (await d.get('hello-wsgi.localhost')).status === 200);
    const since = new Date().toISOString();
    const before = readFileSync(vassal(), 'utf8');
    rmSync(vassal());
    await expectHealed('vassal:hello-wsgi.v1.wsgi', 'missing', () => readFileSync(vassal(), 'utf8') === before, since);
    await within(5000, async () => (await d.get('hello-wsgi.localhost')).status === 200);
  });

  it('reports a killed vassal process and has it running again within 2 s', async () => {
    await within(5000, async () => (await d.get('hello-wsgi.localhost')).status === 200);
    // Let the emperor settle the vassal first (a just-started one is handled differently).
    await new Promise((r) => setTimeout(r, 1500));
    const since = new Date().toISOString();
    const pid = d.pidOf('hello-wsgi.v1.wsgi.pid');
    process.kill(pid, 'SIGKILL');
    await expectHealed('process:hello-wsgi.v1.wsgi', 'missing', async () => d.pidOf('hello-wsgi.v1.wsgi.pid') !== pid && (await d.get('hello-wsgi.localhost')).status === 200, since);
    const finding = (await d.json<Drift[]>(['drift', 'hello-wsgi'])).find((f) => f.resource === 'process:hello-wsgi.v1.wsgi');
    expect(finding?.observed).toContain(`pid ${pid} exited`);
  });

  it('reverts a hand-edited site file within 2 s', async () => {
    const since = new Date().toISOString();
    const good = readFileSync(site(), 'utf8');
    appendFileSync(site(), '\n# edited by hand\n');
    await expectHealed('site:static-site', 'changed', () => readFileSync(site(), 'utf8') === good, since);
    expect((await d.get('static-site.localhost')).status).toBe(200);
  });

  it('replaces a plain file put where the enabled link belongs', async () => {
    const link = join(d.home, 'uwsgi-enabled', 'hello-wsgi.v1.wsgi.ini');
    const since = new Date().toISOString();
    rmSync(link);
    writeFileSync(link, readFileSync(vassal(), 'utf8'));
    await expectHealed('vassal:hello-wsgi.v1.wsgi', 'missing', () => lstatSync(link).isSymbolicLink() && readlinkSync(link) === vassal(), since);
  });

  it('removes files of an app that has no record, and records them as unexpected', async () => {
    const since = new Date().toISOString();
    const ghost = d.siteFile('ghost');
    writeFileSync(ghost, readFileSync(site(), 'utf8').replaceAll('static-site', 'ghost'));
    // A ghost's files are found by the watcher (an app with no record has no pass queued by a
    // change of its own), well before the 30 s resync; 5 s, as CI's load can stretch 2 s.
    const { elapsedMs } = await within(5000, async () => {
      const drift = await d.json<Drift[]>(['drift']);
      return !existsSync(ghost) && drift.some((f) => f.app === 'ghost' && f.resource === 'site:ghost' && f.kind === 'unexpected' && f.action === 'healed' && f.detectedAt > since);
    });
    expect(elapsedMs).toBeLessThan(5000);
    expect((await d.get('ghost.localhost')).status).toBe(404);
  });

  it('plans nothing once the drift is repaired', async () => {
    for (const app of ['hello-wsgi', 'static-site']) expect((await d.json(['reconcile', app])).actions).toEqual([]);
  });

  it('keeps apps serving across kill -9 of the daemon, and replans nothing after a restart', async () => {
    const pid = d.pidOf('hello-wsgi.v1.wsgi.pid');
    const mtimes = [vassal(), site()].map((f) => statSync(f).mtimeMs);
    const eventsBefore = (await d.json<{ id: number }[]>(['events', '--limit', '1000'])).at(-1)!.id;
    await d.stop('SIGKILL');
    expect((await d.get('hello-wsgi.localhost')).status).toBe(200);
    expect((await d.get('static-site.localhost')).status).toBe(200);
    await d.start();
    for (const app of ['hello-wsgi', 'static-site']) {
      const pass = await d.json(['reconcile', app]);
      expect(pass.actions).toEqual([]);
      expect(await d.json(['status', app])).toMatchObject({ state: 'running', sync: 'Synced', health: 'Healthy' });
    }
    expect([vassal(), site()].map((f) => statSync(f).mtimeMs)).toEqual(mtimes);
    expect(d.pidOf('hello-wsgi.v1.wsgi.pid')).toBe(pid);
    const newEvents = (await d.json<{ id: number; kind: string }[]>(['events', '--limit', '1000'])).filter((e) => e.id > eventsBefore);
    expect(newEvents).toEqual([]);
  });

  it('shuts down gracefully on SIGTERM and leaves apps running', async () => {
    const result = await d.stop('SIGTERM');
    expect(result?.exitCode).toBe(0);
    expect((await d.get('hello-wsgi.localhost')).status).toBe(200);
    expect(readFileSync(join(d.home, 'daemon.log'), 'utf8')).toContain('apps keep running');
    await d.start();
  });
});
