import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { freePorts } from '../../src/lib/free-ports.js';
import { createLogger } from '../../src/lib/logger.js';
import { createHop3, type Hop3 } from '../../src/server/hop3.js';
import { roundTrip } from '../unit/provider-round-trip.js';
import { livePid } from '../../src/lib/pidfile.js';
import { alive } from '../../src/lib/procfs.js';
import { HOST_OWNER } from '../../src/reconcile/host-pass.js';
import type { HostServerLive } from '../../src/plugins/host-server-provider.js';
import { changedFiles, serversOwn, skipOf, snapshotFiles } from '../support/file-snapshot.js';

/**
 * The conformance round trip of the providers whose observation needs a running server: the
 * vassal provider against the real uWSGI emperor, the site provider against the real nginx
 * master (what it *loaded*, not only the file). Both servers run in a throwaway HOP3_HOME.
 */

/** Stop what a test's Hop3 started (its servers outlive it otherwise) and remove its home. */
async function shutDown(h: Hop3 | undefined, home: string): Promise<void> {
  if (h) {
    await h.reconciler.close();
    await h.plugins.supervisor.stop();
    await h.plugins.proxy.server.stop();
    h.store.close();
  }
  rmSync(home, { recursive: true, force: true });
}
describe('providers that need a running server round-trip against it', () => {
  const home = mkdtempSync(join(tmpdir(), 'hop3-providers-'));
  let h: Hop3;

  beforeAll(async () => {
    const [httpPort, listenPort] = await freePorts(2);
    const config = loadConfig({ HOP3_HOME: home, HOP3_HTTP_PORT: String(httpPort), HOP3_LISTEN: `127.0.0.1:${listenPort}`, HOP3_LOG_LEVEL: 'silent' });
    h = createHop3(config, createLogger('silent'));
    await h.reconciler.startHost();
  }, 60_000);

  afterAll(() => shutDown(h, home), 60_000);

  it('every provider that needs a server is here', () => {
    // Addon instances, their logins and servers are round-tripped against real servers in addon-servers.test.ts.
    expect(h.plugins.providers.filter((p) => p.conformance?.needsServer).map((p) => p.kind).sort()).toEqual(['mariadb-database', 'mariadb-login', 'pg-database', 'pg-login', 'redis-login', 'redis-user', 'site', 'vassal']);
    // The host resources are round-tripped below, against each proxy.
    expect(h.plugins.hostProviders.filter((p) => p.conformance?.needsServer).map((p) => p.kind).sort())
      .toEqual(['addon-server:mariadb', 'addon-server:postgres', 'addon-server:redis', 'emperor', 'proxy']);
    // No addon recorded: no addon server is a host resource, so none is started.
    expect(h.plugins.hostProviders.flatMap((p) => p.host?.desired() ?? []).map((r) => r.kind).sort()).toEqual(['emperor', 'proxy']);
  });

  it('a host pass on the converged machine plans nothing, spawns nothing and writes nothing', async () => {
    const spawns = h.exec.spawns;
    const files = snapshotFiles(h.layout.home, skipOf(serversOwn(h.layout.home)));
    await h.reconciler.noticeHost();
    expect(h.reconciler.lastHostPass).toEqual({ actions: [], findings: [], error: null });
    expect(h.exec.spawns - spawns).toBe(0);
    expect(changedFiles(files, snapshotFiles(h.layout.home, skipOf(serversOwn(h.layout.home))))).toEqual([]);
  }, 30_000);

  it("an nginx.conf edited behind hop3's back: the host pass finds the proxy changed, puts the file back and reloads", async () => {
    const conf = join(h.layout.nginx, 'nginx.conf');
    const good = readFileSync(conf, 'utf8');
    writeFileSync(conf, `${good}# edited by hand\n`);
    await h.reconciler.noticeHost();
    expect(h.reconciler.lastHostPass).toMatchObject({
      actions: [{ type: 'resource', op: 'update', kind: 'proxy', name: 'nginx' }],
      findings: [{ resource: 'proxy:nginx', kind: 'changed', observed: expect.stringContaining('its configuration not loaded'), action: 'healed' }],
      error: null,
    });
    expect(readFileSync(conf, 'utf8')).toBe(good);
    await h.reconciler.noticeHost();
    expect(h.reconciler.lastHostPass?.actions).toEqual([]);
  }, 30_000);

  it('vassal: create → observe → diff none (the emperor runs it); delete → absent; unreadable → UNKNOWN', async () => {
    const p = h.plugins.providers.find((x) => x.kind === 'vassal')!;
    await roundTrip(p, h.layout, 'conform');
  }, 30_000);

  it('the vassal created is the process the emperor reports', async () => {
    const p = h.plugins.providers.find((x) => x.kind === 'vassal')!;
    const r = p.conformance!.sample(h.layout, 'running');
    const actx = { owner: 'running', log: h.log };
    await p.apply('create', r.name, r.spec, null, actx);
    try {
      let live: any = null;
      for (let i = 0; i < 100 && !(live?.process?.pid > 0); i++) {
        await new Promise((res) => setTimeout(res, 100));
        live = (await p.observe('running', [r])).get(r.name);
      }
      expect(live.process.pid).toBeGreaterThan(0);
      expect(p.health!(live)).toBe('Healthy');
      await p.apply('delete', r.name, null, live, actx);
    } finally {
      await p.apply('delete', r.name, null, null, actx);
    }
  }, 30_000);

  it('site: create → observe → diff none (nginx loaded it); delete → absent; unreadable → UNKNOWN', async () => {
    const p = h.plugins.providers.find((x) => x.kind === 'site')!;
    await roundTrip(p, h.layout, 'conform');
  }, 30_000);

  it('site: a file written behind the server\'s back is observed as not loaded, and the diff asks for an update', async () => {
    const p = h.plugins.providers.find((x) => x.kind === 'site')!;
    const r = p.conformance!.sample(h.layout, 'behind');
    const { writeFileSync } = await import('node:fs');
    writeFileSync((r.spec as { path: string }).path, (r.spec as { content: string }).content);
    try {
      const live = (await p.observe('behind', [r])).get(r.name);
      expect(live).toMatchObject({ loaded: false });
      expect(p.diff(r.spec, live)).toBe('update');
    } finally {
      await p.apply('delete', r.name, null, { path: (r.spec as { path: string }).path, content: null, loaded: false }, { owner: 'behind', log: h.log });
    }
  }, 30_000);
});

/**
 * The conformance round trip of the host resources, against the real servers in a throwaway
 * HOP3_HOME: create starts the server, observe finds its pid, a second create changes nothing,
 * delete stops it, an unreadable pid file is UNKNOWN (never "not running"). Then a host pass
 * restarts one killed behind its back, and records the outage.
 */
describe.each(['nginx', 'caddy'])('host resources round-trip against the real emperor and %s', (proxy) => {
  const home = mkdtempSync(join(tmpdir(), `hop3-host-${proxy}-`));
  let h: Hop3;

  beforeAll(async () => {
    const [httpPort, httpsPort, listenPort] = await freePorts(3);
    const config = loadConfig({
      HOP3_HOME: home, HOP3_PROXY: proxy, HOP3_HTTP_PORT: String(httpPort), HOP3_HTTPS_PORT: String(httpsPort), HOP3_LISTEN: `127.0.0.1:${listenPort}`, HOP3_LOG_LEVEL: 'silent',
    });
    h = createHop3(config, createLogger('silent'));
  }, 60_000);

  afterAll(() => shutDown(h, home), 60_000);

  it.each(['proxy', 'emperor'])('%s: create → observe → diff none; create again → the same pid; delete → absent; unreadable → UNKNOWN', async (kind) => {
    const p = h.plugins.hostProviders.find((x) => x.kind === kind)!;
    const r = p.conformance!.sample(h.layout, HOST_OWNER);
    const look = async () => (await p.observe(HOST_OWNER, [r])).get(r.name) as HostServerLive | null;
    await roundTrip(p, h.layout, HOST_OWNER);
    // The round trip's delete stopped it; what it checks after a delete, here with the resource asked for.
    expect(await look()).toBeNull();
    const actx = { owner: HOST_OWNER, log: h.log };
    await p.apply('create', r.name, r.spec, null, actx);
    const first = await look();
    expect(first?.pid).toBeGreaterThan(0);
    expect(alive(first!.pid)).toBe(true);
    await p.apply('create', r.name, r.spec, first, actx);
    expect((await look())?.pid).toBe(first!.pid);
    await p.apply('delete', r.name, null, first, actx);
    expect(await look()).toBeNull();
    // A server that does not daemonize (Caddy) is this process's child: gone once reaped.
    for (let i = 0; i < 100 && alive(first!.pid); i++) await new Promise((res) => setTimeout(res, 20));
    expect(alive(first!.pid)).toBe(false);
  }, 60_000);

  it('the host pass starts what is down, proxy first; a server killed behind its back is started again, the drift named', async () => {
    await h.reconciler.startHost();
    const pids = () => ({
      emperor: livePid(join(h.layout.run, 'emperor.pid'), 'uwsgi'),
      proxy: livePid(join(h.layout.run, `${proxy}.pid`), proxy === 'nginx' ? 'nginx' : join(h.layout.home, 'caddy')),
    });
    expect(h.reconciler.lastHostPass?.actions.map((a) => (a.type === 'resource' ? `${a.op}:${a.resource}` : a.type))).toEqual([`create:proxy:${proxy}`, 'create:emperor:uwsgi']);
    const before = pids();
    expect(before.proxy).toBeGreaterThan(0);
    expect(before.emperor).toBeGreaterThan(0);
    process.kill(before.emperor!, 'SIGKILL');
    for (let i = 0; i < 100 && alive(before.emperor!); i++) await new Promise((res) => setTimeout(res, 20));
    await h.reconciler.noticeHost();
    expect(h.reconciler.lastHostPass).toMatchObject({
      actions: [{ type: 'resource', op: 'create', kind: 'emperor', name: 'uwsgi' }],
      findings: [{ resource: 'emperor:uwsgi', kind: 'missing', action: 'healed' }],
      error: null,
    });
    const after = pids();
    expect(after.emperor).toBeGreaterThan(0);
    expect(after.emperor).not.toBe(before.emperor);
    expect(after.proxy).toBe(before.proxy);
  }, 60_000);

  it('a host pass over the running servers plans nothing, spawns nothing and writes nothing', async () => {
    const spawns = h.exec.spawns;
    const files = snapshotFiles(h.layout.home, skipOf(serversOwn(h.layout.home)));
    await h.reconciler.noticeHost();
    expect(h.reconciler.lastHostPass).toEqual({ actions: [], findings: [], error: null });
    expect(h.exec.spawns - spawns).toBe(0);
    expect(changedFiles(files, snapshotFiles(h.layout.home, skipOf(serversOwn(h.layout.home))))).toEqual([]);
  }, 30_000);
});
