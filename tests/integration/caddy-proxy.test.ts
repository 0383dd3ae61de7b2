import { execa } from 'execa';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alive } from '../../src/lib/procfs.js';
import { adminRequest } from '../../src/plugins/proxies/caddy/admin-api.js';
import { appDir, Daemon, EXAMPLES, httpsGet, within } from './harness.js';

/** An HTTP app whose /slow answers after 2 s, naming its release. */
const SLOW_SERVER = `import json, os, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/slow":
            time.sleep(2)
        body = json.dumps({"release": os.environ.get("HOP3_RELEASE")}).encode() + b"\\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
`;

type Drift = { app: string; resource: string; kind: string; desired: string; observed: string; detectedAt: string; action: string };

/** What is inherently Caddy's under HOP3_PROXY=caddy: its process, its admin endpoint, its config. */
describe('hop3-server with HOP3_PROXY=caddy', () => {
  const d = new Daemon({}, { proxy: 'caddy' });
  const socket = () => join(d.home, 'run', 'caddy-admin.sock');
  const loadedConfig = async () => {
    const r = await adminRequest(socket(), 'GET', '/config/', 5000);
    expect(r.status).toBe(200);
    return r.body;
  };
  const drift = async (app: string) => d.json<Drift[]>(['drift', app]);
  const greeting = async () => {
    const r = await d.get('hello-wsgi.localhost');
    return r.status === 200 ? (JSON.parse(r.body) as { greeting: string }).greeting : null;
  };

  beforeAll(async () => {
    await d.start();
    for (const ex of ['hello-wsgi', 'static-site']) {
      const r = await d.hop3(['deploy', join(EXAMPLES, ex)]);
      expect(r.exitCode, String(r.stderr)).toBe(0);
    }
  });
  afterAll(() => d.cleanup());

  it('runs hop3\'s own Caddy on HOP3_HTTP_PORT and HOP3_HTTPS_PORT only, its admin endpoint on a unix socket, and lets loads reset nothing', async () => {
    const pid = d.proxyPid();
    const { stdout } = await execa('ss', ['-Hltnp']);
    const ports = stdout.split('\n').filter((l) => l.includes(`pid=${pid},`)).map((l) => Number(/:(\d+)\s/.exec(l)?.[1]));
    // The examples' names are under .localhost: [tls] mode auto gives them self-signed HTTPS.
    expect(ports.sort()).toEqual([d.httpPort, d.httpsPort].sort());
    expect(JSON.parse(await loadedConfig()).admin.listen).toBe(`unix/${socket()}`);
    // hop3-server serve (as root) turned on the migration of queued connections across a load.
    expect((await execa('sysctl', ['-n', 'net.ipv4.tcp_migrate_req'])).stdout.trim()).toBe('1');
    expect(await d.json(['status', 'hello-wsgi'])).toMatchObject({ sync: 'Synced', health: 'Healthy' });
  });

  it('an app\'s route deleted through the admin API is drift, healed within 2 s', async () => {
    const since = new Date().toISOString();
    expect((await adminRequest(socket(), 'DELETE', '/id/hop3-site-static-site', 5000)).status).toBe(200);
    const { elapsedMs } = await within(5000, async () => {
      const found = (await drift('static-site')).find((f) => f.resource === 'site:static-site' && f.detectedAt > since && f.action === 'healed');
      return found && (await d.get('static-site.localhost')).status === 200 && found;
    });
    expect(elapsedMs).toBeLessThan(5000);
    const found = (await drift('static-site')).find((f) => f.resource === 'site:static-site' && f.detectedAt > since);
    expect(found).toMatchObject({ kind: 'changed', observed: expect.stringMatching(/^\d+ bytes, not loaded by the proxy$/) });
    expect(JSON.parse(await loadedConfig()).apps.http.servers.hop3.routes.map((r: { '@id'?: string }) => r['@id']))
      .toEqual(['hop3-acme-challenges', 'hop3-site-hello-wsgi', 'hop3-site-static-site', undefined]);
  });

  it('an app\'s certificate unloaded through the admin API is drift: HTTPS with it is back within 2 s', async () => {
    const own = readFileSync(join(d.home, 'certs', 'hello-wsgi', 'cert.pem'), 'utf8');
    expect((await httpsGet(d.httpsPort, 'hello-wsgi.localhost', own)).status).toBe(200);
    expect((await adminRequest(socket(), 'DELETE', '/id/hop3-cert-hello-wsgi', 5000)).status).toBe(200);
    // No other certificate answers for its name: the handshake fails until the entry is back.
    await expect(httpsGet(d.httpsPort, 'hello-wsgi.localhost', own)).rejects.toThrow(/alert|handshake|socket/i);
    const { elapsedMs } = await within(5000, async () => (await httpsGet(d.httpsPort, 'hello-wsgi.localhost', own)).status === 200);
    console.log(`a certificate unloaded through Caddy's admin API served again after ${elapsedMs} ms`);
    expect(JSON.parse(await loadedConfig()).apps.tls.certificates.load_files.map((c: { '@id': string }) => c['@id']))
      .toEqual(['hop3-cert-hello-wsgi', 'hop3-cert-static-site']);
  });

  it('a route of someone else\'s added through the admin API is removed within 2 s', async () => {
    const since = new Date().toISOString();
    const theirs = JSON.stringify({ match: [{ host: ['evil.localhost'] }], handle: [{ handler: 'static_response', body: 'not hop3' }] });
    expect((await adminRequest(socket(), 'PUT', '/config/apps/http/servers/hop3/routes/0', 5000, theirs)).status).toBe(200);
    expect((await d.get('evil.localhost')).body).toBe('not hop3');
    await within(5000, async () => (await d.get('evil.localhost')).status === 404);
    expect(JSON.parse(await loadedConfig()).apps.http.servers.hop3.routes).toHaveLength(4);
    const healed = [...(await drift('hello-wsgi')), ...(await drift('static-site'))].filter((f) => f.detectedAt > since && f.action === 'healed');
    expect(healed.length).toBeGreaterThan(0);
    for (const app of ['hello-wsgi', 'static-site']) expect((await d.json(['reconcile', app])).actions).toEqual([]);
  });

  it('kill -9 of Caddy: a new one serves within 5 s, the outage is recorded as drift, and a config change rolls out', async () => {
    const since = new Date().toISOString();
    const pid = d.proxyPid();
    process.kill(pid, 'SIGKILL');
    const { elapsedMs } = await within(5000, async () => {
      const now = (() => {
        try {
          return d.proxyPid();
        } catch {
          return 0;
        }
      })();
      return now !== pid && now > 0 && alive(now) && (await d.get('static-site.localhost')).status === 200 && (await greeting()) !== null;
    });
    console.log(`Caddy killed: served again after ${elapsedMs} ms`);
    await within(5000, async () => (await drift('hello-wsgi')).some((f) => f.resource === 'proxy' && f.detectedAt > since && f.kind === 'missing' && f.action === 'healed'));
    const r = await d.hop3(['config', 'set', 'hello-wsgi', 'GREETING=after-caddy-kill']);
    expect(r.exitCode, `${r.stderr}${r.stdout}`).toBe(0);
    expect(await greeting()).toBe('after-caddy-kill');
    expect(await d.json(['status', 'hello-wsgi'])).toMatchObject({ sync: 'Synced', health: 'Healthy' });
  });

  it('a request in flight on the old release when Caddy switches finishes there before that release is stopped', async () => {
    const dir = appDir({ 'hop3.toml': '[build]\nbuilder = "python"\n', Procfile: 'web: exec python3 server.py\n', 'server.py': SLOW_SERVER });
    try {
      const r = await d.hop3(['deploy', dir, '--app', 'slow']);
      expect(r.exitCode, String(r.stderr)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const release = (p: Promise<{ status: number; body: string }>) => p.then((x) => ({ status: x.status, release: x.status === 200 ? (JSON.parse(x.body) as { release: string }).release : x.body }));
    const inFlight = release(d.get('slow.localhost', '/slow'));
    await new Promise((r) => setTimeout(r, 300));
    const c = await d.hop3(['config', 'set', 'slow', 'N=2']);
    expect(c.exitCode, String(c.stderr)).toBe(0);
    expect(await inFlight).toEqual({ status: 200, release: 'v1' });
    expect(await release(d.get('slow.localhost'))).toEqual({ status: 200, release: 'v2' });
  });

  it('a domain with a newline, `{` or `}` is refused by the manifest, and the loaded config stays byte for byte', async () => {
    const before = await loadedConfig();
    for (const name of ['evil.example\n}', 'a.example {', 'b.example}', 'x.example\r\n{"handler": "static_response"}']) {
      const dir = appDir({ 'hop3.toml': `[build]\nbuilder = "static"\n[run]\nstatic = "public"\n[domains]\nnames = [${JSON.stringify(name)}]\n`, 'public/index.html': 'hi\n' });
      try {
        const r = await d.hop3(['deploy', dir, '--app', 'inject', '--json']);
        expect(r.exitCode, String(r.stdout)).toBe(1);
        expect(JSON.parse(String(r.stdout)).error.code).toBe('SPEC_INVALID');
        expect(String(r.stdout)).toContain('domains.names');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    expect(await loadedConfig()).toBe(before);
    expect((await d.get('evil.example')).status).toBe(404);
  });
});
