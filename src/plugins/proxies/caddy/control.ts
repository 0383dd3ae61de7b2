import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { operationalError, errorMessage } from '../../../lib/errors.js';
import { ExecError, type Exec } from '../../../lib/exec.js';
import { readTextOrNull, writeFileAtomic } from '../../../lib/fs-atomic.js';
import type { Layout } from '../../../lib/layout.js';
import { privateDir } from '../../../lib/layout.js';
import type { Logger } from '../../../lib/logger.js';
import { livePid } from '../../../lib/pidfile.js';
import { UNKNOWN, type Unknown } from '../../../lib/unknown.js';
import { adminRequest } from './admin-api.js';
import { assertStaticRootLinks } from './static-root-links.js';
import { canonicalJson, renderCaddyConfig, type CaddyConfig, type CaddyDesired, type CaddySettings } from './config.js';

/** Where hop3's Caddy lives: all of it under HOP3_HOME. */
export interface CaddyPaths {
  dir: string;
  /** The last config Caddy accepted: what a restarted Caddy loads. */
  config: string;
  /** A config being checked by `caddy validate`. */
  candidate: string;
  adminSocket: string;
  pidfile: string;
  log: string;
  storage: string;
}

export function caddyPaths(layout: Layout): CaddyPaths {
  const dir = join(layout.home, 'caddy');
  return {
    dir,
    config: join(dir, 'caddy.json'),
    candidate: join(dir, 'candidate.json'),
    adminSocket: join(layout.run, 'caddy-admin.sock'),
    pidfile: join(layout.run, 'caddy.pid'),
    log: join(layout.log, 'caddy.log'),
    storage: join(dir, 'data'),
  };
}

/** What CaddyControl needs; one object, passed in. */
export interface CaddyContext {
  layout: Layout;
  log: Logger;
  httpPort: number;
  /** Where HTTPS is served once some site has TLS. */
  httpsPort?: number;
  /** The caddy binary. */
  bin: string;
  exec: Exec;
}

export type CaddyLive = CaddyConfig;

/** How long a start may take before it is a failure (Caddy is up in well under a second). */
const START_TIMEOUT_MS = 10_000;
/** Observing is a read of the admin socket; an answer later than this is no answer. */
const OBSERVE_TIMEOUT_MS = 2_000;

/**
 * hop3's own Caddy, as a provider of one resource (the whole loaded config): `observe` reads
 * what Caddy has *loaded* through its admin endpoint, `diff` compares it with the desired one,
 * and `apply` activates a config only after Caddy itself has validated it. The admin endpoint
 * is a unix socket under HOP3_HOME/run (0700), never a TCP port.
 */
export class CaddyControl {
  readonly resource = 'proxy';
  readonly paths: CaddyPaths;
  private readonly ctx: CaddyContext;
  private starting: Promise<'started' | 'running'> | null = null;
  /** Applies run one after another: each loads a whole config. */
  private applying: Promise<unknown> = Promise.resolve();
  /**
   * Static roots whose links were found safe. A release's files do not change once it is built,
   * so a root is walked once per daemon, not on every apply of every app's change.
   */
  private readonly checkedRoots = new Set<string>();
  /** Compact canonical text of configs seen: desired ones as rendered, live ones as Caddy sent them. */
  private readonly texts = new WeakMap<object, string>();

  constructor(ctx: CaddyContext) {
    this.ctx = ctx;
    this.paths = caddyPaths(ctx.layout);
  }

  settings(): CaddySettings {
    return {
      httpPort: this.ctx.httpPort,
      adminSocket: this.paths.adminSocket,
      storageDir: this.paths.storage,
      ...(this.ctx.httpsPort === undefined ? {} : { httpsPort: this.ctx.httpsPort }),
      challengeDir: this.ctx.layout.challenges,
    };
  }

  /** Pure: the desired config for these sites, with this Caddy's settings. */
  desired(sites: Parameters<typeof renderCaddyConfig>[0]): CaddyDesired {
    return renderCaddyConfig(sites, this.settings());
  }

  pid(): number | null {
    // The config path is in its command line: another home's Caddy that got a reused pid is not ours.
    return livePid(this.paths.pidfile, this.paths.config);
  }

  alive(): boolean {
    return this.pid() !== null;
  }

  /**
   * Caddy never reads the daemon's HOME: its instance id and anything it would keep in the
   * user's data or config directory stay under HOP3_HOME.
   */
  private env(): Record<string, string> {
    return { HOME: this.paths.dir, XDG_DATA_HOME: join(this.paths.dir, 'xdg'), XDG_CONFIG_HOME: join(this.paths.dir, 'xdg') };
  }

  /**
   * The config Caddy has loaded: the config, null when Caddy runs with none, or Unknown when the
   * admin endpoint cannot be asked (Caddy is down, its socket is gone, it does not answer) — a
   * proxy that cannot be seen is not a proxy without sites.
   */
  async observe(): Promise<CaddyLive | null | Unknown> {
    try {
      const reply = await adminRequest(this.paths.adminSocket, 'GET', '/config/', OBSERVE_TIMEOUT_MS);
      if (reply.status !== 200) return UNKNOWN;
      const value: unknown = JSON.parse(reply.body);
      if (value === null) return null;
      if (typeof value !== 'object' || Array.isArray(value)) return UNKNOWN;
      this.texts.set(value, reply.body.trimEnd());
      return value as CaddyLive;
    } catch {
      return UNKNOWN;
    }
  }

  /**
   * Whether the loaded config is the desired one, key order and spacing aside. Caddy answers in
   * the compact canonical form, so the text it sent is compared first; only a config that
   * differs in text is compared as data (a pass over 1,000 sites then costs no re-serializing).
   */
  diff(desired: CaddyDesired, live: CaddyLive): 'none' | 'update' {
    let want = this.texts.get(desired.config);
    if (want === undefined) {
      want = canonicalJson(desired.config, 0);
      this.texts.set(desired.config, want);
    }
    if (this.texts.get(live) === want) return 'none';
    return want === canonicalJson(live, 0) ? 'none' : 'update';
  }

  /** Start hop3's Caddy unless it runs, with the last config it accepted. One start at a time. */
  ensureRunning(): Promise<'started' | 'running'> {
    this.starting ??= this.start().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async start(): Promise<'started' | 'running'> {
    if (this.pid() !== null) return 'running';
    const { paths, ctx } = this;
    privateDir(paths.dir);
    privateDir(paths.storage);
    mkdirSync(ctx.layout.run, { recursive: true, mode: 0o700 });
    mkdirSync(ctx.layout.log, { recursive: true, mode: 0o700 });
    if (!existsSync(paths.config)) writeFileAtomic(paths.config, `${canonicalJson(this.desired([]).config)}\n`, 0o600);
    // A killed Caddy leaves its socket file, which a new one could not bind.
    rmSync(paths.adminSocket, { force: true });
    const logFrom = statSync(paths.log, { throwIfNoEntry: false })?.size ?? 0;
    const pid = ctx.exec.spawnDetached([ctx.bin, 'run', '--config', paths.config, '--pidfile', paths.pidfile], paths.log, this.env());
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      // Caddy writes its pid file after its admin endpoint answers: until then it is not yet ours to adopt.
      if ((await this.observe()) !== UNKNOWN && this.pid() === pid) return 'started';
      if (!processAlive(pid)) break;
      await sleep(50);
    }
    if (processAlive(pid)) process.kill(pid, 'SIGKILL');
    const output = existsSync(paths.log) ? readFileSync(paths.log).subarray(logFrom).toString('utf8').trim() : '';
    const inUse = /address already in use/.test(output);
    throw operationalError(inUse ? 'HTTP_PORT_IN_USE' : 'CADDY_START_FAILED',
      inUse ? `hop3's Caddy cannot listen on port ${ctx.httpPort}: it is already in use by another program` : `hop3's Caddy did not start: ${lastLines(output)}`, {
        hint: inUse
          ? `stop the other server (often the system caddy or nginx; \`ss -ltnp 'sport = :${ctx.httpPort}'\` shows who holds the port), or set HOP3_HTTP_PORT to a free port`
          : `see ${paths.log}; the config it was started with is ${paths.config}`,
        details: { port: ctx.httpPort, log: paths.log },
      });
  }

  /**
   * Activate `desired`: refuse a static root with a link Caddy must not follow, have Caddy validate
   * the config, then load it through the admin endpoint. Whatever fails, the loaded config stays
   * as it was, and so does the file a restarted Caddy would load.
   */
  apply(desired: CaddyDesired): Promise<void> {
    const next = this.applying.then(() => this.applyNow(desired));
    this.applying = next.catch(() => undefined);
    return next;
  }

  private async applyNow(desired: CaddyDesired): Promise<void> {
    for (const root of desired.staticRoots) {
      if (this.checkedRoots.has(root)) continue;
      assertStaticRootLinks(root);
      if (existsSync(root)) this.checkedRoots.add(root);
    }
    const text = `${canonicalJson(desired.config)}\n`;
    await this.validate(text);
    if (this.starting) await this.starting.catch(() => undefined);
    if (this.pid() === null) {
      // Started with the config itself: the last one it accepted may be what keeps it down (a
      // config an older Caddy took), and this one has just been validated.
      writeFileAtomic(this.paths.config, text, 0o600);
      await this.ensureRunning();
      return;
    }
    let reply;
    try {
      reply = await adminRequest(this.paths.adminSocket, 'POST', '/load', 60_000, text);
    } catch (err) {
      throw operationalError('CADDY_DOWN', `hop3's Caddy could not be reached to load the config: ${errorMessage(err)}`, {
        hint: 'the config was not loaded; the next pass starts Caddy again and retries', cause: err,
      });
    }
    if (reply.status !== 200) {
      throw operationalError('CADDY_CONFIG_REJECTED', `Caddy refused to load the config: ${adminMessage(reply.body)}`, {
        hint: 'Caddy keeps the config it had loaded', details: { status: reply.status },
      });
    }
    writeFileAtomic(this.paths.config, text, 0o600);
  }

  /** `caddy validate`: Caddy provisions every module of the config without serving it. */
  private async validate(text: string): Promise<void> {
    privateDir(this.paths.dir);
    privateDir(this.paths.storage);
    writeFileAtomic(this.paths.candidate, text, 0o600);
    try {
      await this.ctx.exec.run([this.ctx.bin, 'validate', '--config', this.paths.candidate], { env: this.env(), timeoutMs: 30_000 });
    } catch (err) {
      const output = err instanceof ExecError ? err.output : errorMessage(err);
      throw operationalError('CADDY_CONFIG_REJECTED', `caddy validate rejected the config: ${lastLines(output)}`, {
        hint: 'the config was not loaded; Caddy keeps the one it had', cause: err,
      });
    } finally {
      rmSync(this.paths.candidate, { force: true });
    }
  }

  /** Stop hop3's Caddy (as `hop3-server halt` stops nginx) and wait until it is gone. */
  async stop(): Promise<void> {
    const pid = this.pid();
    if (pid === null) return;
    await adminRequest(this.paths.adminSocket, 'POST', '/stop', 5_000).catch(() => process.kill(pid, 'SIGTERM'));
    for (let i = 0; i < 200 && processAlive(pid) && this.pid() !== null; i++) await sleep(25);
    if (processAlive(pid) && this.pid() !== null) process.kill(pid, 'SIGKILL');
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return readTextOrNull(`/proc/${pid}/stat`)?.split(') ')[1]?.startsWith('Z') !== true;
  } catch {
    return false;
  }
}

function lastLines(output: string): string {
  return output.trim().split('\n').slice(-3).join(' ');
}

/** Caddy's admin errors are `{"error": "..."}`. */
function adminMessage(body: string): string {
  try {
    const v = JSON.parse(body) as { error?: unknown };
    if (typeof v.error === 'string') return v.error;
  } catch {
    // not JSON: the body as it is
  }
  return body.trim().slice(0, 2000);
}
