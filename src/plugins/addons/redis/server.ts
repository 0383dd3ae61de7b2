import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { createClient } from 'redis';
import { redisLibrary } from '../client-libraries.js';
import { operationalError } from '../../../lib/errors.js';
import { AddonServer, PING_TIMEOUT_MS, withTimeout, type AddonServerContext } from '../server-process.js';

/** The ACL user hop3 administers its Redis with; `default` is switched off. */
export const REDIS_ADMIN = 'hop3';

export type RedisAdmin = ReturnType<typeof createClient>;

export const sha256Hex = (password: string) => createHash('sha256').update(password, 'utf8').digest('hex');

/** hop3's own Redis (7 on Debian 12), under HOP3_HOME/addons/redis/. */
export class RedisServer extends AddonServer {
  readonly type = 'redis';
  readonly uses = 'redis-user';
  readonly product = 'Redis';
  protected readonly ownAdmin = REDIS_ADMIN;

  constructor(ctx: AddonServerContext) {
    super(ctx, 'redis');
  }

  get socketPath(): string {
    return join(this.paths.run, 'redis.sock');
  }

  /** ACL users live here (ACL SAVE after each change), so they survive a restart. */
  get aclFile(): string {
    return join(this.paths.dir, 'users.acl');
  }

  private get confFile(): string {
    return join(this.paths.dir, 'redis.conf');
  }

  get pidFile(): string {
    return join(this.paths.run, 'redis.pid');
  }

  readonly pidMarker = 'redis-server';

  protected async initialize(): Promise<void> {
    // Only hop3's admin (by the SHA-256 of its password); `default`, which any client is before
    // AUTH, may do nothing. Kept when present: it holds every instance's user.
    if (!existsSync(this.aclFile)) this.writeOwned(this.aclFile, `user default off resetkeys resetchannels -@all\nuser ${REDIS_ADMIN} on #${sha256Hex(this.adminPassword())} ~* &* +@all\n`);
  }

  /**
   * Loopback and a 0700 socket; an append-only file besides the snapshots, so a SIGKILL loses
   * at most a second of writes; no DEBUG or MODULE command for anyone.
   */
  protected configure(): void {
    this.writeOwned(this.confFile, `# written by hop3 at every start
port ${this.ctx.port}
bind 127.0.0.1
protected-mode yes
unixsocket ${this.socketPath}
unixsocketperm 700
daemonize no
pidfile ${this.pidFile}
logfile ""
dir ${this.paths.data}
dbfilename dump.rdb
save 3600 1 300 100 60 10000
appendonly yes
appendfsync everysec
aclfile ${this.aclFile}
enable-debug-command no
enable-module-command no
enable-protected-configs no
`);
  }

  protected argv(): string[] {
    return [this.bin('redis-server'), this.confFile];
  }

  bin(program: string): string {
    return this.ctx.binDir === undefined ? program : join(this.ctx.binDir, program);
  }

  protected sockets(): string[] {
    return [this.socketPath];
  }

  /** A connection as hop3's admin over the unix socket, closed after `fn`. */
  async withAdmin<T>(fn: (c: RedisAdmin) => Promise<T>): Promise<T> {
    // The machine's Redis over loopback TCP (its socket, if any, is not known); without a password, no AUTH: its `default` user.
    const admin = this.adminLogin();
    const socket = this.system === null ? { path: this.socketPath } : { host: this.system.address, port: this.ctx.port };
    const { createClient } = await redisLibrary();
    const c: RedisAdmin = createClient({ socket: { ...socket, connectTimeout: PING_TIMEOUT_MS, reconnectStrategy: false }, ...(admin.password === null ? {} : { username: admin.user, password: admin.password }) });
    c.on('error', () => undefined);
    try {
      await withTimeout(c.connect(), PING_TIMEOUT_MS + 500, this.label);
    } catch (err) {
      c.destroy();
      throw operationalError('ADDON_SERVER_DOWN', `${this.label} cannot be reached: ${(err as Error).message}`, { cause: err });
    }
    try {
      return await fn(c);
    } finally {
      c.destroy();
    }
  }

  protected async pingOnce(): Promise<void> {
    await this.withAdmin((c) => withTimeout(c.ping(), PING_TIMEOUT_MS, this.label));
  }

  async version(): Promise<string> {
    return this.withAdmin(async (c) => /redis_version:(\S+)/.exec(String(await c.info('server')))?.[1] ?? 'unknown');
  }
}
