import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { operationalError } from '../../lib/errors.js';
import type { Exec } from '../../lib/exec.js';
import { createFileOnce, writeFileAtomic } from '../../lib/fs-atomic.js';
import type { Layout } from '../../lib/layout.js';
import type { Logger } from '../../lib/logger.js';
import { readTextOrNull } from '../../lib/fs-atomic.js';
import type { HostServer } from '../types.js';
import type { SystemServer } from './system.js';

export type AddonType = 'postgres' | 'mariadb' | 'redis';

/** The unprivileged account an addon server runs as while hop3 runs as root (PostgreSQL refuses root). */
export interface AddonAccount {
  user: string;
  uid: number;
  gid: number;
}

/** What an addon server control needs; one object, passed in. */
export interface AddonServerContext {
  layout: Layout;
  log: Logger;
  exec: Exec;
  /** The loopback TCP port apps connect to. */
  port: number;
  /** Who runs the server: null is hop3's own user (only when hop3 is not root). */
  account: AddonAccount | null;
  /** Where the server's programs are (PostgreSQL's are outside PATH on Debian); absent: the default. */
  binDir?: string;
  /** Whether running it is wanted (some addon of its type exists); absent: always. */
  wanted?: () => boolean;
  /** Run before each start: what the first start needs (its account, its port chosen and recorded). */
  prepare?: () => Promise<void>;
  /** HOP3_ADDONS=system: the machine's server, which hop3 administers and never runs; absent: hop3's own. */
  system?: SystemServer | null;
}

/** Where an addon server lives: everything under HOP3_HOME/addons/<type>/, its admin password in secrets/. */
export interface AddonPaths {
  dir: string;
  data: string;
  /** Sockets and pid files: 0700, the server's own. */
  run: string;
  log: string;
  adminSecret: string;
}

export function addonPaths(layout: Layout, type: AddonType): AddonPaths {
  const dir = join(layout.home, 'addons', type);
  return { dir, data: join(dir, 'data'), run: join(dir, 'run'), log: join(layout.log, `addon-${type}.log`), adminSecret: join(layout.secrets, `addon-${type}-admin`) };
}

/** How long a start may take (MariaDB's first start after a kill runs InnoDB's crash recovery). */
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;
/** A ping later than this is no answer. */
export const PING_TIMEOUT_MS = 2_000;

/**
 * One addon server hop3 runs itself, detached (it outlives hop3-server, as the emperor does):
 * initialised on first use, started as the addon account on loopback and a unix socket, pinged
 * for health, stopped. A type says how to initialise, start and ping its server; this says when.
 */
export abstract class AddonServer implements HostServer {
  abstract readonly type: AddonType;
  abstract readonly uses: string;
  readonly paths: AddonPaths;
  protected readonly ctx: AddonServerContext;
  private starting: Promise<'started' | 'running' | 'system'> | null = null;
  private admin: string | null = null;
  private realData: string | null = null;

  constructor(ctx: AddonServerContext, type: AddonType) {
    this.ctx = ctx;
    this.paths = addonPaths(ctx.layout, type);
  }

  get resource(): string {
    return `addon-server:${this.type}`;
  }

  get port(): number {
    return this.ctx.port;
  }

  /** The machine's server this is (HOP3_ADDONS=system), or null for hop3's own. */
  get system(): SystemServer | null {
    return this.ctx.system ?? null;
  }

  /** Whose server it is, for messages: "hop3's PostgreSQL" or "the machine's PostgreSQL". */
  abstract readonly product: string;
  get label(): string {
    return `${this.system === null ? "hop3's" : "the machine's"} ${this.product}`;
  }

  /** hop3's own admin account on its own server. */
  protected abstract readonly ownAdmin: string;

  /** Who hop3 administers it as, and the password (null: none, the socket's peer or an open default user is enough). */
  adminLogin(): { user: string; password: string | null } {
    const s = this.system;
    return s === null ? { user: this.ownAdmin, password: this.adminPassword() } : { user: s.admin, password: s.password() };
  }

  /** How programs are run (dump and restore tools run as hop3, not as the account). */
  get exec(): Exec {
    return this.ctx.exec;
  }

  /** The file the server writes its pid into (its first line). */
  abstract readonly pidFile: string;
  /** What its command line contains (a recycled pid is not it). */
  abstract readonly pidMarker: string;
  /**
   * Make a new data directory in `dataDir` (empty, the account's). It becomes the server's data
   * directory only once this has returned: an interrupted initialisation is started over, and a
   * data directory is never removed or written over.
   */
  protected abstract initialize(dataDir: string): Promise<void>;
  /** Written before every start: the server's own config (ports, sockets), from the context. */
  protected abstract configure(): void;
  protected abstract argv(): string[];
  /** The socket files a killed server leaves, which a new one could not bind. */
  protected abstract sockets(): string[];
  /** The signal for a fast, clean shutdown (PostgreSQL's SIGTERM waits for every client). */
  protected stopSignal(): NodeJS.Signals {
    return 'SIGTERM';
  }
  /** Run once the server answers after its first start (MariaDB creates hop3's admin user then). */
  protected async afterStart(): Promise<void> {}
  /** One admin round trip; rejects when the server does not answer. */
  protected abstract pingOnce(): Promise<void>;
  abstract version(): Promise<string>;

  /**
   * Its pid when it runs: the pid file's process is alive, not a zombie, and works in this
   * server's data directory (a recycled pid, or another home's server, is not ours).
   */
  pid(): number | null {
    // The machine's server is not hop3's to look after by pid: its health is the ping.
    if (this.system !== null) return null;
    const pid = Number(readTextOrNull(this.pidFile)?.split('\n')[0]?.trim());
    if (!Number.isInteger(pid) || pid <= 1 || !processAlive(pid)) return null;
    try {
      // The kernel reports the resolved path: a HOP3_HOME reached through a link is compared as such.
      this.realData ??= realpathSync(this.paths.data);
      return readlinkSync(`/proc/${pid}/cwd`) === this.realData ? pid : null;
    } catch {
      return null;
    }
  }

  alive(): boolean {
    return this.pid() !== null;
  }

  /** Some addon of its type exists: hop3 runs its own server then, or looks at the machine's. */
  wanted(): boolean {
    return this.ctx.wanted?.() ?? true;
  }

  /**
   * hop3's to run while some addon of its type exists (a machine without addons runs no database
   * server); never the machine's own (HOP3_ADDONS=system).
   */
  managed(): boolean {
    return this.system === null && this.wanted();
  }

  /** Whether it can be worked with now: hop3's own runs; the machine's answers its admin. */
  async reachable(): Promise<boolean> {
    return this.system === null ? this.alive() : this.ping();
  }

  /** The password of hop3's admin account on this server (0600 in secrets/, made once). */
  adminPassword(): string {
    this.admin ??= readOrCreateSecret(this.paths.adminSecret);
    return this.admin;
  }

  /** Whether it answers an admin request now. Never throws. */
  async ping(): Promise<boolean> {
    try {
      await this.pingOnce();
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Start it unless it runs; initialise it first on first use. One start at a time. The machine's
   * server is only asked whether it answers: hop3 never starts it.
   */
  ensureRunning(): Promise<'started' | 'running' | 'system'> {
    if (this.system !== null) return this.answersOrThrow();
    this.starting ??= this.start().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async answersOrThrow(): Promise<'system'> {
    if (await this.ping()) return 'system';
    throw operationalError('ADDON_SERVER_DOWN', `${this.label} does not answer its admin ${this.adminLogin().user} (HOP3_ADDONS=system: hop3 does not start it)`, {
      hint: `start it the machine's way (systemctl start ${this.type === 'postgres' ? 'postgresql' : this.type === 'mariadb' ? 'mariadb' : 'redis-server'}), or check its admin's password (${this.system?.passwordFile ?? 'HOP3_ADDONS_ADMIN_SECRETS unset: none'})`,
    });
  }

  private async start(): Promise<'started' | 'running'> {
    if (this.pid() !== null) return 'running';
    await this.ctx.prepare?.();
    this.prepareDirs();
    if (!existsSync(this.paths.data)) {
      this.ctx.log.info({ addon: this.type, dir: this.paths.dir }, 'initialising the addon server');
      const fresh = `${this.paths.data}.init`;
      rmSync(fresh, { recursive: true, force: true });
      this.ownedDir(fresh);
      await this.initialize(fresh);
      renameSync(fresh, this.paths.data);
    }
    this.configure();
    for (const s of this.sockets()) {
      // sun_path holds 107 bytes: a longer path fails deep inside the server with a vaguer error.
      if (Buffer.byteLength(s) > 107) {
        throw operationalError('ADDON_SERVER_START_FAILED', `the socket path of hop3's ${this.type} server is too long for a unix socket (${Buffer.byteLength(s)} bytes, at most 107): ${s}`, {
          hint: 'use a shorter HOP3_HOME',
        });
      }
      rmSync(s, { force: true });
    }
    const logFrom = statSync(this.paths.log, { throwIfNoEntry: false })?.size ?? 0;
    const pid = this.ctx.exec.spawnDetached(this.asAccount(this.argv()), this.paths.log, this.childEnv());
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline && processAlive(pid)) {
      if (await this.ping()) return 'started';
      // Not answering hop3's admin yet: on MariaDB's first start that account is made now.
      if (this.pid() !== null) await this.afterStart().catch(() => undefined);
      await sleep(50);
    }
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    const output = existsSync(this.paths.log) ? readFileSync(this.paths.log).subarray(logFrom).toString('utf8') : '';
    throw operationalError('ADDON_SERVER_START_FAILED', `hop3's ${this.type} server did not start: ${lastLines(output)}`, {
      hint: `see ${this.paths.log}; its data is in ${this.paths.data}`, details: { port: this.ctx.port, log: this.paths.log },
    });
  }

  /** Stop it and wait until it is gone (SIGKILL after a bound). The machine's server is never stopped. */
  async stop(): Promise<void> {
    if (this.system !== null) return;
    const pid = this.pid();
    if (pid === null) return;
    process.kill(pid, this.stopSignal());
    const deadline = Date.now() + STOP_TIMEOUT_MS;
    while (processAlive(pid) && Date.now() < deadline) await sleep(25);
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
  }

  /** The program run as the addon account: setpriv execs it, so the pid is the server's. */
  protected asAccount(argv: string[]): string[] {
    const a = this.ctx.account;
    return a === null ? argv : ['setpriv', `--reuid=${a.uid}`, `--regid=${a.gid}`, '--clear-groups', '--', ...argv];
  }

  /** The server never reads the daemon's HOME. */
  protected childEnv(): Record<string, string> {
    return { HOME: this.paths.dir };
  }

  /** Run a program of the server's (initdb, mariadb-install-db) as the addon account. */
  protected async runAsAccount(argv: string[]): Promise<void> {
    try {
      await this.ctx.exec.run(this.asAccount(argv), { cwd: this.paths.dir, env: this.childEnv(), timeoutMs: 120_000 });
    } catch (err) {
      const output = (err as { output?: string }).output ?? '';
      throw operationalError('ADDON_SERVER_START_FAILED', `${basename(argv[0] ?? '')} failed for hop3's ${this.type} server: ${lastLines(output)}`, { cause: err });
    }
  }

  /** A file of the server's own (its config, its ACL file): written by rename, owned by the account. */
  protected writeOwned(path: string, content: string, mode = 0o600): void {
    if (readTextOrNull(path) !== content) writeFileAtomic(path, content, mode);
    this.own(path);
  }

  protected own(path: string): void {
    const a = this.ctx.account;
    if (a === null) return;
    const st = statSync(path);
    if (st.uid !== a.uid || st.gid !== a.gid) chownSync(path, a.uid, a.gid);
  }

  /**
   * `addons/` is passed through (0711) on the way to each server's own 0700 directory, owned by
   * the account; HOP3_HOME gets o+x for the same reason (ensureLayout keeps it while `addons/` exists).
   */
  private prepareDirs(): void {
    const { layout } = this.ctx;
    mkdirSync(layout.log, { recursive: true, mode: 0o700 });
    mkdirSync(layout.secrets, { recursive: true, mode: 0o700 });
    const addons = dirname(this.paths.dir);
    mkdirSync(addons, { recursive: true, mode: 0o711 });
    if (this.ctx.account !== null) {
      chmodSync(addons, 0o711);
      const home = statSync(layout.home);
      if ((home.mode & 0o001) === 0) chmodSync(layout.home, (home.mode & 0o777) | 0o001);
    }
    for (const dir of [this.paths.dir, this.paths.run]) this.ownedDir(dir);
  }

  private ownedDir(dir: string): void {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if ((statSync(dir).mode & 0o777) !== 0o700) chmodSync(dir, 0o700);
    this.own(dir);
  }
}

/** A random secret in `path` (0600), created once: a second process racing the first reads its value. */
export function readOrCreateSecret(path: string): string {
  const existing = readTextOrNull(path)?.trim();
  if (existing) return existing;
  return createFileOnce(path, `${randomPassword()}\n`).toString('utf8').trim();
}

/** 32 characters of base64url (192 bits): nothing a URL, a config file or SQL would have to escape. */
export function randomPassword(): string {
  return randomBytes(24).toString('base64url');
}

export const PASSWORD_PATTERN = /^[A-Za-z0-9_-]{16,128}$/;

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return readTextOrNull(`/proc/${pid}/stat`)?.split(') ')[1]?.startsWith('Z') !== true;
  } catch {
    return false;
  }
}

export function lastLines(output: string, n = 3): string {
  return output.trim().split('\n').slice(-n).join(' ').slice(0, 2000);
}

/** A promise that rejects after `ms`: observations of a server that hangs end. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(operationalError('ADDON_SERVER_DOWN', `${what} did not answer within ${ms} ms`)), ms);
    }),
  ]);
}
