import { createExec } from '../../src/lib/exec.js';
import { execa, type ResultPromise } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hop3Error } from '../../src/lib/errors.js';
import { layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { adminRequest } from '../../src/plugins/proxies/caddy/admin-api.js';
import type { CaddyDesired, Json } from '../../src/plugins/proxies/caddy/config.js';
import { CaddyControl } from '../../src/plugins/proxies/caddy/control.js';
import type { ProxySite } from '../../src/plugins/types.js';
import { UNKNOWN } from '../../src/reconcile/types.js';
import { freePort, within } from './harness.js';
import { send, SERVER, websocketEcho } from './http-app.js';

/** A GET with the path sent exactly as written (no URL normalization) and a Host header. */
function get(port: number, host: string, path: string): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers: { host, connection: 'close' }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

/** A POST of `bytes` bytes; resolves with the status (the server may answer before reading it all). */
function post(port: number, host: string, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/upload', method: 'POST', headers: { host, 'content-length': bytes }, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end(Buffer.alloc(bytes, 0x61));
  });
}

async function rejection(p: Promise<unknown>): Promise<Hop3Error> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(Hop3Error);
    return err as Hop3Error;
  }
  throw new Error('expected a rejection');
}

describe('hop3 Caddy (real caddy on loopback)', () => {
  const home = mkdtempSync(join(tmpdir(), 'hop3-caddy-'));
  const layout = layoutOf(home);
  const docsRoot = join(layout.releaseDir('docs', 1), 'src', 'public');
  let httpPort = 0;
  let upstreamPort = 0;
  let upstream: ResultPromise | null = null;
  let chatPort = 0;
  let chat: ResultPromise | null = null;
  let caddy: CaddyControl;
  let sites: ProxySite[];
  let desired: CaddyDesired;

  beforeAll(async () => {
    [httpPort, upstreamPort] = [await freePort(), await freePort()];
    mkdirSync(layout.run, { recursive: true, mode: 0o700 });
    mkdirSync(layout.log, { recursive: true, mode: 0o700 });
    // The static site: what it serves, and what it must never serve.
    mkdirSync(join(docsRoot, 'sub'), { recursive: true });
    mkdirSync(join(docsRoot, '.git'), { recursive: true });
    writeFileSync(join(docsRoot, 'index.html'), '<h1>docs home</h1>\n');
    writeFileSync(join(docsRoot, 'sub', 'page.html'), 'a page\n');
    for (const f of ['ENV', 'hop3.toml', 'Procfile', '.env', '.git/config', 'sub/.hidden']) writeFileSync(join(docsRoot, f), 'SECRET=leaked\n');
    // The proxied app: a tiny HTTP server on loopback.
    const served = join(home, 'upstream');
    mkdirSync(served);
    writeFileSync(join(served, 'hello.txt'), 'hello from the upstream\n');
    upstream = execa('python3', ['-m', 'http.server', String(upstreamPort), '--bind', '127.0.0.1', '--directory', served], { reject: false });
    await within(10_000, async () => (await get(upstreamPort, 'x', '/hello.txt')).status === 200);
    // An app that reads POST bodies and speaks WebSocket.
    chatPort = await freePort();
    chat = execa('python3', ['-c', SERVER], { env: { PORT: String(chatPort) }, reject: false });
    await within(10_000, async () => (await get(chatPort, 'x', '/')).status === 200);
    caddy = new CaddyControl({ layout, log: createLogger('silent'), exec: createExec(), httpPort, bin: 'caddy' });
    // The proxied app's [static] paths directory.
    const blogStatic = join(layout.releaseDir('blog', 2), 'src', 'public', 'static');
    mkdirSync(blogStatic, { recursive: true });
    writeFileSync(join(blogStatic, 'app.css'), 'body { color: red }\n');
    for (const f of ['ENV', '.env']) writeFileSync(join(blogStatic, f), 'SECRET=leaked\n');
    const plain = { staticPaths: [], staticMaxAge: 3600, maxBodyBytes: 10 * 1024 * 1024 };
    sites = [
      {
        app: 'blog', release: 2, serverNames: ['blog.localhost', 'www.blog.test'], target: { protocol: 'http', address: '127.0.0.1', port: upstreamPort },
        staticPaths: [{ prefix: '/static/', root: blogStatic }], staticMaxAge: 600, maxBodyBytes: 1024,
      },
      { app: 'chat', release: 1, serverNames: ['chat.localhost'], target: { protocol: 'http', address: '127.0.0.1', port: chatPort }, ...plain, maxBodyBytes: 64 * 1024 },
      { app: 'docs', release: 1, serverNames: ['docs.localhost'], target: { protocol: 'file', root: docsRoot }, ...plain },
      { app: 'shop', release: 4, serverNames: ['shop.localhost'], target: { protocol: 'paused' }, ...plain },
    ];
    desired = caddy.desired(sites);
  });

  afterAll(async () => {
    await caddy?.stop();
    upstream?.kill('SIGTERM');
    chat?.kill('SIGTERM');
    await upstream;
    await chat;
    rmSync(home, { recursive: true, force: true });
  });

  it('a Caddy that is not running is Unknown, not absent', async () => {
    expect(caddy.pid()).toBeNull();
    expect(await caddy.observe()).toBe(UNKNOWN);
  });

  it('starts with no site, its admin endpoint on a unix socket only', async () => {
    expect(await caddy.ensureRunning()).toBe('started');
    expect(await caddy.ensureRunning()).toBe('running');
    const live = await caddy.observe();
    expect(live).not.toBe(UNKNOWN);
    expect(live).not.toBeNull();
    expect(caddy.diff(caddy.desired([]), live as Record<string, Json>)).toBe('none');
    expect((live as { admin: { listen: string } }).admin.listen).toBe(`unix/${join(home, 'run', 'caddy-admin.sock')}`);
    // Caddy listens on the HTTP port and on no other TCP port (no admin on :2019).
    const { stdout } = await execa('ss', ['-Hltnp']);
    const ports = stdout.split('\n').filter((l) => l.includes(`pid=${caddy.pid()},`)).map((l) => Number(/:(\d+)\s/.exec(l)?.[1]));
    expect(ports).toEqual([httpPort]);
    expect((await get(httpPort, 'docs.localhost', '/')).status).toBe(404);
  });

  it('loads a config with a proxied app, a static site and a paused app, and serves them by Host', async () => {
    await caddy.apply(desired);
    const live = await caddy.observe();
    expect(live).not.toBe(UNKNOWN);
    expect(caddy.diff(desired, live as Record<string, Json>)).toBe('none');
    // The file a restarted Caddy loads is the config it accepted.
    expect(JSON.parse(readFileSync(caddy.paths.config, 'utf8'))).toEqual(desired.config);

    const proxied = await get(httpPort, 'blog.localhost', '/hello.txt');
    expect(proxied.status).toBe(200);
    expect(proxied.body).toBe('hello from the upstream\n');
    expect((await get(httpPort, 'www.blog.test', '/hello.txt')).body).toBe('hello from the upstream\n');

    const home1 = await get(httpPort, 'docs.localhost', '/');
    expect(home1.status).toBe(200);
    expect(home1.body).toBe('<h1>docs home</h1>\n');
    expect((await get(httpPort, 'docs.localhost', '/sub/page.html')).body).toBe('a page\n');

    const paused = await get(httpPort, 'shop.localhost', '/anything');
    expect(paused.status).toBe(503);
    expect(paused.headers['retry-after']).toBe('60');
    expect(paused.body).toBe('shop is paused\n');

    expect((await get(httpPort, 'nobody.localhost', '/')).status).toBe(404);
  });

  it('[static] paths are served by Caddy from their directory with a max-age, protected like a static site', async () => {
    const css = await get(httpPort, 'blog.localhost', '/static/app.css');
    expect(css.status).toBe(200);
    expect(css.body).toBe('body { color: red }\n');
    expect(css.headers['cache-control']).toBe('max-age=600');
    // Everything else still goes to the app.
    expect((await get(httpPort, 'blog.localhost', '/hello.txt')).body).toBe('hello from the upstream\n');
    for (const path of ['/static/ENV', '/static/.env', '/static/%2eenv', '/static/x/../ENV', '/static/missing.css']) {
      const r = await get(httpPort, 'blog.localhost', path);
      expect({ path, status: r.status }).toEqual({ path, status: 404 });
      expect(r.body).not.toContain('leaked');
      expect(r.headers['cache-control']).toBeUndefined();
    }
  });

  it('a request body over the app\'s max body size gets 413', async () => {
    expect(await post(httpPort, 'blog.localhost', 4096)).toBe(413);
    // Within the limit it reaches the app (python's http.server has no POST: 501).
    expect(await post(httpPort, 'blog.localhost', 512)).toBe(501);
  });

  it('a body within the limit reaches the app whole; a WebSocket upgrade is passed through', async () => {
    expect((await send(httpPort, 'chat.localhost', 'POST', '/upload', Buffer.alloc(60 * 1024, 0x61))).body).toBe(`received ${60 * 1024}`);
    expect((await send(httpPort, 'chat.localhost', 'POST', '/upload', Buffer.alloc(65 * 1024, 0x61))).status).toBe(413);
    const ws = await websocketEcho(httpPort, 'chat.localhost', 'hello through caddy');
    expect(ws.status).toBe(101);
    expect(ws.accept).toBe(ws.expected);
    expect(ws.echo).toBe('hello through caddy');
  });

  it('a static site never serves hop3 files or dotfiles, however the path is spelled', async () => {
    const paths = ['/ENV', '/hop3.toml', '/Procfile', '/env', '/.env', '/.git/config', '/sub/.hidden', '/%2eenv', '/%2Egit/config',
      '/sub/../ENV', '/sub/../.env', '//ENV', '/./hop3.toml', '/sub/%2e%2e/Procfile', '/ENV.', '/.git/', '/sub/..%2f.env'];
    for (const path of paths) {
      const r = await get(httpPort, 'docs.localhost', path);
      expect({ path, status: r.status }).toEqual({ path, status: 404 });
      expect(r.body).not.toContain('leaked');
    }
  });

  it('a config changed behind hop3 back through the admin API is seen as a difference, and apply heals it', async () => {
    // Someone deletes the blog's route and adds one of their own.
    expect((await adminRequest(caddy.paths.adminSocket, 'DELETE', '/id/hop3-site-blog', 5000)).status).toBe(200);
    const theirs = JSON.stringify({ match: [{ host: ['evil.localhost'] }], handle: [{ handler: 'static_response', body: 'not hop3' }] });
    expect((await adminRequest(caddy.paths.adminSocket, 'PUT', '/config/apps/http/servers/hop3/routes/0', 5000, theirs)).status).toBe(200);
    expect((await get(httpPort, 'blog.localhost', '/hello.txt')).status).toBe(404);
    expect((await get(httpPort, 'evil.localhost', '/')).body).toBe('not hop3');

    const drifted = await caddy.observe();
    expect(drifted).not.toBe(UNKNOWN);
    expect(drifted).not.toBeNull();
    expect(caddy.diff(desired, drifted as Record<string, Json>)).toBe('update');

    await caddy.apply(desired);
    expect(caddy.diff(desired, (await caddy.observe()) as Record<string, Json>)).toBe('none');
    expect((await get(httpPort, 'blog.localhost', '/hello.txt')).body).toBe('hello from the upstream\n');
    expect((await get(httpPort, 'evil.localhost', '/')).status).toBe(404);
  });

  it('refuses a config Caddy rejects, and the loaded config stays as it was', async () => {
    const saved = readFileSync(caddy.paths.config, 'utf8');
    const bad = structuredClone(desired);
    const server = (bad.config as { apps: { http: { servers: { hop3: { routes: Json[] } } } } }).apps.http.servers.hop3;
    server.routes.unshift({ match: [{ host: ['new.localhost'] }], handle: [{ handler: 'no_such_handler' }] });
    const err = await rejection(caddy.apply(bad));
    expect(err.code).toBe('CADDY_CONFIG_REJECTED');
    expect(err.message).toContain('caddy validate');
    expect(err.message).toContain('no_such_handler');
    expect(err.hint).toBeTruthy();
    expect(caddy.diff(desired, (await caddy.observe()) as Record<string, Json>)).toBe('none');
    expect(readFileSync(caddy.paths.config, 'utf8')).toBe(saved);
    expect((await get(httpPort, 'blog.localhost', '/hello.txt')).status).toBe(200);
  });

  it('refuses a static root holding a link that leads out of it, and keeps serving the last good config', async () => {
    const secret = join(home, 'secret.txt');
    writeFileSync(secret, 'TOP SECRET\n');
    const v2 = join(layout.releaseDir('docs', 2), 'src', 'public');
    mkdirSync(v2, { recursive: true });
    writeFileSync(join(v2, 'index.html'), '<h1>docs v2</h1>\n');
    symlinkSync(secret, join(v2, 'leak.txt'));
    const next = caddy.desired(sites.map((s) => (s.app === 'docs' ? { ...s, release: 2, target: { protocol: 'file' as const, root: v2 } } : s)));
    const err = await rejection(caddy.apply(next));
    expect(err.code).toBe('APP_LINK_OUTSIDE');
    expect(err.message).toContain('leak.txt');
    expect(err.message).toContain(secret);
    expect(caddy.diff(desired, (await caddy.observe()) as Record<string, Json>)).toBe('none');
    expect((await get(httpPort, 'docs.localhost', '/')).body).toBe('<h1>docs home</h1>\n');
    expect((await get(httpPort, 'docs.localhost', '/leak.txt')).status).toBe(404);
  });

  it('refuses a static root holding a link to a file the site hides, and accepts links to what it serves', async () => {
    const withRoot = (root: string) => caddy.desired(sites.map((s) => (s.app === 'docs' ? { ...s, target: { protocol: 'file' as const, root } } : s)));
    const v3 = join(layout.releaseDir('docs', 3), 'src', 'public');
    mkdirSync(v3, { recursive: true });
    writeFileSync(join(v3, 'ENV'), 'SECRET=leaked\n');
    symlinkSync('ENV', join(v3, 'alias.txt'));
    const err = await rejection(caddy.apply(withRoot(v3)));
    expect(err.code).toBe('APP_LINK_OUTSIDE');
    expect(err.message).toContain('alias.txt -> ENV');
    expect(caddy.diff(desired, (await caddy.observe()) as Record<string, Json>)).toBe('none');

    const v4 = join(layout.releaseDir('docs', 4), 'src', 'public');
    mkdirSync(v4, { recursive: true });
    writeFileSync(join(v4, 'index.html'), '<h1>docs v4</h1>\n');
    symlinkSync('index.html', join(v4, 'latest.html'));
    await caddy.apply(withRoot(v4));
    expect((await get(httpPort, 'docs.localhost', '/latest.html')).body).toBe('<h1>docs v4</h1>\n');
    await caddy.apply(desired);
    expect((await get(httpPort, 'docs.localhost', '/')).body).toBe('<h1>docs home</h1>\n');
  });

  it('a new CaddyControl (a restarted daemon) adopts the running Caddy; only its owner may use the admin socket', async () => {
    const pid = caddy.pid();
    const again = new CaddyControl({ layout, log: createLogger('silent'), exec: createExec(), httpPort, bin: 'caddy' });
    expect(await again.ensureRunning()).toBe('running');
    expect(again.pid()).toBe(pid);
    expect(again.diff(desired, (await again.observe()) as Record<string, Json>)).toBe('none');
    expect(statSync(caddy.paths.adminSocket).mode & 0o022).toBe(0);
    expect(statSync(layout.run).mode & 0o077).toBe(0);
    expect(statSync(caddy.paths.config).mode & 0o777).toBe(0o600);
    expect(statSync(caddy.paths.dir).mode & 0o777).toBe(0o700);
  });

  it('a dead Caddy is Unknown; started again, it serves the last config it accepted', async () => {
    const pid = caddy.pid()!;
    process.kill(pid, 'SIGKILL');
    await within(5000, () => caddy.pid() === null);
    expect(await caddy.observe()).toBe(UNKNOWN);
    expect(await caddy.ensureRunning()).toBe('started');
    expect(caddy.diff(desired, (await caddy.observe()) as Record<string, Json>)).toBe('none');
    expect((await get(httpPort, 'blog.localhost', '/hello.txt')).body).toBe('hello from the upstream\n');
  });

  it('a Caddy kept down by its last config is started by the next apply with the new config, once validated', async () => {
    await caddy.stop();
    expect(caddy.pid()).toBeNull();
    writeFileSync(caddy.paths.config, '{"apps": {"http": {"servers": {"x": {"listen": [":1"], "routes": [{"handle": [{"handler": "no_such_handler"}]}]}}}}}\n');
    const err = await rejection(caddy.ensureRunning());
    expect(err.code).toBe('CADDY_START_FAILED');
    expect(err.message).toContain('no_such_handler');
    expect(caddy.pid()).toBeNull();
    await caddy.apply(desired);
    expect(caddy.pid()).not.toBeNull();
    expect(caddy.diff(desired, (await caddy.observe()) as Record<string, Json>)).toBe('none');
    expect((await get(httpPort, 'blog.localhost', '/hello.txt')).body).toBe('hello from the upstream\n');
  });

  it('a port taken by another program is a clear error', async () => {
    await caddy.stop();
    expect(caddy.pid()).toBeNull();
    const otherHome = mkdtempSync(join(tmpdir(), 'hop3-caddy-'));
    const other = new CaddyControl({ layout: layoutOf(otherHome), log: createLogger('silent'), exec: createExec(), httpPort: upstreamPort, bin: 'caddy' });
    try {
      const err = await rejection(other.ensureRunning());
      expect(err.code).toBe('HTTP_PORT_IN_USE');
      expect(err.message).toContain(String(upstreamPort));
      expect(other.pid()).toBeNull();
    } finally {
      await other.stop();
      rmSync(otherHome, { recursive: true, force: true });
    }
  });
});
