import { chmodSync, mkdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

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

/** Create the directory layout (idempotent). Served files must be reachable by nginx workers. */
export function ensureLayout(l: Layout): void {
  for (const dir of [l.home, l.apps, l.uwsgiAvailable, l.uwsgiEnabled, l.nginx, l.nginxSites, l.run, l.log, l.lib, l.backups]) {
    mkdirSync(dir, { recursive: true });
  }
  for (const tmp of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(l.nginx, 'tmp', tmp), { recursive: true });
  mkdirSync(l.secrets, { recursive: true, mode: 0o700 });
  chmodSync(l.home, 0o755);
  chmodSync(l.apps, 0o755);
  chmodSync(l.secrets, 0o700);
}
