import { createExec } from '../../src/lib/exec.js';
import { describe, expect, it } from 'vitest';
import { Hop3Error } from '../../src/lib/errors.js';
import { canonicalJson, greaterThanPattern, renderCaddyConfig, type CaddyConfig, type CaddySettings, type Json } from '../../src/plugins/proxies/caddy/config.js';
import { CaddyControl } from '../../src/plugins/proxies/caddy/control.js';
import { layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import type { ProxySite } from '../../src/plugins/types.js';

const settings: CaddySettings = { httpPort: 8080, adminSocket: '/srv/hop3/run/caddy-admin.sock', storageDir: '/srv/hop3/caddy/data' };

const plain = { staticPaths: [], staticMaxAge: 3600, maxBodyBytes: 10 * 1024 * 1024 };
const wsgi: ProxySite = {
  app: 'blog', release: 3, serverNames: ['blog.localhost', 'www.example.com'], target: { protocol: 'http', address: '127.0.0.1', port: 20001 },
  staticPaths: [{ prefix: '/static/', root: '/srv/hop3/apps/blog/releases/v3/src/public/static' }], staticMaxAge: 600, maxBodyBytes: 50 * 1024 * 1024,
};
const site: ProxySite = { app: 'docs', release: 1, serverNames: ['docs.localhost'], target: { protocol: 'file', root: '/srv/hop3/apps/docs/releases/v1/src/public' }, ...plain };
const pausedSite: ProxySite = { app: 'shop', release: 7, serverNames: ['shop.localhost'], target: { protocol: 'paused' }, ...plain, staticPaths: wsgi.staticPaths };

type Obj = { [key: string]: Json };
const obj = (v: Json | undefined): Obj => v as Obj;
const routesOf = (c: CaddyConfig): Obj[] => obj(obj(obj(obj(c.apps).http).servers).hop3).routes as Obj[];
/** A site route's handlers: the body cap, then a subroute of [413, ...[static] paths, the app]. */
function siteParts(route: Obj): { body: Obj; routes: Obj[]; main: Obj[] } {
  const [body, sub] = route.handle as Obj[];
  const routes = sub!.routes as Obj[];
  return { body: body!, routes, main: routes.at(-1)!.handle as Obj[] };
}

function refused(fn: () => unknown): Hop3Error {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Hop3Error);
    expect((err as Hop3Error).code).toBe('UNSAFE_CONFIG_VALUE');
    expect((err as Hop3Error).hint).toBeTruthy();
    return err as Hop3Error;
  }
  throw new Error('rendering was not refused');
}

describe('Caddy config renderer', () => {
  it('renders one config for every site (snapshot)', () => {
    const { config, staticRoots } = renderCaddyConfig([wsgi, site, pausedSite], settings);
    expect(canonicalJson(config)).toMatchSnapshot('caddy.json');
    // A paused app's [static] paths are not served, so not checked either.
    expect(staticRoots).toEqual(['/srv/hop3/apps/blog/releases/v3/src/public/static', '/srv/hop3/apps/docs/releases/v1/src/public']);
  });

  it('renders a config with no site: admin on the unix socket, and 404 for every name (snapshot)', () => {
    const { config } = renderCaddyConfig([], settings);
    expect(canonicalJson(config)).toMatchSnapshot('empty caddy.json');
    expect(obj(config.admin).listen).toBe('unix//srv/hop3/run/caddy-admin.sock');
    expect(routesOf(config)).toEqual([{ handle: [{ handler: 'static_response', status_code: 404 }], terminal: true }]);
  });

  it('is deterministic: the order sites come in does not change the config', () => {
    const a = canonicalJson(renderCaddyConfig([wsgi, site, pausedSite], settings).config);
    const b = canonicalJson(renderCaddyConfig([pausedSite, site, wsgi], settings).config);
    expect(b).toBe(a);
  });

  it('a static site hides hop3 files and dotfiles by path and by file', () => {
    const { body, routes, main } = siteParts(routesOf(renderCaddyConfig([site], settings).config)[0]!);
    expect(body).toEqual({ handler: 'request_body', max_size: 10 * 1024 * 1024 });
    expect(routes[0]).toEqual({
      match: [{ header_regexp: { 'Content-Length': { pattern: greaterThanPattern(10485760) } } }],
      handle: [{ handler: 'static_response', status_code: 413, headers: { Connection: ['close'] } }], terminal: true,
    });
    const sub = main[0]!.routes as Obj[];
    expect(sub[0]!.match).toEqual([{ path: ['/ENV', '/hop3.toml', '/Procfile'] }]);
    expect(sub[1]!.match).toEqual([{ path: ['*/.*'] }]);
    const server = (sub[2]!.handle as Obj[])[0]!;
    expect(server.handler).toBe('file_server');
    expect(server.hide).toEqual(['/srv/hop3/apps/docs/releases/v1/src/public/.*', '/srv/hop3/apps/docs/releases/v1/src/public/ENV', '/srv/hop3/apps/docs/releases/v1/src/public/hop3.toml', '/srv/hop3/apps/docs/releases/v1/src/public/Procfile']);
  });

  it('[static] paths are served before the app, from their directory, with the same protections and a max-age', () => {
    const { body, routes } = siteParts(routesOf(renderCaddyConfig([wsgi], settings).config)[0]!);
    expect(body).toEqual({ handler: 'request_body', max_size: 50 * 1024 * 1024 });
    const [, files, app] = routes;
    expect(files!.match).toEqual([{ path: ['/static/*'] }]);
    const inner = (files!.handle as Obj[])[0]!.routes as Obj[];
    expect(inner[0]!.match).toEqual([{ path: ['/static/ENV', '/static/hop3.toml', '/static/Procfile'] }]);
    expect(inner[1]!.match).toEqual([{ path: ['*/.*'] }]);
    expect((inner[2]!.handle as Obj[]).map((h) => h.handler)).toEqual(['rewrite', 'headers', 'file_server']);
    expect((inner[2]!.handle as Obj[])[0]).toEqual({ handler: 'rewrite', strip_path_prefix: '/static' });
    expect(JSON.stringify((inner[2]!.handle as Obj[])[1])).toContain('max-age=600');
    expect(((app!.handle as Obj[])[0]!).handler).toBe('reverse_proxy');
  });

  it('a paused site answers 503 with Retry-After', () => {
    const { routes, main } = siteParts(routesOf(renderCaddyConfig([pausedSite], settings).config)[0]!);
    // Its [static] paths are not served either.
    expect(routes).toHaveLength(2);
    expect(main).toEqual([{
      handler: 'static_response', status_code: 503, body: 'shop is paused\n',
      headers: { 'Retry-After': ['60'], 'Content-Type': ['text/plain; charset=utf-8'] },
    }]);
  });
});

describe('Caddy config injection', () => {
  // Caddyfile text would let these open or close a block; Caddy's JSON host matcher would
  // expand `{...}` as a placeholder (matching what a request header says).
  const evil = [
    'evil.example\n}\nadmin 0.0.0.0:2019 {',
    'a.example {\n\treverse_proxy 10.0.0.1\n}',
    '{http.request.header.X-Host}',
    'x.example}',
    'x.example\r\nrespond 200',
    'x.example"],"handle":[{"handler":"static_response"}]}',
    '',
  ];
  for (const name of evil) {
    it(`a server name ${JSON.stringify(name)} renders nothing`, () => {
      const err = refused(() => renderCaddyConfig([{ ...wsgi, serverNames: ['blog.localhost', name] }], settings));
      expect(err.message).toContain(JSON.stringify(name));
      expect(err.message).toContain('server name of blog');
    });
  }

  it('a static root or an app name with a brace, a newline or a quote renders nothing', () => {
    for (const root of ['/srv/{env.SECRET}', '/srv/a\nb', '/srv/a"b', 'relative/root', '/srv/a b']) {
      refused(() => renderCaddyConfig([{ ...site, target: { protocol: 'file', root } }], settings));
    }
    for (const app of ['Blog', 'a{b}', 'a\nb', '-x']) refused(() => renderCaddyConfig([{ ...pausedSite, app }], settings));
    refused(() => renderCaddyConfig([{ ...wsgi, serverNames: [] }], settings));
    for (const prefix of ['/static', 'static/', '/a{b}/', '/../', '/.git/', '/a b/', '/a\n/']) {
      refused(() => renderCaddyConfig([{ ...wsgi, staticPaths: [{ prefix, root: '/srv/x' }] }], settings));
    }
    refused(() => renderCaddyConfig([{ ...wsgi, staticPaths: [{ prefix: '/s/', root: '/srv/{x}' }] }], settings));
    refused(() => renderCaddyConfig([{ ...wsgi, maxBodyBytes: 0 }], settings));
    refused(() => renderCaddyConfig([{ ...wsgi, target: { protocol: 'http', address: '127.0.0.1', port: 70000 } }], settings));
    refused(() => renderCaddyConfig([], { ...settings, adminSocket: '/srv/{x}.sock' }));
  });

  it('values are JSON strings: each name is one element of one host matcher, whatever it holds', () => {
    const names = ['blog.localhost', 'www.example.com', '*.example.org'];
    const { config } = renderCaddyConfig([{ ...wsgi, serverNames: names }], settings);
    const text = canonicalJson(config);
    const parsed = JSON.parse(text) as CaddyConfig;
    // The text parses back to exactly what was built: nothing more, nothing less.
    expect(parsed).toEqual(config);
    const routes = routesOf(parsed);
    expect(routes).toHaveLength(2);
    expect(routes[0]!.match).toEqual([{ host: names }]);
    expect(Object.keys(parsed).sort()).toEqual(['admin', 'apps', 'storage']);
  });
});

describe('greaterThanPattern (413 for a Content-Length over the limit)', () => {
  it('matches exactly the numbers greater than the limit', () => {
    for (const n of [0, 1, 9, 10, 99, 100, 512, 1024, 9999, 10485760, 4294967296, 1099]) {
      const re = new RegExp(greaterThanPattern(n));
      const probes = [0, 1, n - 1, n, n + 1, n + 9, n * 10, n * 10 + 1, 10 ** String(n).length, 10 ** String(n).length - 1, 99999999999].filter((x) => x >= 0);
      for (let x = Math.max(0, n - 30); x <= n + 30; x++) probes.push(x);
      for (const x of probes) expect({ n, x, match: re.test(String(x)) }).toEqual({ n, x, match: x > n });
      expect(re.test(`000${n + 1}`)).toBe(true);
      expect(re.test(`000${n}`)).toBe(false);
      for (const bad of ['', ' ', '-5', '1e9', 'abc', `${n + 1} `]) expect(re.test(bad)).toBe(false);
    }
  });
});

describe('CaddyControl.diff', () => {
  const control = new CaddyControl({ layout: layoutOf('/srv/hop3'), log: createLogger('silent'), exec: createExec(), httpPort: 8080, bin: 'caddy' });
  const reorder = (v: Json): Json => {
    if (Array.isArray(v)) return v.map(reorder);
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reorder(x)]));
    return v;
  };

  it('compares in the form Caddy answers in: Go escapes <, > and & in strings', () => {
    expect(canonicalJson({ b: 'a > b && c < d', a: 1 }, 0)).toBe('{"a":1,"b":"a \\u003e b \\u0026\\u0026 c \\u003c d"}');
    expect(JSON.parse(canonicalJson({ s: '<&>' }, 0))).toEqual({ s: '<&>' });
  });

  it('a loaded config equal but for key order is no difference; any change of value is one', () => {
    const desired = control.desired([wsgi, site, pausedSite]);
    expect(control.diff(desired, reorder(desired.config) as CaddyConfig)).toBe('none');
    const changed = structuredClone(desired.config);
    (routesOf(changed)[0]!.match as Obj[])[0]!.host = ['blog.localhost'];
    expect(control.diff(desired, changed)).toBe('update');
    expect(control.diff(desired, reorder(control.desired([wsgi, site]).config) as CaddyConfig)).toBe('update');
  });
});
