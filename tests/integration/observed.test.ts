import { execa } from 'execa';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childPids } from '../../src/lib/pidfile.js';
import { nginxProcesses, orphanWorkers } from '../../src/plugins/proxies/nginx/orphan-workers.js';
import { orphanAppProcesses } from '../../src/plugins/deployers/uwsgi/orphan-processes.js';
import { alive, processes } from '../../src/lib/procfs.js';
import { appDir, Daemon, freePort, underLoad, within } from './harness.js';

type Drift = { app: string; resource: string; kind: string; desired: string; observed: string; detectedAt: string; action: string };

const APP = 'obs';
const HOST = `${APP}.localhost`;

/** A plain HTTP server that, asked to, stops listening but keeps running (so nothing restarts it). */
const SERVER = `import json, os, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/stop-listening":
            threading.Thread(target=server.shutdown).start()
        body = json.dumps({"release": os.environ.get("HOP3_RELEASE"), "greeting": os.environ.get("GREETING", "")}).encode() + b"\\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
server.serve_forever()
server.server_close()
while True:
    time.sleep(3600)
`;


describe('status is observed, not inferred', () => {
  const d = new Daemon({ HOP3_PROBE_SECONDS: '1' });
  const site = () => join(d.home, 'nginx', 'sites', `${APP}.conf`);
  const served = async () => {
    const r = await d.get(HOST);
    return r.status === 200 ? (JSON.parse(r.body) as { release: string; greeting: string }) : null;
  };
  const status = async () => (await d.rpc('apps.status', { app: APP })).body.result as { health: string; message: string; release: string; sync: string };
  const drift = () => d.json<Drift[]>(['drift', APP]);
  const ourOrphans = () => orphanWorkers(nginxProcesses(), d.home);

  beforeAll(async () => {
    await d.start();
    const dir = appDir({ 'hop3.toml': '[build]\nbuilder = "python"\n', Procfile: 'web: exec python3 server.py\n', 'server.py': SERVER });
    const r = await d.hop3(['deploy', dir, '--app', APP]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    await within(5000, async () => (await status()).health === 'Healthy');
  });
  afterAll(() => d.cleanup());

  it('kill -9 between the site write and the reload: the new release serves after the restart, nothing retired first', async () => {
    const before = (await served())!;
    await d.stop('SIGTERM');
    d.extraEnv.HOP3_FAILPOINT = 'after-site-write';
    await d.start();
    const r = await d.rpc('config.set', { app: APP, values: { GREETING: 'after-failpoint' } });
    expect(r.body.error).toBeUndefined();
    const version = r.body.result.version as number;
    const daemonPid = d.pid;
    await within(60_000, () => !alive(daemonPid));
    await d.stop('SIGKILL'); // reap it
    // Exactly the crash point: the file names the new release, nginx still serves the old one.
    expect(readFileSync(site(), 'utf8')).toContain(`v${version}`);
    expect((await served())?.release).toBe(before.release);

    delete d.extraEnv.HOP3_FAILPOINT;
    const logBefore = readFileSync(join(d.home, 'daemon.log'), 'utf8').length;
    // Old vassals retired before nginx loaded the new site would make these requests fail (502).
    const load = await underLoad(d.httpPort, HOST, async () => {
      await d.start();
      await within(30_000, async () => (await served())?.release === `v${version}` && (await status()).release === `v${version}`);
    }, { workers: 2 });
    expect(load.failures).toEqual([]);
    const done = readFileSync(join(d.home, 'daemon.log'), 'utf8').slice(logBefore).split('\n').filter(Boolean)
      .map((l) => JSON.parse(l) as { msg: string; app?: string; action?: string })
      .filter((l) => l.msg === 'action done' && l.app === APP).map((l) => l.action);
    // The restarted daemon reloads nginx (the site was written but not loaded), then retires.
    expect(done.indexOf('update:site')).toBeGreaterThanOrEqual(0);
    expect(done.indexOf('update:site')).toBeLessThan(done.indexOf('delete:vassal'));
    expect(load.releases.get(`v${version}`)).toBeGreaterThan(0);
    expect((await served())?.greeting).toBe('after-failpoint');
    expect((await d.json(['reconcile', APP])).actions).toEqual([]);
  });

  it('a site file nginx never loaded (a master started by hand on another file) is reloaded at start', async () => {
    await d.stop('SIGKILL');
    const good = readFileSync(site(), 'utf8');
    const master = d.pidOf('nginx.pid');
    process.kill(master, 'SIGQUIT');
    await within(10_000, () => !alive(master) && ourOrphans().length === 0);
    // Point the app at a port nobody listens on, start nginx on that, then put the good file back.
    writeFileSync(site(), good.replace(/127\.0\.0\.1:\d+/g, `127.0.0.1:${await freePort()}`));
    const nginx = await execa('nginx', ['-p', join(d.home, 'nginx'), '-c', join(d.home, 'nginx', 'nginx.conf')], { reject: false });
    expect(nginx.exitCode, String(nginx.stderr)).toBe(0);
    await within(5000, async () => (await d.get(HOST)).status === 502);
    writeFileSync(site(), good);
    expect((await d.get(HOST)).status).toBe(502);
    await d.start();
    await within(5000, async () => (await served()) !== null);
    expect(readFileSync(site(), 'utf8')).toBe(good);
  });

  it('kill -9 of the emperor: served again within 5 s, status shows the outage, drift records it', async () => {
    await within(5000, async () => (await served()) !== null && (await status()).health === 'Healthy');
    const since = new Date().toISOString();
    const emperor = d.pidOf('emperor.pid');
    const healths = new Set<string>();
    const start = Date.now();
    process.kill(emperor, 'SIGKILL');
    const { elapsedMs } = await within(5000, async () => {
      healths.add((await status()).health);
      return Date.now() - start > 300 && (await served()) !== null;
    });
    expect(elapsedMs).toBeLessThan(5000);
    expect(d.pidOf('emperor.pid')).not.toBe(emperor);
    // What the dead vassals left running (uWSGI leaves a web command's process) was stopped.
    expect(orphanAppProcesses(processes(), d.home)).toEqual([]);
    await within(5000, async () => {
      const s = await status();
      healths.add(s.health);
      return s.health === 'Healthy';
    });
    expect([...healths].filter((h) => h === 'Degraded' || h === 'Unknown').length).toBeGreaterThan(0);
    const found = (await drift()).find((f) => f.resource === 'emperor' && f.detectedAt > since);
    expect(found).toMatchObject({ kind: 'missing', action: 'healed' });
    expect(found?.observed).toContain(`pid ${emperor}`);
  });

  it('kill -9 of a web vassal: its command process dies with it, and the respawned vassal serves', async () => {
    await within(5000, async () => (await served()) !== null && (await status()).health === 'Healthy');
    const release = (await status()).release!;
    const master = d.pidOf(`${APP}.${release}.web.pid`);
    const children = childPids(master);
    expect(children.length).toBeGreaterThan(0);
    process.kill(master, 'SIGKILL');
    await within(3000, () => children.every((c) => !alive(c)));
    await within(5000, async () => d.pidOf(`${APP}.${release}.web.pid`) !== master && (await served()) !== null);
    expect(orphanAppProcesses(processes(), d.home)).toEqual([]);
    await within(5000, async () => (await status()).health === 'Healthy').catch(async (err: unknown) => {
      throw new Error(`${String(err)}: ${JSON.stringify(await status())}`);
    });
  });

  it('kill -9 of the nginx master: its workers are stopped, a new master serves, and a config change rolls out', async () => {
    await within(5000, async () => (await status()).health === 'Healthy');
    const since = new Date().toISOString();
    const master = d.pidOf('nginx.pid');
    const workers = childPids(master);
    expect(workers.length).toBeGreaterThan(0);
    process.kill(master, 'SIGKILL');
    await within(5000, () => workers.every((w) => !alive(w)) && d.pidOf('nginx.pid') !== master && alive(d.pidOf('nginx.pid')));
    await within(5000, async () => (await served()) !== null);
    const found = (await drift()).find((f) => f.resource === 'proxy' && f.detectedAt > since);
    expect(found).toMatchObject({ kind: 'missing', action: 'healed' });

    const r = await d.hop3(['config', 'set', APP, 'GREETING=after-master-kill']);
    expect(r.exitCode, `${r.stderr}${r.stdout}`).toBe(0);
    expect((await served())?.greeting).toBe('after-master-kill');
    expect(ourOrphans()).toEqual([]);
    // Every nginx worker of this home is a child of the one live master.
    const now = d.pidOf('nginx.pid');
    const ours = nginxProcesses().filter((p) => p.title.startsWith('nginx: worker') && p.paths.some((x) => x.startsWith(`${d.home}/`)));
    expect(ours.length).toBeGreaterThan(0);
    expect(ours.every((p) => p.ppid === now)).toBe(true);
  });

  it('an app whose process stops listening answers 502 through nginx and shows Degraded within the probe period', async () => {
    await within(5000, async () => (await status()).health === 'Healthy');
    expect((await d.get(HOST, '/stop-listening')).status).toBe(200);
    await within(5000, async () => (await d.get(HOST)).status === 502);
    const t = Date.now();
    const { value } = await within(5000, async () => {
      const s = await status();
      return s.health === 'Degraded' ? s : null;
    });
    expect(value!.message).toContain('HTTP 502');
    // 1 s period, a failed probe repeated after 1 s, then the pass that records it.
    expect(Date.now() - t).toBeLessThan(4000);
    // The process is still there: only a request through the proxy shows it does not serve.
    expect(alive(d.pidOf(`${APP}.${(await status()).release}.web.pid`))).toBe(true);
  });
});
