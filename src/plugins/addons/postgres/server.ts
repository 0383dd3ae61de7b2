import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type pg from 'pg';
import { pgLibrary } from '../client-libraries.js';
import { operationalError } from '../../../lib/errors.js';
import { readTextOrNull } from '../../../lib/fs-atomic.js';
import { AddonServer, PING_TIMEOUT_MS, withTimeout, type AddonServerContext } from '../server-process.js';

/** The role hop3 administers its PostgreSQL with (a superuser, reachable only on the unix socket). */
export const PG_ADMIN = 'hop3';

/** Debian installs PostgreSQL outside PATH, one directory per major version: the newest. */
export function defaultPostgresBinDir(root = '/usr/lib/postgresql'): string {
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v) && existsSync(join(root, v, 'bin', 'postgres'))) : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (newest === undefined) throw operationalError('ADDON_SERVER_START_FAILED', `no PostgreSQL server under ${root}`, { hint: 'install it: apt-get install postgresql (hop3-server setup does)' });
  return join(root, newest, 'bin');
}

/**
 * Client authentication: hop3's admin only over the unix socket (in a 0700 directory), and an
 * app's role only over loopback TCP and only to the database named like a role it is a member of
 * (`samerole`: the addon's role itself, or an app's login granted it). Every
 * login is a SCRAM password; nothing is trusted by address or by the peer's uid.
 */
export const PG_HBA = `# written by hop3
local   all       ${PG_ADMIN}   scram-sha-256
host    samerole  all    127.0.0.1/32   scram-sha-256
host    samerole  all    ::1/128        scram-sha-256
`;

/** hop3's own PostgreSQL (15 on Debian 12), under HOP3_HOME/addons/postgres/. */
export class PostgresServer extends AddonServer {
  readonly type = 'postgres';
  readonly uses = 'pg-database';
  readonly product = 'PostgreSQL';
  protected readonly ownAdmin = PG_ADMIN;
  readonly binDir: string;

  constructor(ctx: AddonServerContext) {
    super(ctx, 'postgres');
    this.binDir = ctx.binDir ?? defaultPostgresBinDir();
  }

  bin(program: string): string {
    return join(this.binDir, program);
  }

  /** The directory of its unix socket (`.s.PGSQL.<port>`), as libpq's host. */
  get socketDir(): string {
    return this.system?.address ?? this.paths.run;
  }

  get socketPath(): string {
    return join(this.socketDir, `.s.PGSQL.${this.ctx.port}`);
  }

  get pidFile(): string {
    return join(this.paths.data, 'postmaster.pid');
  }

  readonly pidMarker = 'postgres';

  protected async initialize(dataDir: string): Promise<void> {
    const pwfile = join(this.paths.dir, '.initdb-password');
    this.writeOwned(pwfile, `${this.adminPassword()}\n`);
    try {
      await this.runAsAccount([this.bin('initdb'), '-D', dataDir, `--username=${PG_ADMIN}`, `--pwfile=${pwfile}`,
        '--auth-local=scram-sha-256', '--auth-host=scram-sha-256', '--encoding=UTF8', '--locale=C.UTF-8']);
    } finally {
      rmSync(pwfile, { force: true });
    }
  }

  protected configure(): void {
    this.writeOwned(join(this.paths.data, 'pg_hba.conf'), PG_HBA);
  }

  /**
   * The running server's client authentication is this hop3's: a server started by an earlier one
   * (adopted across an upgrade) still has `sameuser`, which lets no app's own login in. Rewritten
   * and reloaded only when it differs.
   */
  async ensureHba(): Promise<void> {
    // The machine's client authentication is its administrator's (Debian's lets loopback logins in by password).
    if (this.system !== null) return;
    if (readTextOrNull(join(this.paths.data, 'pg_hba.conf')) === PG_HBA) return;
    this.configure();
    await this.withAdmin((c) => c.query('SELECT pg_reload_conf()'));
  }

  protected argv(): string[] {
    return [this.bin('postgres'), '-D', this.paths.data, '-c', `port=${this.ctx.port}`, '-c', 'listen_addresses=127.0.0.1',
      '-c', `unix_socket_directories=${this.paths.run}`, '-c', 'unix_socket_permissions=0700', '-c', 'logging_collector=off',
      '-c', 'password_encryption=scram-sha-256',
      // After a crash, one syncfs instead of an fsync of every file: restarted within a second, not several.
      '-c', 'recovery_init_sync_method=syncfs'];
  }

  protected sockets(): string[] {
    return [this.socketPath];
  }

  /** Fast shutdown: open sessions are ended, not waited for. */
  protected override stopSignal(): NodeJS.Signals {
    return 'SIGINT';
  }

  /** A session as hop3's admin over the unix socket, closed after `fn`. */
  async withAdmin<T>(fn: (c: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
    const admin = this.adminLogin();
    const c = new (await pgLibrary()).Client({ host: this.socketDir, port: this.ctx.port, user: admin.user, ...(admin.password === null ? {} : { password: admin.password }), database, connectionTimeoutMillis: PING_TIMEOUT_MS });
    c.on('error', () => undefined);
    await withTimeout(c.connect(), PING_TIMEOUT_MS + 500, this.label).catch(async (err: unknown) => {
      await c.end().catch(() => undefined);
      throw operationalError('ADDON_SERVER_DOWN', `${this.label} cannot be reached: ${(err as Error).message}`, { cause: err });
    });
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => undefined);
    }
  }

  protected async pingOnce(): Promise<void> {
    await this.withAdmin((c) => withTimeout(c.query('SELECT 1'), PING_TIMEOUT_MS, this.label));
  }

  async version(): Promise<string> {
    return this.withAdmin(async (c) => String((await c.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version));
  }
}
