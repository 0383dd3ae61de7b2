import { join } from 'node:path';
import { Hop3Error } from '../../../lib/errors.js';
import { SPEC_FILE_NAMES } from '../../../lib/confine.js';
import type { ProxySite } from '../../types.js';
import { upstreamPorts } from '../upstream-ports.js';

/**
 * Caddy's JSON configuration for every site at once, built as data and serialized with
 * JSON.stringify: a value is always one JSON string, never text of a config language, so it
 * cannot open or close a block. Caddy still expands `{placeholders}` inside some strings (host
 * matchers, file roots, response bodies), so values that reach those are refused unless they are
 * plain tokens, as the nginx and uWSGI filters do.
 */

/** A JSON value as Caddy reads and returns it. */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type CaddyConfig = { [key: string]: Json };

/** Where hop3's Caddy keeps its state; every path is under HOP3_HOME. */
export interface CaddySettings {
  httpPort: number;
  /** The admin endpoint's unix socket (never TCP). */
  adminSocket: string;
  /** Caddy's storage (locks; hop3's certificates are loaded from their own files). */
  storageDir: string;
  /** The HTTPS listener's port, used once some site has TLS. */
  httpsPort?: number;
  /** hop3's HTTP-01 answers, served for every name under /.well-known/acme-challenge/. */
  challengeDir?: string;
}

/** What a site route says about its HTTPS side: the app, its names and its certificate files. */
export interface RouteTls {
  app: string;
  hosts: string[];
  certFile: string;
  keyFile: string;
}

/**
 * A digest of a certificate file's content, or null when it is missing. Caddy reads certificate
 * files only when it provisions a config, and `POST /load` of a config equal to the loaded one
 * provisions nothing (Caddy 2.6.2: a renewed file was still not served after such a load), so a
 * renewed file at the same path is served once the config names its new digest.
 */
export type CertDigest = (file: string) => string | null;

/** What hop3 wants Caddy to run: the config, and the static roots to check before it is loaded. */
export interface CaddyDesired {
  config: CaddyConfig;
  staticRoots: string[];
}

/** The name of hop3's server in the `http` app. */
export const SERVER_NAME = 'hop3';

const HOST_SAFE = /^[A-Za-z0-9*]([A-Za-z0-9.*-]{0,252})$/;
const PATH_SAFE = /^\/[A-Za-z0-9._/-]*$/;
const APP_SAFE = /^[a-z0-9][a-z0-9-]*$/;
const PREFIX_SAFE = /^\/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*$/;

function refuse(value: unknown, what: string): never {
  throw new Hop3Error('UNSAFE_CONFIG_VALUE', `refusing to write ${JSON.stringify(value)} into a Caddy config as ${what}`, {
    hint: 'names and paths are validated long before rendering; this one got past that check, so nothing was rendered',
  });
}

function guard(value: string, pattern: RegExp, what: string): string {
  return pattern.test(value) ? value : refuse(value, what);
}

const isPort = (n: number) => Number.isInteger(n) && n >= 1 && n <= 65535;

const notFound = (): Json => ({ handler: 'static_response', status_code: 404 });

/**
 * A regular expression matching the decimal numbers greater than `n` (leading zeros allowed):
 * more digits than `n`, or as many and larger at the first digit that differs. A header regexp
 * costs Caddy far less than a CEL expression per site (1,000 of those tripled a load).
 */
export function greaterThanPattern(n: number): string {
  const digits = String(n);
  const alternatives = [`[1-9][0-9]{${digits.length},}`];
  for (let i = 0; i < digits.length; i++) {
    const d = Number(digits[i]);
    if (d === 9) continue;
    const rest = digits.length - i - 1;
    alternatives.push(`${digits.slice(0, i)}[${d + 1}-9]${rest > 0 ? `[0-9]{${rest}}` : ''}`);
  }
  return `^0*(?:${alternatives.join('|')})$`;
}

function tooLarge(max: number): Json {
  return {
    match: [{ header_regexp: { 'Content-Length': { pattern: greaterThanPattern(max) } } }],
    handle: [{ handler: 'static_response', status_code: 413, headers: { Connection: ['close'] } }],
    terminal: true,
  };
}

function paused(app: string): Json[] {
  return [{
    handler: 'static_response',
    status_code: 503,
    headers: { 'Retry-After': ['60'], 'Content-Type': ['text/plain; charset=utf-8'] },
    body: `${app} is paused\n`,
  }];
}

function proxied(ports: number[]): Json[] {
  for (const port of ports) if (!isPort(port)) refuse(port, 'an upstream port');
  // Caddy passes Host and sets X-Forwarded-For/-Proto itself; X-Real-IP is nginx's habit.
  return [{
    handler: 'reverse_proxy',
    upstreams: ports.map((port) => ({ dial: `127.0.0.1:${port}` })),
    // A scaled web process: requests take turns over its instances, and one that refuses a
    // connection is passed over for the next within the second (as nginx's upstream does).
    ...(ports.length > 1 ? { load_balancing: { selection_policy: { policy: 'round_robin' }, try_duration: '1s', try_interval: '50ms' } } : {}),
    headers: { request: { set: { 'X-Real-Ip': ['{http.request.remote.host}'] } } },
  }];
}

/**
 * A static root served as nginx serves it: hop3's own files and every dotfile or dot-directory
 * answer 404. The path matchers see the decoded request path before it is cleaned: a dot
 * segment that survives cleaning was in it, so matching the substring `/.` catches every
 * spelling of one. `hide` is a second line: it checks the file Caddy would open, after the path
 * is cleaned and joined. Its patterns are rooted at the root, since a bare `.*` would hide
 * everything under a HOP3_HOME such as `~/.hop3`. Links are checked before a root is loaded
 * (static-root-links.ts): Caddy follows them all.
 */
function protectedFiles(prefix: string, root: string, before: Json[]): Json[] {
  guard(root, PATH_SAFE, 'a static root');
  return [
    { match: [{ path: SPEC_FILE_NAMES.map((n) => `${prefix}${n}`) }], handle: [notFound()], terminal: true },
    { match: [{ path: ['*/.*'] }], handle: [notFound()], terminal: true },
    {
      handle: [...before, {
        handler: 'file_server',
        root,
        hide: [join(root, '.*'), ...SPEC_FILE_NAMES.map((n) => join(root, n))],
        index_names: ['index.html', 'index.htm'],
      }],
      terminal: true,
    },
  ];
}

const staticSite = (root: string): Json[] => [{ handler: 'subroute', routes: protectedFiles('/', root, []) }];

/**
 * `[static] paths`: a prefix served from a directory of the release, as nginx's `alias` does
 * (`/static/app.css` is `<root>/app.css`), with the static site's protections, and a
 * Cache-Control max-age on what it finds (2xx and 3xx, as nginx's `expires`).
 */
function staticPathRoute(prefix: string, root: string, maxAge: number): Json {
  guard(prefix, PREFIX_SAFE, 'a [static] paths prefix');
  if (!Number.isInteger(maxAge) || maxAge < 0) refuse(maxAge, 'a [static] max-age');
  const before: Json[] = [
    { handler: 'rewrite', strip_path_prefix: prefix.slice(0, -1) },
    { handler: 'headers', response: { set: { 'Cache-Control': [`max-age=${maxAge}`] }, require: { status_code: [2, 3] } } },
  ];
  return { match: [{ path: [`${prefix}*`] }], handle: [{ handler: 'subroute', routes: protectedFiles(prefix, root, before) }], terminal: true };
}

/** The `vars` handler a TLS site's HTTPS answers pass: it names the app's certificate files. */
const TLS_VARS = 'hop3_tls_cert';
const TLS_KEY_VARS = 'hop3_tls_key';

const HSTS = 'max-age=31536000';

/**
 * What a TLS site adds in front of its answers: on HTTP, https-only's 308 (the challenges are
 * answered before any site's route); on HTTPS, the certificate's names (read back when the
 * config is assembled) and HSTS, set before any handler so error answers carry it too.
 */
function tlsRoutes(site: ProxySite, httpsPort: number | undefined): Json[] {
  const tls = site.tls;
  if (!tls) return [];
  if (httpsPort === undefined || !isPort(httpsPort)) refuse(httpsPort, 'the HTTPS port');
  const cert = guard(tls.certFile, PATH_SAFE, `the certificate file of ${site.app}`);
  const key = guard(tls.keyFile, PATH_SAFE, `the key file of ${site.app}`);
  const suffix = httpsPort === 443 ? '' : `:${httpsPort}`;
  const https: Json[] = [{ handler: 'vars', [TLS_VARS]: cert, [TLS_KEY_VARS]: key }];
  if (tls.hsts) https.push({ handler: 'headers', response: { set: { 'Strict-Transport-Security': [HSTS] } } });
  return [
    ...(tls.httpsOnly
      ? [{
          match: [{ protocol: 'http' }],
          handle: [{ handler: 'static_response', status_code: 308, headers: { Location: [`https://{http.request.host}${suffix}{http.request.uri}`] } }],
          terminal: true,
        }]
      : []),
    { match: [{ protocol: 'https' }], handle: https },
  ];
}

/** The HTTPS side a site route was rendered with, or null for an HTTP-only one. */
export function tlsOfRoute(route: Json | undefined): RouteTls | null {
  const app = appOfRoute(route);
  if (app === null) return null;
  const r = route as { match?: Array<{ host?: string[] }> };
  const vars = findVars(route);
  if (vars === null) return null;
  return { app, hosts: r.match?.[0]?.host ?? [], certFile: vars.cert, keyFile: vars.key };
}

function findVars(value: Json | undefined): { cert: string; key: string } | null {
  if (Array.isArray(value)) {
    for (const v of value) {
      const found = findVars(v);
      if (found) return found;
    }
    return null;
  }
  if (value === null || typeof value !== 'object') return null;
  const cert = value[TLS_VARS];
  const key = value[TLS_KEY_VARS];
  if (value.handler === 'vars' && typeof cert === 'string' && typeof key === 'string') return { cert, key };
  return findVars(Object.values(value));
}

/** Pure: one app's route, the part of the whole config that is that app's site. */
export function renderSiteRoute(site: ProxySite, httpsPort?: number): Json {
  guard(site.app, APP_SAFE, 'an app name');
  if (site.serverNames.length === 0) refuse(site.serverNames, `the server names of ${site.app}`);
  const hosts = site.serverNames.map((n) => guard(n, HOST_SAFE, `a server name of ${site.app}`));
  const t = site.target;
  const main = t.protocol === 'paused' ? paused(site.app) : t.protocol === 'file' ? staticSite(t.root) : proxied(upstreamPorts(t));
  if (!Number.isInteger(site.maxBodyBytes) || site.maxBodyBytes < 1) refuse(site.maxBodyBytes, `the max body size of ${site.app}`);
  // A paused app serves nothing of its own, files included.
  const paths = t.protocol === 'paused' ? [] : site.staticPaths.map((p) => staticPathRoute(p.prefix, p.root, site.staticMaxAge));
  const handle: Json[] = [
    // request_body caps what is read (a chunked body too); a body past it fails the proxied
    // request with 502 in Caddy 2.6, so a declared Content-Length over it gets 413 up front.
    { handler: 'request_body', max_size: site.maxBodyBytes },
    { handler: 'subroute', routes: [...tlsRoutes(site, httpsPort), tooLarge(site.maxBodyBytes), ...paths, { handle: main, terminal: true }] },
  ];
  return { '@id': siteRouteId(site.app), match: [{ host: hosts }], handle, terminal: true };
}

/** The `@id` of an app's route: how its part of the loaded config is found again. */
export const siteRouteId = (app: string) => `hop3-site-${app}`;

/** The app whose route this is, or null for a route that is not an app's site. */
export function appOfRoute(route: Json | undefined): string | null {
  if (route === null || typeof route !== 'object' || Array.isArray(route)) return null;
  const id = route['@id'];
  return typeof id === 'string' && id.startsWith('hop3-site-') ? id.slice('hop3-site-'.length) : null;
}

/** The tag a certificate is loaded with: the app, and the digest of the file as loaded. */
export const certTag = (app: string, digest: string) => `hop3-cert-${app}@${digest}`;

/** The tag without its digest: what two configs must agree on for the same certificate files. */
export const certTagBase = (tag: string) => tag.replace(/@[^@]*$/, '');

/**
 * HTTP-01 answers for every name, before any site (as nginx's `^~` location in every server):
 * the token is a file of the challenge directory, never a dotfile.
 */
function challengeRoute(dir: string): Json {
  guard(dir, PATH_SAFE, 'the challenge directory');
  return {
    '@id': 'hop3-acme-challenges',
    match: [{ path: ['/.well-known/acme-challenge/*'] }],
    handle: [
      // The prefix goes first: the dot-path rule below would otherwise see /.well-known itself.
      { handler: 'rewrite', strip_path_prefix: '/.well-known/acme-challenge' },
      {
        handler: 'subroute',
        routes: [
          { match: [{ path: ['*/.*'] }], handle: [notFound()], terminal: true },
          {
            handle: [
              { handler: 'headers', response: { set: { 'Content-Type': ['text/plain'] } } },
              { handler: 'file_server', root: dir, hide: [join(dir, '.*')] },
            ],
            terminal: true,
          },
        ],
      },
    ],
    terminal: true,
  };
}

/**
 * hop3's certificates as Caddy loads them: each app's file (key and chain in one PEM, which Go's
 * X509KeyPair reads as both) tagged with its digest, and a connection policy per app choosing
 * that tag by SNI. A name no policy matches has no TLS configuration, so Caddy refuses the
 * handshake (an alert) rather than answer with another app's certificate. A missing file is not
 * loaded (Caddy would refuse the whole config): only that app's handshakes fail until it is back.
 */
function tlsParts(siteRoutes: Json[], digest: CertDigest): { certificates: Json[]; policies: Json[] } {
  const certificates: Json[] = [];
  const policies: Json[] = [];
  for (const route of siteRoutes) {
    const tls = tlsOfRoute(route);
    if (tls === null) continue;
    const sum = digest(tls.certFile);
    const keySum = tls.keyFile === tls.certFile ? sum : digest(tls.keyFile);
    const tag = certTag(tls.app, sum === null || keySum === null ? 'missing' : tls.keyFile === tls.certFile ? sum : `${sum}.${keySum}`);
    if (sum !== null && keySum !== null) certificates.push({ '@id': `hop3-cert-${tls.app}`, certificate: tls.certFile, key: tls.keyFile, tags: [tag] });
    policies.push({ '@id': `hop3-tls-${tls.app}`, match: { sni: tls.hosts }, certificate_selection: { any_tag: [tag] } });
  }
  return { certificates, policies };
}

/** A digest for configs rendered without looking at files: every certificate present, unchanged. */
const UNREAD: CertDigest = () => '';

/**
 * Pure: the whole config around these app routes (given in app order, so equal inputs give
 * equal configs), then a 404 for every other name. With a TLS site, the same server also listens
 * on the HTTPS port: Caddy puts TLS on every listener but the `http_port` one.
 */
/** Whether a site route answers for a wildcard name (`*.example.com`). */
function hasWildcardHost(route: Json): boolean {
  const match = (route as { match?: { host?: string[] }[] }).match;
  return match?.[0]?.host?.some((h) => h.startsWith('*')) ?? false;
}

export function assembleCaddyConfig(appRoutes: Json[], settings: CaddySettings, digest: CertDigest = UNREAD): CaddyConfig {
  // Caddy takes the first route (and TLS policy) that matches, where nginx prefers an exact name
  // to a wildcard: routes with a wildcard go last, so no app's `*.example.com` takes another
  // app's `shop.example.com`. Exact names are unique across apps, so the order among the rest
  // decides nothing.
  const siteRoutes = [...appRoutes.filter((r) => !hasWildcardHost(r)), ...appRoutes.filter(hasWildcardHost)];
  guard(settings.adminSocket, PATH_SAFE, 'the admin socket');
  guard(settings.storageDir, PATH_SAFE, 'the storage directory');
  if (!isPort(settings.httpPort)) refuse(settings.httpPort, 'the HTTP port');
  const { certificates, policies } = tlsParts(siteRoutes, digest);
  const https = policies.length > 0;
  if (https && (settings.httpsPort === undefined || !isPort(settings.httpsPort) || settings.httpsPort === settings.httpPort)) refuse(settings.httpsPort, 'the HTTPS port');
  // A name no app has gets 404, like the nginx master's default server.
  const routes: Json[] = [
    ...(settings.challengeDir === undefined ? [] : [challengeRoute(settings.challengeDir)]),
    ...siteRoutes,
    { handle: [notFound()], terminal: true },
  ];
  const server: { [key: string]: Json } = {
    listen: [`:${settings.httpPort}`, ...(https ? [`:${settings.httpsPort!}`] : [])],
    // TLS is not Caddy's to decide: certificates are hop3's resources, loaded from their files.
    automatic_https: { disable: true },
    routes,
  };
  if (https) {
    server.tls_connection_policies = policies;
    // No HTTP/3: it would listen on UDP and advertise itself (Alt-Svc) on every answer.
    server.protocols = ['h1', 'h2'];
  }
  const config: CaddyConfig = {
    admin: { listen: `unix/${settings.adminSocket}`, config: { persist: false } },
    storage: { module: 'file_system', root: settings.storageDir },
    apps: {
      http: {
        ...(https ? { http_port: settings.httpPort, https_port: settings.httpsPort! } : {}),
        servers: { [SERVER_NAME]: server },
        // Requests taken by the previous config finish within this on a load; past it they are
        // cut (a load would otherwise wait as long as the slowest request).
        grace_period: '30s',
      },
    },
  };
  if (https) (config.apps as { [key: string]: Json }).tls = { certificates: { load_files: certificates } };
  return config;
}

/** The static roots a route hands to Caddy's file server: checked for links before a load. */
export function staticRootsOf(route: Json | undefined): string[] {
  if (Array.isArray(route)) return route.flatMap(staticRootsOf);
  if (route === null || typeof route !== 'object') return [];
  const own = route.handler === 'file_server' && typeof route.root === 'string' ? [route.root] : [];
  return [...own, ...Object.values(route).flatMap(staticRootsOf)];
}

/** Pure: the whole config for these sites, in app order so equal inputs give equal configs. */
export function renderCaddyConfig(sites: ProxySite[], settings: CaddySettings, digest: CertDigest = UNREAD): CaddyDesired {
  const sorted = [...sites].sort((a, b) => (a.app < b.app ? -1 : a.app > b.app ? 1 : 0));
  const config = assembleCaddyConfig(sorted.map((s) => renderSiteRoute(s, settings.httpsPort)), settings, digest);
  const staticRoots = sorted.flatMap((s) => [
    ...(s.target.protocol === 'file' ? [s.target.root] : []),
    ...(s.target.protocol === 'paused' ? [] : s.staticPaths.map((p) => p.root)),
  ]);
  return { config, staticRoots };
}

/**
 * JSON with keys sorted at every level: the form configs are compared and written in. Compact,
 * it is the form Caddy's admin endpoint answers in (Go sorts map keys), so a loaded config that
 * was not changed can be recognized without parsing it.
 */
export function canonicalJson(value: Json | undefined, indent: 2 | 0 = 2): string {
  const text = JSON.stringify(sortKeys(value ?? null), null, indent || undefined);
  // Go's encoder writes these as \u escapes; the compact form is compared with its output.
  return indent ? text : text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function sortKeys(value: Json): Json {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: { [key: string]: Json } = {};
    for (const k of Object.keys(value).sort()) out[k] = sortKeys(value[k]!);
    return out;
  }
  return value;
}
