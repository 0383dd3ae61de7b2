import { describe, expect, it } from 'vitest';
import { Hop3Error } from '../../src/lib/errors.js';
import {
  assembleCaddyConfig, canonicalJson, certTag, renderCaddyConfig, renderSiteRoute, tlsOfRoute,
  type CaddyConfig, type CaddySettings, type CertDigest, type Json,
} from '../../src/plugins/proxies/caddy/config.js';
import type { ProxySite } from '../../src/plugins/types.js';

const settings: CaddySettings = {
  httpPort: 8080, httpsPort: 8443, adminSocket: '/srv/hop3/run/caddy-admin.sock', storageDir: '/srv/hop3/caddy/data', challengeDir: '/srv/hop3/certs/challenges',
};
const bundle = (app: string) => `/srv/hop3/certs/${app}/bundle.pem`;
const tls = (app: string, over: Partial<NonNullable<ProxySite['tls']>> = {}) => ({ certFile: bundle(app), keyFile: bundle(app), httpsOnly: false, hsts: false, ...over });
const plain = { staticPaths: [], staticMaxAge: 3600, maxBodyBytes: 1024 };
const shop: ProxySite = {
  app: 'shop', release: 2, serverNames: ['shop.hop3.test', 'www.shop.example'], target: { protocol: 'http', address: '127.0.0.1', port: 20001 }, ...plain,
  tls: tls('shop', { httpsOnly: true, hsts: true }),
};
const docs: ProxySite = { app: 'docs', release: 1, serverNames: ['docs.hop3.test'], target: { protocol: 'file', root: '/srv/hop3/apps/docs/releases/v1/src/public' }, ...plain, tls: tls('docs') };
const blog: ProxySite = { app: 'blog', release: 3, serverNames: ['blog.hop3.test'], target: { protocol: 'paused' }, ...plain, tls: null };

/** Each file's "content" is its name with a version: what a renewal changes. */
const digests = (files: Record<string, string | null>): CertDigest => (file) => (file in files ? files[file]! : 'd0');

type Obj = { [key: string]: Json };
const obj = (v: Json | undefined): Obj => v as Obj;
const serverOf = (c: CaddyConfig): Obj => obj(obj(obj(obj(c.apps).http).servers).hop3);
const routesOf = (c: CaddyConfig): Obj[] => serverOf(c).routes as Obj[];
const loadFiles = (c: CaddyConfig): Obj[] => obj(obj(obj(c.apps).tls).certificates).load_files as Obj[];
const policies = (c: CaddyConfig): Obj[] => serverOf(c).tls_connection_policies as Obj[];
/** The routes inside a site's subroute: [https-only 308?, https branch, 413, ..., the app]. */
const siteRoutes = (route: Obj): Obj[] => (route.handle as Obj[])[1]!.routes as Obj[];

function refused(fn: () => unknown): Hop3Error {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(Hop3Error);
    expect((err as Hop3Error).code).toBe('UNSAFE_CONFIG_VALUE');
    return err as Hop3Error;
  }
  throw new Error('rendering was not refused');
}

describe('Caddy TLS config', () => {
  it('renders HTTPS sites beside an HTTP-only one (snapshot)', () => {
    const { config } = renderCaddyConfig([shop, docs, blog], settings, digests({}));
    expect(canonicalJson(config)).toMatchSnapshot('caddy.json with TLS');
  });

  it('listens on the HTTPS port only when some site has TLS, with TLS on every listener but http_port', () => {
    const none = renderCaddyConfig([blog], settings).config;
    expect(serverOf(none).listen).toEqual([':8080']);
    expect(serverOf(none).tls_connection_policies).toBeUndefined();
    expect(obj(none.apps).tls).toBeUndefined();
    const some = renderCaddyConfig([blog, docs], settings).config;
    expect(serverOf(some).listen).toEqual([':8080', ':8443']);
    expect(obj(obj(some.apps).http)).toMatchObject({ http_port: 8080, https_port: 8443 });
    expect(serverOf(some).automatic_https).toEqual({ disable: true });
    expect(serverOf(some).protocols).toEqual(['h1', 'h2']);
  });

  it('loads each app\'s bundle as certificate and key, chosen by SNI through a tag naming its content', () => {
    const { config } = renderCaddyConfig([shop, docs, blog], settings, digests({ [bundle('shop')]: 'aa11', [bundle('docs')]: 'bb22' }));
    expect(loadFiles(config)).toEqual([
      { '@id': 'hop3-cert-docs', certificate: bundle('docs'), key: bundle('docs'), tags: [certTag('docs', 'bb22')] },
      { '@id': 'hop3-cert-shop', certificate: bundle('shop'), key: bundle('shop'), tags: [certTag('shop', 'aa11')] },
    ]);
    expect(policies(config)).toEqual([
      { '@id': 'hop3-tls-docs', match: { sni: ['docs.hop3.test'] }, certificate_selection: { any_tag: [certTag('docs', 'bb22')] } },
      { '@id': 'hop3-tls-shop', match: { sni: ['shop.hop3.test', 'www.shop.example'] }, certificate_selection: { any_tag: [certTag('shop', 'aa11')] } },
    ]);
    // No policy without an SNI match: a name no app serves has no TLS configuration at all, so
    // Caddy refuses the handshake instead of answering with some app's certificate.
    for (const p of policies(config)) expect(obj(p.match).sni).not.toEqual([]);
  });

  it('a renewed file at the same path changes the config (Caddy skips a load of an unchanged one)', () => {
    const before = canonicalJson(renderCaddyConfig([shop, docs], settings, digests({ [bundle('shop')]: 'aa11' })).config);
    const after = canonicalJson(renderCaddyConfig([shop, docs], settings, digests({ [bundle('shop')]: 'cc33' })).config);
    expect(after).not.toBe(before);
    expect(after.replaceAll('cc33', 'aa11')).toBe(before);
  });

  it('a missing certificate file is not loaded (Caddy would refuse the whole config); only its app loses HTTPS', () => {
    const { config } = renderCaddyConfig([shop, docs], settings, digests({ [bundle('shop')]: null }));
    expect(loadFiles(config).map((c) => c['@id'])).toEqual(['hop3-cert-docs']);
    expect(policies(config).find((p) => p['@id'] === 'hop3-tls-shop')?.certificate_selection).toEqual({ any_tag: [certTag('shop', 'missing')] });
  });

  it('https-only answers HTTP with 308 to the same host and URI on the HTTPS port; ACME challenges come first, for every name', () => {
    const routes = routesOf(renderCaddyConfig([shop, docs], settings).config);
    const challenge = routes[0]!;
    expect(challenge.match).toEqual([{ path: ['/.well-known/acme-challenge/*'] }]);
    const [strip, sub] = challenge.handle as Obj[];
    expect(strip).toEqual({ handler: 'rewrite', strip_path_prefix: '/.well-known/acme-challenge' });
    const inner = sub!.routes as Obj[];
    expect(inner[0]).toEqual({ match: [{ path: ['*/.*'] }], handle: [{ handler: 'static_response', status_code: 404 }], terminal: true });
    expect((inner[1]!.handle as Obj[]).at(-1)).toEqual({ handler: 'file_server', root: '/srv/hop3/certs/challenges', hide: ['/srv/hop3/certs/challenges/.*'] });
    const shopRoute = routes.find((r) => r['@id'] === 'hop3-site-shop')!;
    expect(siteRoutes(shopRoute)[0]).toEqual({
      match: [{ protocol: 'http' }],
      handle: [{ handler: 'static_response', status_code: 308, headers: { Location: ['https://{http.request.host}:8443{http.request.uri}'] } }],
      terminal: true,
    });
    // On 443 the URL names no port.
    const on443 = obj(renderSiteRoute(shop, 443));
    expect(JSON.stringify(siteRoutes(on443)[0])).toContain('"https://{http.request.host}{http.request.uri}"');
    // Without https-only, HTTP is served as before.
    expect(JSON.stringify(siteRoutes(obj(renderSiteRoute(docs, 8443))))).not.toContain('"status_code":308');
  });

  it('HSTS is set on HTTPS answers only, before any handler answers', () => {
    const [, https] = siteRoutes(obj(renderSiteRoute(shop, 8443)));
    expect(https!.match).toEqual([{ protocol: 'https' }]);
    expect(https!.terminal).toBeUndefined();
    expect((https!.handle as Obj[])[1]).toEqual({ handler: 'headers', response: { set: { 'Strict-Transport-Security': ['max-age=31536000'] } } });
    const routeText = JSON.stringify(renderSiteRoute(shop, 8443));
    expect(routeText.match(/Strict-Transport-Security/g)).toHaveLength(1);
    expect(JSON.stringify(renderSiteRoute(docs, 8443))).not.toContain('Strict-Transport-Security');
  });

  it('a site route says what its HTTPS side is, so the assembled config follows from the routes alone', () => {
    expect(tlsOfRoute(renderSiteRoute(shop, 8443))).toEqual({ app: 'shop', hosts: shop.serverNames, certFile: bundle('shop'), keyFile: bundle('shop') });
    expect(tlsOfRoute(renderSiteRoute(blog, 8443))).toBeNull();
    const routes = [blog, docs, shop].map((s) => renderSiteRoute(s, 8443));
    expect(assembleCaddyConfig(routes, settings)).toEqual(renderCaddyConfig([shop, docs, blog], settings).config);
  });
});

describe('Caddy TLS config injection', () => {
  it('a certificate or key path with a brace, a newline, a quote or no root renders nothing', () => {
    for (const file of ['/srv/{env.SECRET}', '/srv/a\nb', '/srv/a"b', 'relative.pem', '/srv/a b']) {
      expect(refused(() => renderSiteRoute({ ...docs, tls: tls('docs', { certFile: file }) }, 8443)).message).toContain('certificate file of docs');
      expect(refused(() => renderSiteRoute({ ...docs, tls: tls('docs', { keyFile: file }) }, 8443)).message).toContain('key file of docs');
    }
  });

  it('an HTTPS port that is missing, out of range or the HTTP port renders nothing', () => {
    refused(() => renderSiteRoute(docs));
    refused(() => renderSiteRoute(docs, 70000));
    const routes = [renderSiteRoute(docs, 8443)];
    refused(() => assembleCaddyConfig(routes, { ...settings, httpsPort: 8080 }));
    refused(() => assembleCaddyConfig(routes, { ...settings, httpsPort: undefined }));
    refused(() => assembleCaddyConfig([], { ...settings, challengeDir: '/srv/{x}' }));
  });
});

describe('Caddy config: a wildcard takes no other app\'s name', () => {
  it('routes and TLS policies with a wildcard come after every exact one, whatever the app names', () => {
    // `aaa` sorts first, and Caddy takes the first match: without the order it would answer (and
    // shake hands) for zshop's shop.example.com.
    const aaa: ProxySite = { ...shop, app: 'aaa', serverNames: ['aaa.hop3.test', '*.example.com'], tls: tls('aaa') };
    const zshop: ProxySite = { ...shop, app: 'zshop', serverNames: ['zshop.hop3.test', 'shop.example.com'], tls: tls('zshop') };
    const { config } = renderCaddyConfig([aaa, zshop], settings, digests({}));
    const ids = routesOf(config).map((r) => r['@id']);
    expect(ids.indexOf('hop3-site-zshop')).toBeGreaterThan(-1);
    expect(ids.indexOf('hop3-site-zshop')).toBeLessThan(ids.indexOf('hop3-site-aaa'));
    expect(policies(config).map((p) => p['@id'])).toEqual(['hop3-tls-zshop', 'hop3-tls-aaa']);
  });
});
