import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { apiAddress, defaultHome, loadConfig, parseHostPort, SETTINGS } from '../../src/config.js';
import { Hop3Error } from '../../src/lib/errors.js';

function refused(env: Record<string, string>, variable: string): Hop3Error {
  try {
    loadConfig({ HOP3_HOME: '/srv/hop3', ...env }, 1000);
  } catch (err) {
    expect(err).toBeInstanceOf(Hop3Error);
    const e = err as Hop3Error;
    expect(e.code).toBe('CONFIG_INVALID');
    expect(e.category).toBe('user');
    expect(e.message).toContain(variable);
    return e;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({ HOP3_HOME: '/srv/hop3' }, 1000)).toEqual({
      home: '/srv/hop3',
      listen: { host: '127.0.0.1', port: 8000 },
      httpPort: 80,
      domain: 'localhost',
      proxy: 'nginx',
      nginxMode: 'embedded',
      systemNginxDir: '/etc/nginx/sites-enabled',
      nginxBin: 'nginx',
      caddyBin: 'caddy',
      uwsgiBin: 'uwsgi',
      pythonBin: 'python3',
      resyncMs: 30_000,
      logLevel: 'info',
      portRange: { from: 20000, to: 29999 },
      deployConcurrency: 4,
      keepReleases: 10,
      healthTimeoutMs: 30_000,
      sshUser: 'hop3',
      maxAppBytes: 1024 ** 3,
      maxAppFiles: 100_000,
      maxOutputLines: 10_000,
      eventsKeep: 100_000,
      eventsMaxAgeDays: 90,
      logMaxBytes: 10_485_760,
      logKeep: 5,
      probeMs: 30_000,
      failpoint: null,
      httpsPort: 443,
      acme: { directory: null, email: null, caFile: null },
      certRenewDays: 30,
      certCheckMs: 3_600_000,
      cronTimeoutMs: 3_600_000,
      addonPorts: { postgres: 0, mariadb: 0, redis: 0 },
      addonsMode: 'own',
      systemAddons: { postgresSocketDir: '/var/run/postgresql', mariadbSocket: '/run/mysqld/mysqld.sock', adminSecrets: null },
    });
  });

  it.each([
    { uid: 0, env: {}, home: '/var/lib/hop3' },
    { uid: 1000, env: { HOME: '/home/ann' }, home: '/home/ann/.hop3' },
    { uid: 0, env: { HOME: '/root' }, home: '/var/lib/hop3' },
  ])('default home for uid $uid is $home', ({ uid, env, home }) => {
    expect(defaultHome(env, uid)).toBe(home);
    expect(loadConfig(env, uid).home).toBe(home);
  });

  it('an empty variable means the default', () => {
    const c = loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_HTTP_PORT: '', HOP3_NGINX: '', HOP3_LISTEN: '', HOP3_PORT_RANGE: '' }, 1000);
    expect(c.httpPort).toBe(80);
    expect(c.nginxMode).toBe('embedded');
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 8000 });
    expect(c.portRange).toEqual({ from: 20000, to: 29999 });
  });

  it('reads every setting it documents', () => {
    const c = loadConfig({
      HOP3_HOME: '/opt/hop3/',
      HOP3_LISTEN: '[::1]:9000',
      HOP3_HTTP_PORT: '8080',
      HOP3_DOMAIN: 'Apps.Example.COM',
      HOP3_PROXY: 'caddy',
      HOP3_NGINX: 'system',
      HOP3_NGINX_SYSTEM_DIR: '/etc/nginx/conf.d',
      HOP3_NGINX_BIN: '/usr/sbin/nginx',
      HOP3_UWSGI_BIN: '/usr/bin/uwsgi',
      HOP3_PYTHON: 'python3.12',
      HOP3_RESYNC_SECONDS: '5',
      HOP3_LOG_LEVEL: 'debug',
      HOP3_PORT_RANGE: '30000-30100',
      HOP3_DEPLOY_CONCURRENCY: '2',
      HOP3_KEEP_RELEASES: '3',
      HOP3_HEALTH_TIMEOUT: '7',
      HOP3_SSH_USER: 'git_push-1',
      HOP3_MAX_APP_BYTES: '5000000',
      HOP3_MAX_APP_FILES: '300',
      HOP3_MAX_OUTPUT_LINES: '500',
      HOP3_EVENTS_KEEP: '1000',
      HOP3_EVENTS_MAX_AGE_DAYS: '7',
      HOP3_LOG_MAX_BYTES: '1048576',
      HOP3_LOG_KEEP: '2',
      HOP3_PROBE_SECONDS: '2',
      HOP3_FAILPOINT: 'after-site-write',
      HOP3_HTTPS_PORT: '8443',
      HOP3_ACME_DIRECTORY: 'https://127.0.0.1:14000/dir',
      HOP3_ACME_EMAIL: 'ops@example.com',
      HOP3_ACME_CA_FILE: '/etc/hop3/pebble-ca.pem',
      HOP3_CERT_RENEW_DAYS: '10',
      HOP3_CERT_CHECK_SECONDS: '2',
      HOP3_CRON_TIMEOUT_SECONDS: '90',
      HOP3_CADDY_BIN: '/usr/local/bin/caddy',
      HOP3_POSTGRES_PORT: '15432',
      HOP3_MARIADB_PORT: '13306',
      HOP3_REDIS_PORT: '16379',
      HOP3_ADDONS: 'system',
      HOP3_POSTGRES_SOCKET_DIR: '/srv/pg/run',
      HOP3_MARIADB_SOCKET: '/srv/mysqld/mysqld.sock',
      HOP3_ADDONS_ADMIN_SECRETS: '/etc/hop3/addon-admins',
    }, 1000);
    expect(c).toEqual({
      home: '/opt/hop3',
      listen: { host: '::1', port: 9000 },
      httpPort: 8080,
      domain: 'apps.example.com',
      proxy: 'caddy',
      nginxMode: 'system',
      systemNginxDir: '/etc/nginx/conf.d',
      nginxBin: '/usr/sbin/nginx',
      caddyBin: '/usr/local/bin/caddy',
      uwsgiBin: '/usr/bin/uwsgi',
      pythonBin: 'python3.12',
      resyncMs: 5000,
      logLevel: 'debug',
      portRange: { from: 30000, to: 30100 },
      deployConcurrency: 2,
      keepReleases: 3,
      healthTimeoutMs: 7000,
      sshUser: 'git_push-1',
      maxAppBytes: 5_000_000,
      maxAppFiles: 300,
      maxOutputLines: 500,
      eventsKeep: 1000,
      eventsMaxAgeDays: 7,
      logMaxBytes: 1_048_576,
      logKeep: 2,
      probeMs: 2000,
      failpoint: 'after-site-write',
      httpsPort: 8443,
      acme: { directory: 'https://127.0.0.1:14000/dir', email: 'ops@example.com', caFile: '/etc/hop3/pebble-ca.pem' },
      certRenewDays: 10,
      certCheckMs: 2000,
      cronTimeoutMs: 90_000,
      addonPorts: { postgres: 15432, mariadb: 13306, redis: 16379 },
      addonsMode: 'system',
      systemAddons: { postgresSocketDir: '/srv/pg/run', mariadbSocket: '/srv/mysqld/mysqld.sock', adminSecrets: '/etc/hop3/addon-admins' },
    });
  });

  it.each([
    [{ HOP3_ACME_DIRECTORY: 'http://acme.example/dir' }, 'HOP3_ACME_DIRECTORY'],
    [{ HOP3_ACME_DIRECTORY: 'not a url' }, 'HOP3_ACME_DIRECTORY'],
    [{ HOP3_ACME_EMAIL: 'ops@example.com,evil@example.com' }, 'HOP3_ACME_EMAIL'],
    [{ HOP3_ACME_EMAIL: 'nobody' }, 'HOP3_ACME_EMAIL'],
    [{ HOP3_ACME_CA_FILE: 'ca.pem' }, 'HOP3_ACME_CA_FILE'],
    [{ HOP3_CERT_RENEW_DAYS: '0' }, 'HOP3_CERT_RENEW_DAYS'],
    [{ HOP3_CERT_CHECK_SECONDS: '0' }, 'HOP3_CERT_CHECK_SECONDS'],
    [{ HOP3_HTTPS_PORT: '70000' }, 'HOP3_HTTPS_PORT'],
  ])('refuses the TLS setting %j', (env, variable) => {
    refused(env, variable);
  });

  it('documents every variable it reads, and reads every variable it documents', () => {
    const source = readFileSync(join(import.meta.dirname, '../../src/config.ts'), 'utf8');
    const body = source.slice(source.indexOf('export function loadConfig'));
    const read = new Set([...body.matchAll(/\b(HOP3_[A-Z_]+)\b/g)].map((m) => m[1]!));
    expect([...read].sort()).toEqual(SETTINGS.map(([name]) => name).sort());
  });

  it.each([
    { name: 'a space', home: '/srv/my hop3' },
    { name: '";"', home: '/srv/hop3;rm' },
    { name: 'a newline', home: '/srv/hop3\ninclude /etc' },
    { name: '"{"', home: '/srv/{hop3}' },
    { name: '"$"', home: '/srv/$(id)' },
    { name: '"%"', home: '/srv/%d' },
    { name: 'a quote', home: "/srv/ho'p3" },
  ])('refuses HOP3_HOME with $name', ({ home }) => {
    refused({ HOP3_HOME: home }, 'HOP3_HOME');
  });

  it('resolves a relative HOP3_HOME against the working directory', () => {
    const c = loadConfig({ HOP3_HOME: 'hop3-home' }, 1000);
    expect(c.home.startsWith('/')).toBe(true);
    expect(c.home.endsWith('/hop3-home')).toBe(true);
  });

  it.each(['localhost', '127.0.0.1', '8000', ':8000', '127.0.0.1:', '127.0.0.1:99999', '127.0.0.1:8000 ', 'a b:80', 'host:80;x', '[zz]:80', '127.0.0.1:123456'])(
    'refuses HOP3_LISTEN=%j',
    (listen) => {
      refused({ HOP3_LISTEN: listen }, 'HOP3_LISTEN');
    },
  );

  it.each([
    { value: '0.0.0.0:8000', host: '0.0.0.0', port: 8000 },
    { value: 'localhost:1', host: 'localhost', port: 1 },
    { value: '[::]:443', host: '::', port: 443 },
    { value: 'hop3.example.com:65535', host: 'hop3.example.com', port: 65535 },
  ])('parses HOP3_LISTEN=$value', ({ value, host, port }) => {
    expect(parseHostPort(value, 'HOP3_LISTEN')).toEqual({ host, port });
  });

  it.each(['1000-2000', '20000-70000', '30000-20000', '20000-20000', '20000', 'a-b', '20000-30000-40000', '20000.5-30000', ' - '])(
    'refuses HOP3_PORT_RANGE=%j',
    (range) => {
      refused({ HOP3_PORT_RANGE: range }, 'HOP3_PORT_RANGE');
    },
  );

  it.each([
    ['HOP3_MAX_OUTPUT_LINES', '0'], ['HOP3_MAX_OUTPUT_LINES', '1.5'], ['HOP3_EVENTS_KEEP', '10'], ['HOP3_EVENTS_MAX_AGE_DAYS', '0'],
    ['HOP3_LOG_MAX_BYTES', '1000'], ['HOP3_LOG_MAX_BYTES', '10M'], ['HOP3_LOG_KEEP', '0'], ['HOP3_LOG_KEEP', '-1'],
  ])('refuses %s=%s, naming the range', (key, value) => {
    expect(refused({ [key]: value }, key).message).toMatch(/is not an integer between \d+ and \d+/);
  });

  it.each(['1024-1025', '60000-65535'])('accepts HOP3_PORT_RANGE=%s', (range) => {
    const [from, to] = range.split('-').map(Number);
    expect(loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_PORT_RANGE: range }, 1000).portRange).toEqual({ from, to });
  });

  it.each([
    ['HOP3_MAX_APP_BYTES', '1GiB'], ['HOP3_MAX_APP_BYTES', '0'], ['HOP3_MAX_APP_BYTES', '-5'],
    ['HOP3_MAX_APP_FILES', '0'], ['HOP3_MAX_APP_FILES', '1.5'],
  ])('refuses %s=%j', (variable, value) => {
    refused({ [variable]: value }, variable);
  });

  it.each(['Embedded', 'caddy', 'sys', 'system ', 'none'])('refuses HOP3_NGINX=%j', (mode) => {
    refused({ HOP3_NGINX: mode }, 'HOP3_NGINX');
  });

  it.each([
    { key: 'HOP3_HTTP_PORT', value: '0' },
    { key: 'HOP3_HTTP_PORT', value: '65536' },
    { key: 'HOP3_HTTP_PORT', value: '80a' },
    { key: 'HOP3_HTTP_PORT', value: '8.5' },
    { key: 'HOP3_DEPLOY_CONCURRENCY', value: '0' },
    { key: 'HOP3_RESYNC_SECONDS', value: '-1' },
    { key: 'HOP3_HEALTH_TIMEOUT', value: '3601' },
    { key: 'HOP3_DOMAIN', value: 'bad_domain.com' },
    { key: 'HOP3_DOMAIN', value: 'a.com;' },
    { key: 'HOP3_DOMAIN', value: '-a.com' },
    { key: 'HOP3_NGINX_SYSTEM_DIR', value: 'relative/dir' },
    { key: 'HOP3_NGINX_SYSTEM_DIR', value: '/etc/nginx dir' },
    // HOP3_SSH_USER is an account name, a sudoers rule's user and part of a file name in /etc/sudoers.d.
    { key: 'HOP3_SSH_USER', value: 'Hop3' },
    { key: 'HOP3_SSH_USER', value: '1hop3' },
    { key: 'HOP3_SSH_USER', value: '-hop3' },
    { key: 'HOP3_SSH_USER', value: 'hop3.git' },
    { key: 'HOP3_SSH_USER', value: 'hop 3' },
    { key: 'HOP3_SSH_USER', value: 'hop3,ALL' },
    { key: 'HOP3_SSH_USER', value: 'hop3\nALL' },
    { key: 'HOP3_SSH_USER', value: 'root:x' },
    { key: 'HOP3_SSH_USER', value: `h${'x'.repeat(32)}` },
    { key: 'HOP3_PROBE_SECONDS', value: '0' },
    { key: 'HOP3_PROBE_SECONDS', value: '1.5' },
    { key: 'HOP3_FAILPOINT', value: 'after-everything' },
  ])('refuses $key=$value', ({ key, value }) => {
    refused({ [key]: value }, key);
  });

  it.each(['hop3', '_hop3', 'git', 'h3t0a1b2c3d', 'a-b_c', `h${'x'.repeat(31)}`])('accepts HOP3_SSH_USER=%s', (user) => {
    expect(loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_SSH_USER: user }, 1000).sshUser).toBe(user);
  });

  it.each([
    { listen: '127.0.0.1:8000', api: '127.0.0.1:8000' },
    { listen: '0.0.0.0:8000', api: '127.0.0.1:8000' },
    { listen: '[::]:8000', api: '127.0.0.1:8000' },
    { listen: '[::1]:9000', api: '[::1]:9000' },
    { listen: 'hop3.example.com:80', api: 'hop3.example.com:80' },
  ])('local clients reach HOP3_LISTEN=$listen at $api', ({ listen, api }) => {
    expect(apiAddress(loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_LISTEN: listen }, 1000))).toBe(api);
  });
});
