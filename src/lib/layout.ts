import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { workerAccount } from './accounts.js';

/** Where things live under HOP3_HOME (see DESIGN.md, "Reality"). */
export interface Layout {
  home: string;
  db: string;
  apps: string;
  uwsgiAvailable: string;
  uwsgiEnabled: string;
  nginx: string;
  nginxSites: string;
  run: string;
  log: string;
  lib: string;
  secrets: string;
  backups: string;
  /** TLS certificates, one directory per certificate; `challenges/` holds HTTP-01 answers the proxy serves. */
  certs: string;
  challenges: string;
  app(name: string): string;
  releaseDir(app: string, version: number): string;
  appLog(app: string): string;
}

export function layoutOf(home: string): Layout {
  const app = (name: string) => join(home, 'apps', name);
  return {
    home,
    db: join(home, 'hop3.db'),
    apps: join(home, 'apps'),
    uwsgiAvailable: join(home, 'uwsgi-available'),
    uwsgiEnabled: join(home, 'uwsgi-enabled'),
    nginx: join(home, 'nginx'),
    nginxSites: join(home, 'nginx', 'sites'),
    run: join(home, 'run'),
    log: join(home, 'log'),
    lib: join(home, 'lib'),
    secrets: join(home, 'secrets'),
    backups: join(home, 'backups'),
    certs: join(home, 'certs'),
    challenges: join(home, 'certs', 'challenges'),
    app,
    releaseDir: (name, version) => join(app(name), 'releases', `v${version}`),
    appLog: (name) => join(app(name), 'log'),
  };
}

/** Whether `link` is a symlink to `target` (a plain file or a link elsewhere is not). */
export function linksTo(link: string, target: string): boolean {
  try {
    return readlinkSync(link) === target;
  } catch {
    return false;
  }
}

/**
 * Directory modes (see README, "Security model"). Directories nginx workers pass through to
 * reach a release's static files (HOP3_HOME, apps/, apps/<app>/, releases/, releases/vN/, and
 * nginx/ with nginx/tmp) are 0750 with the workers' group when hop3 runs as root; every other
 * directory is 0700. Without root, workers run as hop3's own user: everything is 0700.
 */
export interface DirAccess {
  /** The nginx workers' group, or null when they run as hop3's own user. */
  gid: number | null;
}

export const dirAccess = (): DirAccess => ({ gid: workerAccount()?.gid ?? null });

/** Set `dir`'s mode (and group, for served directories) only where it differs. */
function secureDir(dir: string, access: DirAccess, served: boolean, extraMode = 0): void {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (!st?.isDirectory()) return;
  const group = served ? access.gid : null;
  const mode = (group === null ? 0o700 : 0o750) | extraMode;
  if (group !== null && st.gid !== group) chownSync(dir, st.uid, group);
  if ((st.mode & 0o7777) !== mode) chmodSync(dir, mode);
}

function ensureDir(dir: string, access: DirAccess, served: boolean): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  secureDir(dir, access, served);
}

/**
 * An app's directories: those on the way to its releases' sources are served, the rest (git,
 * venvs, data, log, each release's run/) private. Idempotent; cheap when nothing changes.
 */
export function secureAppDirs(l: Layout, app: string, access: DirAccess = dirAccess()): void {
  const dir = l.app(app);
  if (!existsSync(dir)) return;
  secureDir(dir, access, true);
  const releases = join(dir, 'releases');
  secureDir(releases, access, true);
  for (const v of existsSync(releases) ? readdirSync(releases) : []) {
    secureDir(join(releases, v), access, true);
    for (const sub of ['run', 'venv']) secureDir(join(releases, v, sub), access, false);
  }
  for (const sub of ['git', 'venvs', 'data', 'log']) secureDir(join(dir, sub), access, false);
}

/** Create `dir` owner-only (0700), or make it so. */
export function privateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  secureDir(dir, { gid: null }, false);
}

/**
 * Create the directory layout and fix the modes of an existing one (an upgrade closes what an
 * older version left open). Idempotent.
 */
export function ensureLayout(l: Layout, access: DirAccess = dirAccess()): void {
  // sshd reads HOP3_HOME/.ssh/authorized_keys as the HOP3_SSH_USER account, which is not in the
  // workers' group: it may pass through HOP3_HOME (o+x) but list or read nothing there.
  // So do the addon servers' account on its way to addons/<type>/ (0711, then its own 0700).
  const passThrough = (existsSync(join(l.home, '.ssh')) || existsSync(join(l.home, 'addons'))) && access.gid !== null;
  mkdirSync(l.home, { recursive: true, mode: 0o700 });
  secureDir(l.home, access, true, passThrough ? 0o001 : 0);
  // certs/ is passed through (and listed: names are public) by the workers on their way to
  // challenges/; each certificate's own directory, with its key, is private.
  for (const dir of [l.apps, l.nginx, join(l.nginx, 'tmp'), l.certs, l.challenges]) ensureDir(dir, access, true);
  for (const dir of [l.uwsgiAvailable, l.uwsgiEnabled, l.nginxSites, l.run, l.log, l.lib, l.backups, l.secrets]) ensureDir(dir, access, false);
  // nginx hands these to its workers' user itself (chown) when it starts as root.
  for (const tmp of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) ensureDir(join(l.nginx, 'tmp', tmp), access, false);
  for (const f of existsSync(l.secrets) ? readdirSync(l.secrets) : []) privateFile(join(l.secrets, f));
  for (const f of readdirSync(l.log)) privateFile(join(l.log, f));
  for (const app of readdirSync(l.apps)) {
    secureAppDirs(l, app, access);
    const releases = join(l.app(app), 'releases');
    for (const v of existsSync(releases) ? readdirSync(releases) : []) {
      const run = join(releases, v, 'run');
      for (const f of existsSync(run) ? readdirSync(run) : []) privateFile(join(run, f));
    }
  }
}

/** Make an existing file owner-only (0600). */
export function privateFile(path: string): void {
  const st = statSync(path, { throwIfNoEntry: false });
  if (st?.isFile() && (st.mode & 0o777) !== 0o600) chmodSync(path, 0o600);
}
