import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, Daemon, output, PROXIES } from './harness.js';
import { send, SERVER, websocketEcho } from './http-app.js';

const TOML = `[build]
builder = "python"

[run]
max-body-size = "512k"

[static]
paths = { "/static" = "public/static", "/all" = "." }
max-age = 600
`;

const APP_FILES = {
  Procfile: 'web: exec python3 server.py\n',
  'server.py': SERVER,
  'public/static/app.css': 'body { color: teal }\n',
  'public/static/.secret': 'not for the web\n',
  'public/static/sub/page.txt': 'nested\n',
  ENV: 'SECRET_TOKEN=s3cret\n',
};


describe.each(PROXIES)('what piku users rely on, through real %s and uWSGI', (proxy) => {
  const d = new Daemon({}, { proxy });
  const dirs: string[] = [];
  const host = 'feat.localhost';
  const deploy = async (app: string, files: Record<string, string>) => {
    const dir = appDir(files);
    dirs.push(dir);
    return d.hop3(['deploy', dir, '--app', app]);
  };

  beforeAll(async () => {
    await d.start();
    const r = await deploy('feat', { 'hop3.toml': TOML, ...APP_FILES });
    expect(r.exitCode, output(r)).toBe(0);
  });
  afterAll(async () => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    await d.cleanup();
  });

  it('[static] paths are served by the proxy from the release, with cache headers', async () => {
    const css = await send(d.httpPort, host, 'GET', '/static/app.css');
    expect(css.status).toBe(200);
    expect(css.body).toBe('body { color: teal }\n');
    expect(css.headers['cache-control']).toBe('max-age=600');
    // nginx's `expires` also sends Expires; Caddy sends Cache-Control only, which HTTP/1.1 caches prefer.
    if (proxy === 'nginx') expect(Date.parse(String(css.headers.expires)) - Date.now()).toBeGreaterThan(500_000);
    expect((await send(d.httpPort, host, 'GET', '/static/sub/page.txt')).body).toBe('nested\n');
    // The prefix without its slash, and everything else, still goes to the app.
    expect((await send(d.httpPort, host, 'GET', '/static')).body).toBe('app /static');
    const other = await send(d.httpPort, host, 'GET', '/other');
    expect(other.body).toBe('app /other');
    expect(other.headers['cache-control']).toBeUndefined();
  });

  it('a static path answers 404 for dotfiles and hop3\'s own files, even mapped to the app root', async () => {
    expect((await send(d.httpPort, host, 'GET', '/static/.secret')).status).toBe(404);
    for (const path of ['/all/hop3.toml', '/all/Procfile', '/all/ENV', '/all/public/static/.secret']) {
      const res = await send(d.httpPort, host, 'GET', path);
      expect(res.status, path).toBe(404);
      expect(res.body, path).not.toContain('max-body-size');
    }
    expect((await send(d.httpPort, host, 'GET', '/all/public/static/app.css')).body).toBe('body { color: teal }\n');
  });

  it('a body over max-body-size gets 413 from the proxy; a smaller one reaches the app', async () => {
    // Below nginx's own 1m default, so only the app's setting can refuse it.
    const big = await send(d.httpPort, host, 'POST', '/upload', randomBytes(700 * 1024));
    // Caddy may close while the client still sends (see below): the 413 can be lost to the reset.
    expect(proxy === 'caddy' ? [0, 413] : [413]).toContain(big.status);
    expect(big.body).not.toContain('received');
    const small = await send(d.httpPort, host, 'POST', '/upload', randomBytes(500 * 1024));
    expect(small.status).toBe(200);
    expect(small.body).toBe(`received ${500 * 1024}`);
  });

  it('without max-body-size an app takes bodies up to 10m (nginx alone would refuse over 1m)', async () => {
    const r = await deploy('plain', { 'hop3.toml': '[build]\nbuilder = "python"\n', ...APP_FILES });
    expect(r.exitCode, output(r)).toBe(0);
    const ok = await send(d.httpPort, 'plain.localhost', 'POST', '/upload', randomBytes(3 * 1024 * 1024));
    expect(ok.status).toBe(200);
    expect(ok.body).toBe(`received ${3 * 1024 * 1024}`);
    const tooBig = await send(d.httpPort, 'plain.localhost', 'POST', '/upload', randomBytes(11 * 1024 * 1024));
    // Caddy answers 413 too, but closes while the client still sends, so the answer may be lost to
    // the reset; either way the app never gets the body.
    expect(proxy === 'caddy' ? [0, 413] : [413]).toContain(tooBig.status);
    expect(tooBig.body).not.toContain('received');
  });

  it('a WebSocket upgrade is passed through: the handshake completes and a frame is echoed', async () => {
    const ws = await websocketEcho(d.httpPort, host, `hello through ${proxy}`);
    expect(ws.status).toBe(101);
    expect(ws.accept).toBe(ws.expected);
    expect(ws.echo).toBe(`hello through ${proxy}`);
    // An ordinary request still goes out with an empty Connection and no Upgrade, as before.
    expect((await send(d.httpPort, host, 'GET', '/headers')).body).toBe('connection= upgrade=');
  });

  it('refuses a static directory out of the app at validate time, naming it, and changes nothing', async () => {
    const sites = d.sitesDir;
    const before = readdirSync(sites).map((f) => readFileSync(join(sites, f), 'utf8'));

    const dotdot = await deploy('feat', { 'hop3.toml': TOML.replace('"public/static"', '"../../etc"'), ...APP_FILES });
    expect(dotdot.exitCode).toBe(1);
    expect(output(dotdot)).toContain('static.paths./static: "../../etc" is not a valid relative directory');

    const dir = appDir({ 'hop3.toml': TOML.replace('"public/static"', '"assets"'), ...APP_FILES });
    dirs.push(dir);
    symlinkSync('/etc', join(dir, 'assets'));
    const validate = await d.hop3(['validate', dir]);
    expect(validate.exitCode).toBe(1);
    expect(output(validate)).toContain('[static] paths "/static" -> assets resolves outside the app: /etc');
    const link = await d.hop3(['deploy', dir, '--app', 'feat']);
    expect(link.exitCode).toBe(1);
    expect(output(link)).toContain('assets');

    expect(readdirSync(sites).map((f) => readFileSync(join(sites, f), 'utf8'))).toEqual(before);
    expect((await send(d.httpPort, host, 'GET', '/static/app.css')).status).toBe(200);
    const releases = await d.json<Array<{ version: string }>>(['releases', 'feat']);
    expect(releases).toHaveLength(1);
  });
});
