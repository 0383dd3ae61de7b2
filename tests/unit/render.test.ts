import { createExec } from '../../src/lib/exec.js';
import { describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../src/config.js';
import { Hop3Error } from '../../src/lib/errors.js';
import { layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { createRenderer } from '../../src/lib/render.js';
import staticDeployer from '../../src/plugins/deployers/static/index.js';
import uwsgiDeployer from '../../src/plugins/deployers/uwsgi/index.js';
import nginxProxy from '../../src/plugins/proxies/nginx/index.js';
import { loadPlugins } from '../../src/plugins/registry.js';
import { desiredApp } from '../../src/reconcile/desired.js';
import { specFromRecord } from '../../src/manifest/stored.js';
import type { PluginContext, ProxySite } from '../../src/plugins/types.js';
import type { AppSpec, ProcessSpec } from '../../src/manifest/types.js';
import type { AppRecord, ReleaseRecord } from '../../src/store/types.js';

const renderer = createRenderer();
const renderTemplate = (name: string, vars: object) => renderer.render(name, vars);

function context(env: Record<string, string> = {}): PluginContext {
  const config: Config = loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_HTTP_PORT: '8080', ...env }, 0);
  return { config, layout: layoutOf(config.home), log: createLogger('silent'), render: renderer, exec: createExec() };
}

function spec(processes: ProcessSpec[], over: Partial<AppSpec> = {}): AppSpec {
  return {
    name: null,
    metadata: {},
    build: { builder: 'auto', before: [] },
    run: { workers: 3, beforeRun: [], maxBodyBytes: 10485760 },
    static: { paths: [], maxAge: 3600 },
    tls: { mode: 'auto', httpsOnly: false, hsts: false },
    processes,
    env: {},
    domains: [],
    healthcheck: { path: '/', timeout: null, expectStatus: 200 },
    addons: [],
    ...over,
  };
}

function release(over: Partial<ReleaseRecord> & Pick<ReleaseRecord, 'spec'>): ReleaseRecord {
  return {
    app: 'blog',
    version: 3,
    source: 'push',
    commit: '0123456789abcdef0123456789abcdef01234567',
    env: { DATABASE_URL: 'postgres://blog@127.0.0.1/blog', SECRET_KEY: 's3cret' },
    artifact: { kind: 'virtualenv', dir: 'apps/blog/releases/v3', metadata: {} },
    ports: {},
    status: 'built',
    message: '',
    createdAt: '2024-01-01T00:00:00.000Z',
    ...over,
  };
}

/** Rendering `fn` is refused by a template filter (a Hop3Error with code UNSAFE_CONFIG_VALUE). */
function refused(fn: () => unknown, format: 'nginx' | 'uWSGI ini'): Error {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`into a ${format} file`);
    expect((err as Error).message).toMatch(/refusing to write /);
    return err as Error;
  }
  throw new Error('expected rendering to be refused');
}

describe('uwsgi deployer', () => {
  const deployer = uwsgiDeployer(context());

  it('accepts virtualenv and command artifacts, not static ones', () => {
    expect(deployer.accept({ kind: 'virtualenv', dir: 'x', metadata: {} })).toBe(true);
    expect(deployer.accept({ kind: 'command', dir: 'x', metadata: {} })).toBe(true);
    expect(deployer.accept({ kind: 'static', dir: 'x', metadata: {} })).toBe(false);
  });

  it("runs a command artifact's processes with its builder's PATH and no virtualenv", () => {
    const r = release({
      spec: spec([{ name: 'web', kind: 'web', command: 'exec npm start' }]), ports: { web: 20003 },
      artifact: { kind: 'command', dir: 'apps/blog/releases/v3', path: ['apps/blog/releases/v3/src/node_modules/.bin'], metadata: {} },
    });
    const { units, info } = deployer.plan(r, { restartCount: 0 });
    expect(info).toEqual({ protocol: 'http', address: '127.0.0.1', port: 20003 });
    const run = JSON.parse(units[0]!.files[0]!.content) as { env: Record<string, string>; cwd: string; command: string };
    expect(run.command).toBe('exec npm start');
    expect(run.cwd).toBe('/srv/hop3/apps/blog/releases/v3/src');
    expect(run.env.PATH).toBe('/srv/hop3/apps/blog/releases/v3/src/node_modules/.bin:/usr/local/bin:/usr/bin:/bin');
    expect(run.env).not.toHaveProperty('VIRTUAL_ENV');
    expect(run.env).not.toHaveProperty('PYTHONUNBUFFERED');
    expect(run.env).toMatchObject({ PORT: '20003', HOP3_APP: 'blog', HOP3_PROCESS: 'web' });
  });

  it('plans one vassal for a wsgi process', () => {
    const r = release({ spec: spec([{ name: 'wsgi', kind: 'wsgi', command: 'blog.wsgi:application' }]), ports: { wsgi: 20001 } });
    const { units, info } = deployer.plan(r, { restartCount: 2 });
    expect(info).toEqual({ protocol: 'http', address: '127.0.0.1', port: 20001 });
    expect(units).toHaveLength(1);
    const u = units[0]!;
    expect(u.name).toBe('blog.v3.wsgi');
    expect(u.process).toBe('wsgi');
    expect(u.config.resource).toBe('vassal:blog.v3.wsgi');
    expect(u.config.path).toBe('/srv/hop3/uwsgi-available/blog.v3.wsgi.ini');
    expect(u.files.map((f) => [f.resource, f.path])).toEqual([['runfile:blog.v3.wsgi', '/srv/hop3/apps/blog/releases/v3/run/wsgi.json']]);
    expect(u.config.content).toMatchSnapshot('wsgi.ini');
    expect(u.files[0]!.content).toMatchSnapshot('wsgi run file');

    const run = JSON.parse(u.files[0]!.content) as { env: Record<string, string>; cwd: string; entry: string };
    expect(run.entry).toBe('blog.wsgi:application');
    expect(run.cwd).toBe('/srv/hop3/apps/blog/releases/v3/src');
    expect(run.env).toMatchObject({
      DATABASE_URL: 'postgres://blog@127.0.0.1/blog',
      SECRET_KEY: 's3cret',
      PORT: '20001',
      HOP3_APP: 'blog',
      HOP3_RELEASE: 'v3',
      HOP3_PROCESS: 'wsgi',
      VIRTUAL_ENV: '/srv/hop3/apps/blog/releases/v3/venv',
    });
    // The environment lives in the run file only.
    expect(u.config.content).not.toContain('s3cret');
    expect(u.config.content).not.toContain('DATABASE_URL');
    expect(u.config.content).toContain('http-socket = 127.0.0.1:20001');
    expect(u.config.content).toContain('processes = 3');
    expect(u.config.content).toContain('; restart 2');
  });

  it('a restart changes the rendered ini (so uWSGI reloads the vassal)', () => {
    const r = release({ spec: spec([{ name: 'wsgi', kind: 'wsgi', command: 'blog.wsgi:application' }]), ports: { wsgi: 20001 } });
    const a = deployer.plan(r, { restartCount: 0 }).units[0]!;
    const b = deployer.plan(r, { restartCount: 1 }).units[0]!;
    expect(a.config.content).not.toBe(b.config.content);
    expect(a.files[0]!.content).toBe(b.files[0]!.content);
  });

  it('plans web and worker vassals; only web gets a port and the proxy target', () => {
    const r = release({
      spec: spec([
        { name: 'web', kind: 'web', command: 'gunicorn blog.wsgi -b 127.0.0.1:$PORT' },
        { name: 'worker', kind: 'worker', command: 'python worker.py --queue default' },
        { name: 'static', kind: 'static', command: 'public' },
        { name: 'cron', kind: 'cron', command: 'python cleanup.py', schedule: '0 * * * *' },
      ]),
      ports: { web: 20002 },
    });
    const { units, info } = deployer.plan(r, { restartCount: 0 });
    expect(info).toEqual({ protocol: 'http', address: '127.0.0.1', port: 20002 });
    expect(units.map((u) => u.name)).toEqual(['blog.v3.web', 'blog.v3.worker']);
    for (const u of units) {
      expect(u.config.content).toMatchSnapshot(`${u.process}.ini`);
      expect(u.files[0]!.content).toMatchSnapshot(`${u.process} run file`);
      expect(u.config.content).not.toContain('s3cret');
      // The command is in the run file, never in the ini.
      expect(u.config.content).not.toContain('python worker.py');
      expect(u.config.content).not.toContain('gunicorn');
      expect(u.config.content).toContain(`attach-daemon2 = cmd=python3 /srv/hop3/lib/hop3_run.py /srv/hop3/apps/blog/releases/v3/run/${u.process}.json,`);
    }
    const [web, worker] = units.map((u) => JSON.parse(u.files[0]!.content) as { env: Record<string, string>; command: string });
    expect(web!.command).toBe('gunicorn blog.wsgi -b 127.0.0.1:$PORT');
    expect(web!.env.PORT).toBe('20002');
    expect(worker!.command).toBe('python worker.py --queue default');
    expect(worker!.env).not.toHaveProperty('PORT');
    expect(worker!.env.SECRET_KEY).toBe('s3cret');
  });

  it('a release with only a worker has no proxy target', () => {
    const r = release({ spec: spec([{ name: 'worker', kind: 'worker', command: 'python worker.py' }]) });
    const { units, info } = deployer.plan(r, { restartCount: 0 });
    expect(info).toBeNull();
    expect(units).toHaveLength(1);
  });

  it.each([
    { name: 'newline', value: 'x\nplugin = evil' },
    { name: ';', value: 'x; rm -rf /' },
    { name: '{', value: '{"a":1}' },
    { name: '%', value: '%(home)' },
    { name: '$(', value: '$(id)' },
  ])('an env value with $name goes only into the JSON run file', ({ value }) => {
    const r = release({
      spec: spec([{ name: 'wsgi', kind: 'wsgi', command: 'blog.wsgi:application' }]),
      env: { EVIL: value, 'OTHER': 'fine' },
      ports: { wsgi: 20001 },
    });
    const u = deployer.plan(r, { restartCount: 0 }).units[0]!;
    expect(u.config.content).not.toContain(value);
    expect(u.config.content).not.toContain('EVIL');
    expect((JSON.parse(u.files[0]!.content) as { env: Record<string, string> }).env.EVIL).toBe(value);
  });

  it('refuses to render an unsafe value into the ini (last line of defence)', () => {
    const r = release({ app: 'blog;x', spec: spec([{ name: 'wsgi', kind: 'wsgi', command: 'blog.wsgi:application' }]), ports: { wsgi: 20001 } });
    refused(() => deployer.plan(r, { restartCount: 0 }), 'uWSGI ini');
  });
});

describe('static deployer', () => {
  const deployer = staticDeployer(context());
  const artifact = { kind: 'static' as const, dir: 'apps/site/releases/v1', metadata: {} };

  it('accepts static artifacts only', () => {
    expect(deployer.accept(artifact)).toBe(true);
    expect(deployer.accept({ ...artifact, kind: 'virtualenv' })).toBe(false);
  });

  it.each([
    { dir: 'public', root: '/srv/hop3/apps/site/releases/v1/src/public' },
    { dir: 'public/', root: '/srv/hop3/apps/site/releases/v1/src/public' },
    { dir: '.', root: '/srv/hop3/apps/site/releases/v1/src' },
    { dir: null, root: '/srv/hop3/apps/site/releases/v1/src' },
  ])('serves $dir from $root, with no process', ({ dir, root }) => {
    const processes: ProcessSpec[] = dir === null ? [] : [{ name: 'static', kind: 'static', command: dir }];
    const r = release({ app: 'site', version: 1, artifact, spec: spec(processes) });
    expect(deployer.plan(r, { restartCount: 0 })).toEqual({ units: [], resources: [], info: { protocol: 'file', root } });
  });
});

describe('nginx proxy', () => {
  const plain = { staticPaths: [], staticMaxAge: 3600, maxBodyBytes: 10485760 };
  const http: ProxySite = { app: 'blog', release: 3, serverNames: ['blog.localhost', 'www.example.com'], target: { protocol: 'http', address: '127.0.0.1', port: 20001 }, ...plain };
  const file: ProxySite = { app: 'site', release: 1, serverNames: ['site.localhost'], target: { protocol: 'file', root: '/srv/hop3/apps/site/releases/v1/src/public' }, ...plain };
  const src = '/srv/hop3/apps/blog/releases/v3/src';
  const withStatic: ProxySite = {
    ...http,
    staticPaths: [{ prefix: '/static/', root: `${src}/public/static` }, { prefix: '/media/uploads/', root: src }],
    staticMaxAge: 86400,
    maxBodyBytes: 52428800,
  };

  it.each([
    { mode: 'embedded', env: {} as Record<string, string>, sitePath: '/srv/hop3/nginx/sites/blog.conf', listen: 'listen 8080;' },
    { mode: 'system', env: { HOP3_NGINX: 'system', HOP3_HTTP_PORT: '' }, sitePath: '/etc/nginx/sites-enabled/hop3-blog.conf', listen: 'listen 80;' },
    // HOP3_HTTP_PORT applies to the system nginx's server blocks too.
    { mode: 'system, own dir', env: { HOP3_NGINX: 'system', HOP3_NGINX_SYSTEM_DIR: '/etc/nginx/conf.d' }, sitePath: '/etc/nginx/conf.d/hop3-blog.conf', listen: 'listen 8080;' },
  ])('$mode mode', ({ env, sitePath, listen }) => {
    const proxy = nginxProxy(context(env));
    expect(proxy.sitePath('blog')).toBe(sitePath);
    const h = proxy.render(http);
    const f = proxy.render(file);
    expect(h).toMatchSnapshot('http target');
    expect(f).toMatchSnapshot('file target');
    for (const text of [h, f]) expect(text).toContain(listen);
    expect(h).toContain('server_name blog.localhost www.example.com;');
    expect(h).toContain('proxy_pass http://127.0.0.1:20001;');
    expect(h).not.toContain('root ');
    expect(f).toContain('root /srv/hop3/apps/site/releases/v1/src/public;');
    expect(f).not.toContain('proxy_pass');
  });

  it('a paused app keeps its names and answers 503, with nothing proxied or served from disk', () => {
    const text = nginxProxy(context()).render({ ...http, target: { protocol: 'paused' } });
    expect(text).toMatchSnapshot();
    expect(text).toContain('server_name blog.localhost www.example.com;');
    expect(text).toContain('return 503 "blog is paused\\n";');
    expect(text).toContain('add_header Retry-After 60 always;');
    expect(text).not.toContain('proxy_pass');
    expect(text).not.toContain('root ');
  });

  it('every site, paused or static too, serves ACME HTTP-01 answers from HOP3_HOME/certs/challenges ahead of its other locations', () => {
    const proxy = nginxProxy(context());
    for (const site of [http, file, { ...http, target: { protocol: 'paused' as const } }]) {
      const text = proxy.render(site);
      // `^~`: a prefix match that stops the regex search, so the static dot-path 404 cannot win.
      expect(text).toContain('location ^~ /.well-known/acme-challenge/ {\n        alias /srv/hop3/certs/challenges/;');
      // The paused 503 is inside `location /`: a server-level return would answer challenges too.
      expect(text).not.toMatch(/^    return /m);
    }
  });

  it('refuses a server name or a root that could add a directive', () => {
    const proxy = nginxProxy(context());
    refused(() => proxy.render({ ...http, serverNames: ['a.com;\n  root /etc'] }), 'nginx');
    refused(() => proxy.render({ ...file, target: { protocol: 'file', root: '/srv/x; autoindex on' } }), 'nginx');
    refused(() => proxy.render({ ...http, staticPaths: [{ prefix: '/s/ { autoindex on; } location /x/', root: src }] }), 'nginx');
    refused(() => proxy.render({ ...http, staticPaths: [{ prefix: '/s/', root: '/srv/x;\n autoindex on' }] }), 'nginx');
  });

  it('limits request bodies to max-body-size on every site, paused ones too', () => {
    const proxy = nginxProxy(context());
    for (const site of [http, file, { ...http, target: { protocol: 'paused' as const } }]) {
      expect(proxy.render(site)).toContain('client_max_body_size 10485760;');
    }
    expect(proxy.render(withStatic)).toContain('client_max_body_size 52428800;');
  });

  it('passes a WebSocket upgrade through, and keeps an empty Connection for other requests', () => {
    const text = nginxProxy(context()).render(http);
    expect(text).toContain('proxy_set_header Upgrade $http_upgrade;');
    expect(text).toContain('proxy_set_header Connection $hop3_connection;');
    expect(text).toMatch(/set \$hop3_connection "";\n\s+if \(\$http_upgrade\) \{\n\s+set \$hop3_connection upgrade;\n\s+\}/);
    expect(text).not.toContain('Connection ""');
  });

  it('serves [static] paths from the release with cache headers and the static site protections', () => {
    const proxy = nginxProxy(context());
    const text = proxy.render(withStatic);
    expect(text).toMatchSnapshot();
    const block = text.slice(text.indexOf('location ^~ /static/ {'));
    expect(block).toContain(`alias ${src}/public/static/;`);
    expect(block).toContain('disable_symlinks if_not_owner from=$document_root;');
    expect(block).toContain('expires 86400s;');
    expect(block).toContain('location ~ ^/static/(ENV|hop3\\.toml|Procfile)$ {');
    expect(block).toContain('location ~ /\\. {');
    expect(text).toContain(`location ^~ /media/uploads/ {\n        alias ${src}/;`);
    // A static site gets them too; a paused app serves none of its files.
    expect(proxy.render({ ...withStatic, target: file.target })).toContain('location ^~ /static/ {');
    // (The ACME challenge location, into HOP3_HOME/certs/challenges, is the one prefix a paused app keeps.)
    const paused = proxy.render({ ...http, target: { protocol: 'paused' } });
    expect([...paused.matchAll(/location \^~ (\S+)/g)].map((m) => m[1])).toEqual(['/.well-known/acme-challenge/']);
  });
});

describe('nginx proxy, TLS server blocks', () => {
  const bundle = '/srv/hop3/certs/blog/bundle.pem';
  const tls = { certFile: bundle, keyFile: bundle, httpsOnly: false, hsts: false };
  const base: ProxySite = {
    app: 'blog', release: 3, serverNames: ['blog.localhost', 'www.example.com'], target: { protocol: 'http', address: '127.0.0.1', port: 20001 },
    staticPaths: [], staticMaxAge: 3600, maxBodyBytes: 10485760, tls,
  };
  const proxy = nginxProxy(context({ HOP3_HTTPS_PORT: '8443' }));
  /** The server blocks of a rendered site, split at their `server {` lines. */
  const blocks = (text: string) => text.split(/^server \{$/m).slice(1);

  it('serves the names over HTTPS on HOP3_HTTPS_PORT with the stored bundle, and over HTTP as before', () => {
    const text = proxy.render(base);
    expect(text).toMatchSnapshot();
    const [http, https] = blocks(text);
    expect(http).toContain('listen 8080;');
    expect(http).toContain('proxy_pass http://127.0.0.1:20001;');
    expect(https).toContain('listen 8443 ssl;');
    expect(https).toContain('server_name blog.localhost www.example.com;');
    expect(https).toContain(`ssl_certificate ${bundle};\n    ssl_certificate_key ${bundle};`);
    expect(https).toContain('proxy_pass http://127.0.0.1:20001;');
    expect(text).not.toContain('Strict-Transport-Security');
    expect(text).not.toContain('return 308');
    // Without TLS, one block only.
    expect(blocks(proxy.render({ ...base, tls: null }))).toHaveLength(1);
  });

  it('https-only: HTTP answers a 308 to the same host and path on the HTTPS port, except ACME challenges', () => {
    const text = proxy.render({ ...base, tls: { ...tls, httpsOnly: true } });
    expect(text).toMatchSnapshot();
    const [http, https] = blocks(text);
    expect(http).toContain('location / {\n        return 308 https://$host:8443$request_uri;');
    expect(http).toContain('location ^~ /.well-known/acme-challenge/ {');
    expect(http).not.toContain('proxy_pass');
    expect(https).toContain('proxy_pass http://127.0.0.1:20001;');
    // On the standard port the URL carries none.
    expect(nginxProxy(context({ HOP3_HTTPS_PORT: '443' })).render({ ...base, tls: { ...tls, httpsOnly: true } })).toContain('return 308 https://$host$request_uri;');
  });

  it('hsts: Strict-Transport-Security on HTTPS answers only, the paused 503 included', () => {
    for (const target of [base.target, { protocol: 'paused' as const }, { protocol: 'file' as const, root: '/srv/hop3/apps/blog/releases/v3/src' }]) {
      const text = proxy.render({ ...base, target, tls: { ...tls, hsts: true } });
      const [http, https] = blocks(text);
      expect(http).not.toContain('Strict-Transport-Security');
      expect(https).toContain('add_header Strict-Transport-Security "max-age=31536000" always;');
      // A location with an add_header of its own inherits none from the server: it repeats it.
      if (target.protocol === 'paused') expect(https!.slice(https!.indexOf('location / {'))).toContain('Strict-Transport-Security');
    }
    expect(proxy.render({ ...base, tls: { ...tls, hsts: true, httpsOnly: true } })).toMatchSnapshot();
  });

  it('refuses a server name or a certificate path that could add a directive to either block', () => {
    refused(() => proxy.render({ ...base, serverNames: ['a.com;\n  ssl_certificate /etc/shadow'] }), 'nginx');
    refused(() => proxy.render({ ...base, serverNames: ['a.com}', 'b.com'] }), 'nginx');
    refused(() => proxy.render({ ...base, serverNames: ['a.com {'] }), 'nginx');
    refused(() => proxy.render({ ...base, tls: { ...tls, certFile: '/srv/x.pem;\n  autoindex on' } }), 'nginx');
    refused(() => proxy.render({ ...base, tls: { ...tls, keyFile: '/srv/x.pem; }' } }), 'nginx');
    refused(() => proxy.render({ ...base, tls: { ...tls, httpsOnly: true }, serverNames: ['a.com\nreturn 200'] }), 'nginx');
  });
});

describe('desiredApp: [tls] gives the app one certificate and HTTPS on its site', () => {
  const record: AppRecord = {
    name: 'blog', generation: 1, observedGeneration: 1, desiredState: 'running', desiredRelease: 3, currentRelease: 3, restartCount: 0,
    healPolicy: 'heal', deployBranch: null, owner: 'admin', lifecycle: null, sync: 'Synced', health: 'Healthy', message: '',
    createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z',
  };
  const r = (tls: AppSpec['tls'], domains: string[] = []) => release({
    spec: spec([{ name: 'wsgi', kind: 'wsgi', command: 'blog.wsgi:application' }], { tls, domains }), ports: { wsgi: 20001 },
  });
  const acmeEnv: Record<string, string> = { HOP3_ACME_DIRECTORY: 'https://ca.example.org/dir', HOP3_ACME_EMAIL: 'ops@example.org' };
  const desired = (tls: AppSpec['tls'], env: Record<string, string> = {}, domains: string[] = [], state: AppRecord['desiredState'] = 'running') => {
    const ctx = context(env);
    return desiredApp({ ...record, desiredState: state }, r(tls, domains), loadPlugins(ctx), ctx.config, []);
  };
  const certs = (d: ReturnType<typeof desiredApp>) => d.resources.filter((x) => x.kind === 'cert');
  const siteText = (d: ReturnType<typeof desiredApp>) => (d.resources.find((x) => x.kind === 'site')!.spec as { content: string }).content;
  const on = { mode: 'auto' as const, httpsOnly: false, hsts: false };

  it.each([
    { what: 'auto, no CA configured', tls: on, env: {} as Record<string, string>, domains: ['blog.example.org'], mode: 'self-signed' },
    { what: 'auto, CA configured, a local name among them', tls: on, env: acmeEnv, domains: ['blog.example.org'], mode: 'self-signed' },
    { what: 'auto, CA configured, every name public', tls: on, env: { ...acmeEnv, HOP3_DOMAIN: 'apps.example.org' }, domains: ['blog.example.org'], mode: 'acme' },
    { what: 'acme asked for, local names', tls: { ...on, mode: 'acme' as const }, env: {}, domains: [], mode: 'acme' },
    { what: 'self-signed asked for, CA configured', tls: { ...on, mode: 'self-signed' as const }, env: { ...acmeEnv, HOP3_DOMAIN: 'apps.example.org' }, domains: [], mode: 'self-signed' },
  ])('$what → $mode', ({ tls, env, domains, mode }) => {
    const d = desired(tls, env, domains);
    expect(certs(d)).toHaveLength(1);
    expect(certs(d)[0]).toMatchObject({ kind: 'cert', name: 'blog', spec: { name: 'blog', mode } });
    expect((certs(d)[0]!.spec as { names: string[] }).names).toEqual([...new Set([`blog.${(env as Record<string, string>).HOP3_DOMAIN ?? 'localhost'}`, ...domains])].sort());
    expect(siteText(d)).toContain('ssl_certificate /srv/hop3/certs/blog/bundle.pem;');
  });

  it('mode off: no certificate, HTTP only', () => {
    const d = desired({ mode: 'off', httpsOnly: false, hsts: false });
    expect(certs(d)).toEqual([]);
    expect(siteText(d)).not.toContain('ssl');
  });

  it('a failed first release keeps the certificate it got (no new CA order at the next try)', () => {
    const ctx = context();
    const failed = { ...r(on), status: 'failed' as const };
    const d = desiredApp({ ...record, currentRelease: null }, null, loadPlugins(ctx), ctx.config, [failed]);
    expect(certs(d).map((x) => x.name)).toEqual(['blog']);
  });

  it('a stopped app keeps its certificate (no new CA order at the next start); a paused one serves HTTPS too', () => {
    expect(certs(desired(on, {}, [], 'stopped')).map((x) => x.name)).toEqual(['blog']);
    const paused = siteText(desired({ ...on, httpsOnly: true }, {}, [], 'paused'));
    expect(paused).toContain('return 308');
    expect(paused).toContain('return 503');
  });
});

describe('desiredApp: the site carries the release\'s [static] paths and body limit', () => {
  const ctx = context();
  const plugins = loadPlugins(ctx);
  const record = (desiredState: AppRecord['desiredState']): AppRecord => ({
    name: 'blog', generation: 1, observedGeneration: 1, desiredState, desiredRelease: 3, currentRelease: 3, restartCount: 0,
    healPolicy: 'heal', deployBranch: null, owner: 'admin', lifecycle: null, sync: 'Synced', health: 'Healthy', message: '',
    createdAt: '2024-01-01T00:00:00.000Z', updatedAt: '2024-01-01T00:00:00.000Z',
  });
  const r = release({
    spec: spec([{ name: 'wsgi', kind: 'wsgi', command: 'blog.wsgi:application' }], {
      run: { workers: 2, beforeRun: [], maxBodyBytes: 2048 },
      static: { paths: [{ prefix: '/static/', dir: 'public/static' }, { prefix: '/root/', dir: '.' }], maxAge: 120 },
    }),
    ports: { wsgi: 20001 },
  });

  const siteOf = (d: ReturnType<typeof desiredApp>) => (d.resources.find((x) => x.kind === 'site')!.spec as { content: string }).content;

  it('maps each prefix to a directory of the release source', () => {
    const site = siteOf(desiredApp(record('running'), r, plugins, ctx.config, []));
    expect(site).toContain('location ^~ /static/ {\n        alias /srv/hop3/apps/blog/releases/v3/src/public/static/;');
    expect(site).toContain('location ^~ /root/ {\n        alias /srv/hop3/apps/blog/releases/v3/src/;');
    expect(site).toContain('expires 120s;');
    expect(site).toContain('client_max_body_size 2048;');
  });

  it('a paused app serves none of its files', () => {
    const site = siteOf(desiredApp(record('paused'), r, plugins, ctx.config, []));
    expect(site).toContain('return 503');
    // The ACME challenge location is an alias too, into HOP3_HOME/certs/challenges, not the release.
    expect(site).not.toMatch(/alias \/srv\/hop3\/apps\//);
  });

  it('a release recorded before these keys existed renders as one that does not set them', () => {
    const { static: _s, tls: _t, ...old } = r.spec;
    const stored = specFromRecord(JSON.parse(JSON.stringify({ ...old, run: { workers: 2, beforeRun: [] } })));
    expect(stored.static).toEqual({ paths: [], maxAge: 3600 });
    expect(stored.tls).toEqual({ mode: 'auto', httpsOnly: false, hsts: false });
    const site = siteOf(desiredApp(record('running'), { ...r, spec: stored }, plugins, ctx.config, []));
    expect(site).toContain('client_max_body_size 10485760;');
    // The ACME challenge location is an alias too, into HOP3_HOME/certs/challenges, not the release.
    expect(site).not.toMatch(/alias \/srv\/hop3\/apps\//);
  });
});

describe('nginx main.conf', () => {
  it.each([
    { name: 'as root, with a user', user: 'www-data' },
    { name: 'without a user', user: null },
  ])('renders $name', ({ user }) => {
    const text = renderTemplate('nginx/main.conf.njk', { home: '/srv/hop3', user, mimeTypes: '/etc/nginx/mime.types', httpPort: 8080, httpsPort: 8443, challengeDir: '/srv/hop3/certs/challenges' });
    expect(text).toMatchSnapshot();
    // A name no site serves gets no certificate over HTTPS (no other app's is shown).
    expect(text).toContain('listen 8443 ssl default_server;\n        ssl_reject_handshake on;');
    expect(text).toContain('include /srv/hop3/nginx/sites/*.conf;');
    expect(text).toContain('listen 8080 default_server;');
    expect(text).toContain('location ^~ /.well-known/acme-challenge/ {\n            alias /srv/hop3/certs/challenges/;');
    if (user) expect(text).toContain(`user ${user};`);
    else expect(text).not.toMatch(/^user /m);
  });

  it('refuses an unsafe home', () => {
    refused(() => renderTemplate('nginx/main.conf.njk', { home: '/srv/x;\ninclude /etc/passwd', user: null, mimeTypes: '/etc/nginx/mime.types', httpPort: 80, httpsPort: 443, challengeDir: '/srv/x/certs/challenges' }), 'nginx');
  });
});

describe('template filters refuse, never escape', () => {
  const UNSAFE = [
    { name: 'newline', bad: 'a.com\nroot /etc' },
    { name: ';', bad: 'a.com;' },
    { name: '{', bad: 'a.com{' },
    { name: '}', bad: 'a.com}' },
    { name: 'space', bad: 'a.com b.com' },
    { name: '$(', bad: '$(id)' },
    { name: '%', bad: '%(home)s' },
    { name: 'quote', bad: 'a"b' },
    { name: 'tab', bad: 'a\tb' },
  ];

  const siteVars = (serverNames: string[]) => ({ app: 'a', release: 1, listenPort: 80, serverNames, staticRoot: null, upstreamPort: 20000, challengeDir: '/srv/hop3/certs/challenges', staticPaths: [], staticMaxAge: 3600, maxBodyBytes: 10485760 });

  it('refuses to write a value the caller left out (no "undefined" path in a config)', () => {
    const { challengeDir: _left, ...vars } = siteVars(['a.com']);
    refused(() => renderTemplate('nginx/site.conf.njk', vars), 'nginx');
  });

  it('the nginx site template renders a safe name', () => {
    expect(renderTemplate('nginx/site.conf.njk', siteVars(['a.com', '*.a.com']))).toContain('server_name a.com *.a.com;');
  });

  it.each(UNSAFE)('nginx filter refuses $name', ({ bad }) => {
    const e = refused(() => renderTemplate('nginx/site.conf.njk', siteVars([bad])), 'nginx');
    expect(e.message).toContain(JSON.stringify(bad));
  });

  it('nginx filter refuses the classic injection', () => {
    refused(() => renderTemplate('nginx/site.conf.njk', siteVars(['a.com;\n  root /etc'])), 'nginx');
  });

  const iniVars = (over: Record<string, unknown>) => ({
    app: 'a', release: 1, process: 'worker', runFile: '/srv/hop3/r.json', restartCount: 0, libDir: '/srv/hop3/lib', python: 'python3',
    pidfile: '/srv/hop3/run/a.pid', logfile: '/srv/hop3/log/a.log', logMaxBytes: 1048576, ...over,
  });

  it('the ini template renders safe values', () => {
    expect(renderTemplate('uwsgi/command.ini.njk', iniVars({}))).toContain('pidfile = /srv/hop3/run/a.pid');
  });

  it.each(UNSAFE.flatMap((u) => ['app', 'process', 'runFile', 'python', 'logfile'].map((key) => ({ ...u, key }))))(
    'ini filter refuses $name in $key',
    ({ bad, key }) => {
      refused(() => renderTemplate('uwsgi/command.ini.njk', iniVars({ [key]: bad })), 'uWSGI ini');
    },
  );

  it('ini filter refuses a comma in the attach-daemon2 arguments', () => {
    refused(() => renderTemplate('uwsgi/command.ini.njk', iniVars({ runFile: '/x.json,stopsignal=9' })), 'uWSGI ini');
  });

  it('a refusal surfaces as a Hop3Error with code UNSAFE_CONFIG_VALUE', () => {
    let caught: unknown;
    try {
      renderTemplate('nginx/site.conf.njk', siteVars(['a.com;\n  root /etc']));
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(Hop3Error);
    expect((caught as Hop3Error).code).toBe('UNSAFE_CONFIG_VALUE');
  });

  it('an undefined variable is an error, not an empty string', () => {
    expect(() => renderTemplate('uwsgi/command.ini.njk', { app: 'a' })).toThrow();
  });
});

describe('the renderer', () => {
  it('reads its templates once, when it is created: rendering afterwards touches no file', async () => {
    const { mkdtempSync, mkdirSync, writeFileSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'hop3-templates-'));
    mkdirSync(join(dir, 'x'));
    writeFileSync(join(dir, 'x', 'a.njk'), 'name = {{ name | ini }}\n');
    const r = createRenderer(dir);
    rmSync(dir, { recursive: true, force: true });
    expect(r.render('x/a.njk', { name: 'blog' })).toBe('name = blog\n');
    expect(() => r.render('x/missing.njk', {})).toThrow(/no template x\/missing.njk/);
  });
});
