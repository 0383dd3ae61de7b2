import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import type mysql from 'mysql2/promise';
import { mysqlLibrary } from '../client-libraries.js';
import { operationalError } from '../../../lib/errors.js';
import { writeFileAtomic } from '../../../lib/fs-atomic.js';
import { AddonServer, PASSWORD_PATTERN, PING_TIMEOUT_MS, withTimeout, type AddonServerContext } from '../server-process.js';

/**
 * The hash mysql_native_password stores (`*` and SHA1(SHA1(password)) in hex): statements carry
 * it, not the password.
 */
export function nativePasswordHash(password: string): string {
  const once = createHash('sha1').update(password, 'utf8').digest();
  return `*${createHash('sha1').update(once).digest('hex').toUpperCase()}`;
}

/** The account hop3 administers its MariaDB with: `hop3`@`localhost`, i.e. only over the unix socket. */
export const MARIADB_ADMIN = 'hop3';

/** hop3's own MariaDB (10.11 on Debian 12), under HOP3_HOME/addons/mariadb/. */
export class MariadbServer extends AddonServer {
  readonly type = 'mariadb';
  readonly uses = 'mariadb-database';
  readonly product = 'MariaDB';
  protected readonly ownAdmin = MARIADB_ADMIN;

  constructor(ctx: AddonServerContext) {
    super(ctx, 'mariadb');
  }

  bin(program: string): string {
    return this.ctx.binDir === undefined ? program : join(this.ctx.binDir, program);
  }

  get socketPath(): string {
    return this.system?.address ?? join(this.paths.run, 'mariadb.sock');
  }

  /** Written once hop3's admin account exists: until then only the OS account that installed it gets in. */
  private get adminMarker(): string {
    return join(this.paths.dir, 'admin-ready');
  }

  get pidFile(): string {
    return join(this.paths.run, 'mariadb.pid');
  }

  readonly pidMarker = 'mariadbd';

  protected async initialize(dataDir: string): Promise<void> {
    rmSync(this.adminMarker, { force: true });
    // The only account it makes is authenticated by the unix socket's peer: hop3's own OS user,
    // who makes hop3's password admin at the first start (afterStart), over the 0700 socket.
    await this.runAsAccount([this.bin('mariadb-install-db'), '--no-defaults', `--datadir=${dataDir}`,
      '--auth-root-authentication-method=socket', `--auth-root-socket-user=${userInfo().username}`, '--skip-test-db']);
  }

  protected configure(): void {}

  protected argv(): string[] {
    return [this.bin('mariadbd'), '--no-defaults', `--datadir=${this.paths.data}`, `--socket=${this.socketPath}`, `--port=${this.ctx.port}`,
      '--bind-address=127.0.0.1', `--pid-file=${this.pidFile}`, '--skip-name-resolve', '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_unicode_ci', '--local-infile=0', '--symbolic-links=0'];
  }

  protected sockets(): string[] {
    return [this.socketPath];
  }

  /**
   * The first start: create hop3's admin with its password, as the OS user the install let in.
   * The password goes on stdin, never in argv.
   */
  protected override async afterStart(): Promise<void> {
    if (existsSync(this.adminMarker)) return;
    const password = this.adminPassword();
    if (!PASSWORD_PATTERN.test(password)) throw operationalError('ADDON_SERVER_START_FAILED', 'the MariaDB admin password in secrets/ is not one hop3 made');
    const hash = nativePasswordHash(password);
    const sql = `CREATE USER IF NOT EXISTS '${MARIADB_ADMIN}'@'localhost' IDENTIFIED BY PASSWORD '${hash}';
ALTER USER '${MARIADB_ADMIN}'@'localhost' IDENTIFIED BY PASSWORD '${hash}';
GRANT ALL PRIVILEGES ON *.* TO '${MARIADB_ADMIN}'@'localhost' WITH GRANT OPTION;
DROP USER IF EXISTS ''@'localhost';
`;
    await this.ctx.exec.run([this.bin('mariadb'), '--no-defaults', `--socket=${this.socketPath}`, `--user=${userInfo().username}`, '--batch'], { input: sql, timeoutMs: 30_000 });
    writeFileAtomic(this.adminMarker, 'hop3 admin created\n', 0o600);
  }

  /** A session as hop3's admin over the unix socket, closed after `fn`. */
  async withAdmin<T>(fn: (c: mysql.Connection) => Promise<T>): Promise<T> {
    let c: mysql.Connection;
    try {
      // Without a password the machine's root gets in by unix_socket authentication (hop3 runs as root).
      const admin = this.adminLogin();
      c = await withTimeout((await mysqlLibrary()).createConnection({ socketPath: this.socketPath, user: admin.user, ...(admin.password === null ? {} : { password: admin.password }), connectTimeout: PING_TIMEOUT_MS, multipleStatements: false }), PING_TIMEOUT_MS + 500, this.label);
    } catch (err) {
      throw operationalError('ADDON_SERVER_DOWN', `${this.label} cannot be reached: ${(err as Error).message}`, { cause: err });
    }
    c.on('error', () => undefined);
    try {
      return await fn(c);
    } finally {
      await c.end().catch(() => c.destroy());
    }
  }

  protected async pingOnce(): Promise<void> {
    await this.withAdmin((c) => withTimeout(c.query('SELECT 1'), PING_TIMEOUT_MS, this.label));
  }

  async version(): Promise<string> {
    return this.withAdmin(async (c) => {
      const [rows] = await c.query('SELECT VERSION() AS v');
      return String((rows as Array<{ v: string }>)[0]?.v);
    });
  }
}
