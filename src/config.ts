import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { userError } from './lib/errors.js';

/** Daemon settings, read from HOP3_* variables. Nothing deeper in the code reads process.env. */
export interface Config {
  home: string;
  listen: { host: string; port: number };
  httpPort: number;
  domain: string;
  /** The proxy that publishes apps: a proxy plugin's name. */
  proxy: string;
  /** `embedded`: hop3 runs its own nginx master; `system`: it writes into the system nginx. */
  nginxMode: 'embedded' | 'system';
  systemNginxDir: string;
  nginxBin: string;
  caddyBin: string;
  uwsgiBin: string;
  pythonBin: string;
  resyncMs: number;
  logLevel: string;
  portRange: { from: number; to: number };
  deployConcurrency: number;
  keepReleases: number;
  healthTimeoutMs: number;
  /** The system account `hop3-server setup` creates (as root) for git push over SSH: USER@HOST:APP. */
  sshUser: string;
  /** What one app may unpack to (an upload or a pushed commit): total file bytes and entries. */
  maxAppBytes: number;
  maxAppFiles: number;
  /** Output lines kept per release and phase (build, release); the rest are counted, not kept. */
  maxOutputLines: number;
  /** Events kept: the newest `eventsKeep`, none older than `eventsMaxAgeDays`. */
  eventsKeep: number;
  eventsMaxAgeDays: number;
  /** Logs are rotated past this size; `logKeep` rotated generations of each are kept. */
  logMaxBytes: number;
  logKeep: number;
  /** Period of the background request through the proxy to each running app (its health). */
  probeMs: number;
  /** For tests only: a point where the daemon kills itself (SIGKILL), to test crash recovery. */
  failpoint: Failpoint | null;
  httpsPort: number;
  /** ACME certificates: the CA's directory URL, the account's email, a CA to trust for that server. */
  acme: { directory: string | null; email: string | null; caFile: string | null };
  /** A certificate with fewer days than this left is renewed. */
  certRenewDays: number;
  /** How often every stored certificate is looked at for renewal (tests shorten it). */
  certCheckMs: number;
  /** A cron run still going after this long is stopped (its whole process group). */
  cronTimeoutMs: number;
  /** Loopback ports of hop3's own addon servers; 0: a free port chosen once (on the first addon of the type) and recorded. */
  addonPorts: { postgres: number; mariadb: number; redis: number };
  /** `own`: hop3 runs its own addon servers; `system`: it uses the machine's, through their admin accounts. */
  addonsMode: 'own' | 'system';
  /** Where the machine's servers are (HOP3_ADDONS=system); their ports are addonPorts. */
  systemAddons: SystemAddons;
}

/** The machine's own addon servers and how hop3 logs in to them as their admin. */
export interface SystemAddons {
  postgresSocketDir: string;
  mariadbSocket: string;
  /** A directory of admin password files, `postgres`, `mariadb`, `redis` (each optional); null: none. */
  adminSecrets: string | null;
}

/** Debian's servers' ports, the defaults of HOP3_<TYPE>_PORT under HOP3_ADDONS=system. */
export const SYSTEM_ADDON_PORTS = { postgres: 5432, mariadb: 3306, redis: 6379 } as const;

export const FAILPOINTS = ['after-site-write', 'after-mark-live', 'after-detach-record'] as const;
export type Failpoint = (typeof FAILPOINTS)[number];

/** Every setting with its variable, default and meaning; the README table is generated from this. */
export const SETTINGS = [
  ['HOP3_HOME', 'home directory: records, apps, rendered configs', '/var/lib/hop3 as root, ~/.hop3 otherwise'],
  ['HOP3_LISTEN', 'address of the JSON-RPC API', '127.0.0.1:8000'],
  ['HOP3_HTTP_PORT', 'port the proxy listens on for apps (the embedded nginx master or hop3\'s Caddy, or the server blocks written for the system nginx)', '80'],
  ['HOP3_DOMAIN', 'apps are also served at <app>.<HOP3_DOMAIN>', 'localhost'],
  ['HOP3_PROXY', 'the proxy that publishes apps: `nginx` or `caddy`', 'nginx'],
  ['HOP3_NGINX', '`embedded` (own nginx master) or `system` (the system nginx, checked with `nginx -T`, reloaded with `nginx -s reload`)', 'embedded'],
  ['HOP3_NGINX_SYSTEM_DIR', 'include directory hop3 writes server blocks into when HOP3_NGINX=system', '/etc/nginx/sites-enabled'],
  ['HOP3_NGINX_BIN', 'nginx binary', 'nginx'],
  ['HOP3_CADDY_BIN', 'Caddy binary (HOP3_PROXY=caddy)', 'caddy'],
  ['HOP3_UWSGI_BIN', 'uWSGI binary', 'uwsgi'],
  ['HOP3_PYTHON', 'Python used to create app virtualenvs', 'python3'],
  ['HOP3_RESYNC_SECONDS', 'period of the full resync', '30'],
  ['HOP3_LOG_LEVEL', 'pino log level', 'info'],
  ['HOP3_PORT_RANGE', 'loopback ports given to app processes', '20000-29999'],
  ['HOP3_DEPLOY_CONCURRENCY', 'apps reconciled in parallel', '4'],
  ['HOP3_KEEP_RELEASES', 'release directories kept per app', '10'],
  ['HOP3_HEALTH_TIMEOUT', 'seconds a new release may take to pass its health check, unless hop3.toml says otherwise', '30'],
  ['HOP3_PROBE_SECONDS', 'period of the request through the proxy to each running app that its health is based on', '30'],
  ['HOP3_FAILPOINT', 'for tests: `after-site-write` makes the daemon SIGKILL itself right after writing a site file, before nginx reloads; `after-mark-live` right after it records a release live, before anyone hears; `after-detach-record` right after `hop3 addons detach` records the detach, before any pass drops the login', 'unset'],
  ['HOP3_SSH_USER', 'system account (home HOP3_HOME) that hop3-server setup creates as root for git push over SSH (USER@HOST:APP)', 'hop3'],
  ['HOP3_MAX_APP_BYTES', 'bytes an app (upload or pushed commit) may unpack to; also the largest pack a git push may send', '1073741824 (1 GiB)'],
  ['HOP3_MAX_APP_FILES', 'files, directories and links an app may unpack to', '100000'],
  ['HOP3_MAX_OUTPUT_LINES', 'build and release output lines kept per release and phase; one line then says how many more were not kept', '10000'],
  ['HOP3_EVENTS_KEEP', 'events kept (the newest), pruned at start and on each resync', '100000'],
  ['HOP3_EVENTS_MAX_AGE_DAYS', 'events older than this are pruned', '90'],
  ['HOP3_LOG_MAX_BYTES', 'size past which a log is rotated: app process logs (by uWSGI) and the daemon\'s logs in HOP3_HOME/log (on each resync)', '10485760'],
  ['HOP3_LOG_KEEP', 'rotated generations kept per log (older ones are deleted on each resync)', '5'],
  ['HOP3_HTTPS_PORT', 'port the proxy serves HTTPS on', '443'],
  ['HOP3_ACME_DIRECTORY', 'directory URL (https) of the ACME CA that issues certificates', 'unset'],
  ['HOP3_ACME_EMAIL', 'contact email of the ACME account', 'unset'],
  ['HOP3_ACME_CA_FILE', 'PEM file of a CA to trust for the ACME server itself (a test CA)', 'unset'],
  ['HOP3_CERT_RENEW_DAYS', 'a certificate is renewed when fewer days than this remain', '30'],
  ['HOP3_CERT_CHECK_SECONDS', 'how often every stored certificate is looked at for renewal', '3600'],
  ['HOP3_CRON_TIMEOUT_SECONDS', 'a cron run still going after this long is stopped (SIGTERM to its shell; its whole process group is killed once that exits)', '3600'],
  ['HOP3_POSTGRES_PORT', "loopback port of hop3's PostgreSQL; 0: a free port chosen once and recorded", '0'],
  ['HOP3_MARIADB_PORT', "loopback port of hop3's MariaDB; 0: a free port chosen once and recorded", '0'],
  ['HOP3_REDIS_PORT', "loopback port of hop3's Redis; 0: a free port chosen once and recorded", '0'],
  ['HOP3_ADDONS', "`own` (hop3 runs its own PostgreSQL, MariaDB and Redis) or `system` (the machine's, on loopback, through their admin accounts: see Addons); under `system` the three ports above default to 5432, 3306 and 6379", 'own'],
  ['HOP3_POSTGRES_SOCKET_DIR', "HOP3_ADDONS=system: the unix socket directory of the machine's PostgreSQL, where hop3 logs in as `postgres`", '/var/run/postgresql'],
  ['HOP3_MARIADB_SOCKET', "HOP3_ADDONS=system: the unix socket of the machine's MariaDB, where hop3 logs in as `root`", '/run/mysqld/mysqld.sock'],
  ['HOP3_ADDONS_ADMIN_SECRETS', 'HOP3_ADDONS=system: a directory (root\'s, 0700) of admin password files `postgres`, `mariadb`, `redis`; a type without one logs in without a password (peer or unix_socket authentication, Redis\'s `default` user without AUTH)', 'unset'],
] as const;

const SAFE_PATH = /^\/[A-Za-z0-9._/-]*$/;
/** A portable system account name (it is also written into a sudoers rule and a file name). */
export const SSH_USER_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;

/** An address an ACME CA accepts as a contact: no spaces, no commas, one '@', a dotted domain. */
const EMAIL = /^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;

function isHttpsUrl(value: string): boolean {
  try {
    return new URL(value).protocol === 'https:';
  } catch {
    return false;
  }
}

/** A path setting: absolute, and nothing a config file or a client's option would read as syntax. */
function safePath(env: Record<string, string | undefined>, key: string, dflt: string): string {
  const value = env[key] || dflt;
  if (!SAFE_PATH.test(value)) throw userError('CONFIG_INVALID', `${key}=${value} is not an absolute path of letters, digits, '.', '_', '-' and '/'`);
  return value;
}

function int(env: Record<string, string | undefined>, key: string, dflt: number, min: number, max: number): number {
  const raw = env[key];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw userError('CONFIG_INVALID', `${key}=${raw} is not an integer between ${min} and ${max}`);
  }
  return n;
}

export function parseHostPort(value: string, key: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw userError('CONFIG_INVALID', `${key}=${value} is not HOST:PORT`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

export function defaultHome(env: Record<string, string | undefined>, uid: number): string {
  return uid === 0 ? '/var/lib/hop3' : join(env.HOME ?? homedir(), '.hop3');
}

export function loadConfig(env: Record<string, string | undefined>, uid = process.getuid?.() ?? 1000): Config {
  const home = resolve(env.HOP3_HOME || defaultHome(env, uid));
  // The home path is written into uWSGI and nginx files, so it may hold no syntax of theirs.
  if (!isAbsolute(home) || !SAFE_PATH.test(home)) {
    throw userError('CONFIG_INVALID', `HOP3_HOME=${home} must be an absolute path of letters, digits, '.', '_', '-' and '/'`);
  }
  const proxy = env.HOP3_PROXY || 'nginx';
  if (!/^[a-z][a-z0-9-]*$/.test(proxy)) throw userError('CONFIG_INVALID', `HOP3_PROXY=${proxy} is not a proxy name`);
  const nginxMode = env.HOP3_NGINX || 'embedded';
  if (nginxMode !== 'embedded' && nginxMode !== 'system') {
    throw userError('CONFIG_INVALID', `HOP3_NGINX=${nginxMode} must be 'embedded' or 'system'`);
  }
  const domain = (env.HOP3_DOMAIN || 'localhost').toLowerCase();
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(domain)) {
    throw userError('CONFIG_INVALID', `HOP3_DOMAIN=${domain} is not a host name`);
  }
  const range = (env.HOP3_PORT_RANGE || '20000-29999').split('-').map(Number);
  const [from, to] = range;
  if (range.length !== 2 || !Number.isInteger(from) || !Number.isInteger(to) || from! < 1024 || to! > 65535 || from! >= to!) {
    throw userError('CONFIG_INVALID', `HOP3_PORT_RANGE=${env.HOP3_PORT_RANGE} must be FROM-TO within 1024-65535`);
  }
  const systemNginxDir = env.HOP3_NGINX_SYSTEM_DIR || '/etc/nginx/sites-enabled';
  if (!SAFE_PATH.test(systemNginxDir)) throw userError('CONFIG_INVALID', `HOP3_NGINX_SYSTEM_DIR=${systemNginxDir} is not a safe absolute path`);
  const sshUser = env.HOP3_SSH_USER || 'hop3';
  if (!SSH_USER_PATTERN.test(sshUser)) {
    throw userError('CONFIG_INVALID', `HOP3_SSH_USER=${sshUser} must be an account name: a lowercase letter or '_', then up to 31 lowercase letters, digits, '_' or '-'`);
  }
  const failpoint = env.HOP3_FAILPOINT || null;
  if (failpoint !== null && !(FAILPOINTS as readonly string[]).includes(failpoint)) {
    throw userError('CONFIG_INVALID', `HOP3_FAILPOINT=${failpoint} must be one of ${FAILPOINTS.join(', ')} (or unset)`);
  }
  const acmeDirectory = env.HOP3_ACME_DIRECTORY || null;
  if (acmeDirectory !== null && !isHttpsUrl(acmeDirectory)) {
    throw userError('CONFIG_INVALID', `HOP3_ACME_DIRECTORY=${acmeDirectory} is not an https:// URL`);
  }
  const acmeEmail = env.HOP3_ACME_EMAIL || null;
  if (acmeEmail !== null && !EMAIL.test(acmeEmail)) throw userError('CONFIG_INVALID', `HOP3_ACME_EMAIL=${acmeEmail} is not an email address`);
  const acmeCaFile = env.HOP3_ACME_CA_FILE || null;
  if (acmeCaFile !== null && !isAbsolute(acmeCaFile)) throw userError('CONFIG_INVALID', `HOP3_ACME_CA_FILE=${acmeCaFile} is not an absolute path`);
  const addonsMode = env.HOP3_ADDONS || 'own';
  if (addonsMode !== 'own' && addonsMode !== 'system') throw userError('CONFIG_INVALID', `HOP3_ADDONS=${addonsMode} must be 'own' or 'system'`);
  const systemAddons: SystemAddons = {
    postgresSocketDir: safePath(env, 'HOP3_POSTGRES_SOCKET_DIR', '/var/run/postgresql'),
    mariadbSocket: safePath(env, 'HOP3_MARIADB_SOCKET', '/run/mysqld/mysqld.sock'),
    adminSecrets: env.HOP3_ADDONS_ADMIN_SECRETS ? safePath(env, 'HOP3_ADDONS_ADMIN_SECRETS', '') : null,
  };
  const portDefault = (type: keyof typeof SYSTEM_ADDON_PORTS) => (addonsMode === 'system' ? SYSTEM_ADDON_PORTS[type] : 0);
  return {
    home,
    listen: parseHostPort(env.HOP3_LISTEN || '127.0.0.1:8000', 'HOP3_LISTEN'),
    httpPort: int(env, 'HOP3_HTTP_PORT', 80, 1, 65535),
    domain,
    proxy,
    nginxMode,
    systemNginxDir,
    nginxBin: env.HOP3_NGINX_BIN || 'nginx',
    caddyBin: env.HOP3_CADDY_BIN || 'caddy',
    uwsgiBin: env.HOP3_UWSGI_BIN || 'uwsgi',
    pythonBin: env.HOP3_PYTHON || 'python3',
    resyncMs: int(env, 'HOP3_RESYNC_SECONDS', 30, 1, 86_400) * 1000,
    logLevel: env.HOP3_LOG_LEVEL || 'info',
    portRange: { from: from!, to: to! },
    deployConcurrency: int(env, 'HOP3_DEPLOY_CONCURRENCY', 4, 1, 64),
    keepReleases: int(env, 'HOP3_KEEP_RELEASES', 10, 1, 1000),
    healthTimeoutMs: int(env, 'HOP3_HEALTH_TIMEOUT', 30, 1, 3600) * 1000,
    sshUser,
    maxAppBytes: int(env, 'HOP3_MAX_APP_BYTES', 1024 ** 3, 1024, 2 ** 50),
    maxAppFiles: int(env, 'HOP3_MAX_APP_FILES', 100_000, 1, 100_000_000),
    maxOutputLines: int(env, 'HOP3_MAX_OUTPUT_LINES', 10_000, 1, 10_000_000),
    eventsKeep: int(env, 'HOP3_EVENTS_KEEP', 100_000, 100, 100_000_000),
    eventsMaxAgeDays: int(env, 'HOP3_EVENTS_MAX_AGE_DAYS', 90, 1, 36_500),
    logMaxBytes: int(env, 'HOP3_LOG_MAX_BYTES', 10_485_760, 65_536, 1_073_741_824),
    logKeep: int(env, 'HOP3_LOG_KEEP', 5, 1, 100),
    probeMs: int(env, 'HOP3_PROBE_SECONDS', 30, 1, 3600) * 1000,
    failpoint: failpoint as Failpoint | null,
    httpsPort: int(env, 'HOP3_HTTPS_PORT', 443, 1, 65535),
    acme: { directory: acmeDirectory, email: acmeEmail, caFile: acmeCaFile },
    certRenewDays: int(env, 'HOP3_CERT_RENEW_DAYS', 30, 1, 365),
    certCheckMs: int(env, 'HOP3_CERT_CHECK_SECONDS', 3600, 1, 86_400) * 1000,
    cronTimeoutMs: int(env, 'HOP3_CRON_TIMEOUT_SECONDS', 3600, 1, 86_400) * 1000,
    addonPorts: {
      postgres: int(env, 'HOP3_POSTGRES_PORT', portDefault('postgres'), addonsMode === 'system' ? 1 : 0, 65535),
      mariadb: int(env, 'HOP3_MARIADB_PORT', portDefault('mariadb'), addonsMode === 'system' ? 1 : 0, 65535),
      redis: int(env, 'HOP3_REDIS_PORT', portDefault('redis'), addonsMode === 'system' ? 1 : 0, 65535),
    },
    addonsMode,
    systemAddons,
  };
}

/**
 * HOST:PORT where local clients (the git hook, the SSH forced command) reach the API: a
 * wildcard listen address is reached on 127.0.0.1, an IPv6 address in brackets.
 */
export function apiAddress(config: Pick<Config, 'listen'>): string {
  const { host, port } = config.listen;
  const reach = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `${reach.includes(':') ? `[${reach}]` : reach}:${port}`;
}
