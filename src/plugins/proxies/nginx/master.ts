import { existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../../../lib/exec.js';
import { operationalError } from '../../../lib/errors.js';
import { writeIfDifferent, writeFileAtomic, readTextOrNull } from '../../../lib/fs-atomic.js';
import { childPids, livePid, sleep } from '../../../lib/pidfile.js';
import { renderTemplate } from '../../../lib/render.js';
import type { PluginContext } from '../../types.js';

/** Unprivileged user for nginx workers when hop3 runs as root. */
function workerUser(): string | null {
  if (process.getuid?.() !== 0) return null;
  const passwd = readTextOrNull('/etc/passwd') ?? '';
  return /^www-data:/m.test(passwd) ? 'www-data' : 'nobody';
}

/**
 * The nginx hop3 talks to: its own master (embedded mode) or the system's. Site changes go
 * through `apply`, which activates a file only after `nginx -t` accepts it.
 */
export class NginxControl {
  private readonly ctx: PluginContext;
  private readonly mainConf: string;
  private readonly pidfile: string;
  private lock: Promise<unknown> = Promise.resolve();
  /** Workers of earlier configurations still finishing their requests. */
  private readonly retiring = new Set<number>();

  constructor(ctx: PluginContext) {
    this.ctx = ctx;
    this.mainConf = join(ctx.layout.nginx, 'nginx.conf');
    this.pidfile = join(ctx.layout.run, 'nginx.pid');
  }

  private get embedded(): boolean {
    return this.ctx.config.nginxMode === 'embedded';
  }

  private args(): string[] {
    return this.embedded ? ['-p', this.ctx.layout.nginx, '-c', this.mainConf] : [];
  }

  pid(): number | null {
    return this.embedded ? livePid(this.pidfile, 'nginx') : null;
  }

  /** Write the main config and start the master if it is not running. Idempotent. */
  async ensureRunning(): Promise<'started' | 'running' | 'system'> {
    if (!this.embedded) return 'system';
    const { layout, config } = this.ctx;
    const conf = renderTemplate('nginx/main.conf.njk', {
      home: layout.home, httpPort: config.httpPort, user: workerUser(),
      mimeTypes: existsSync('/etc/nginx/mime.types') ? '/etc/nginx/mime.types' : join(layout.nginx, 'mime.types'),
    });
    if (!existsSync('/etc/nginx/mime.types')) writeIfDifferent(join(layout.nginx, 'mime.types'), 'types { text/html html; text/css css; application/javascript js; }\n');
    const changed = writeIfDifferent(this.mainConf, conf);
    const pid = this.pid();
    if (pid) {
      if (changed) await this.reload();
      return 'running';
    }
    // nginx daemonizes itself: the command returns once the master is up, and the master
    // outlives hop3-server so apps keep serving across daemon restarts.
    await run([config.nginxBin, ...this.args()], { timeoutMs: 30_000 });
    return 'started';
  }

  async stop(): Promise<void> {
    const pid = this.pid();
    if (!pid) return;
    process.kill(pid, 'SIGQUIT');
    for (let i = 0; i < 100 && this.pid(); i++) await sleep(50);
  }

  private async test(): Promise<void> {
    try {
      await run([this.ctx.config.nginxBin, '-t', '-q', ...this.args()], { timeoutMs: 30_000 });
    } catch (err) {
      const output = (err as { output?: string }).output ?? String(err);
      throw operationalError('NGINX_CONFIG_REJECTED', `nginx -t rejected the configuration: ${output.trim()}`, {
        hint: 'the previous configuration stays active', cause: err,
      });
    }
  }

  /**
   * Reload and wait until the new configuration takes every new connection: new workers are up
   * and the old ones have stopped accepting (nginx retitles them "shutting down").
   */
  private async reload(): Promise<void> {
    if (!this.embedded) {
      await run([this.ctx.config.nginxBin, '-s', 'reload'], { timeoutMs: 30_000 });
      return;
    }
    const pid = this.pid();
    if (!pid) throw operationalError('NGINX_DOWN', 'the embedded nginx master is not running');
    const before = new Set(childPids(pid));
    process.kill(pid, 'SIGHUP');
    const accepting = (c: number) => !(readTextOrNull(`/proc/${c}/cmdline`) ?? 'shutting down').includes('shutting down');
    for (let i = 0; i < 500; i++) {
      const now = childPids(pid);
      if (now.some((c) => !before.has(c)) && ![...before].some(accepting)) {
        for (const c of before) this.retiring.add(c);
        return;
      }
      await sleep(10);
    }
    throw operationalError('NGINX_RELOAD_TIMEOUT', 'nginx did not switch to the new configuration within 5 s of a reload');
  }

  /**
   * Wait until the workers of earlier configurations have finished their in-flight requests and
   * exited, so a backend they proxied to can be stopped without cutting a request.
   */
  async drained(timeoutMs = 30_000): Promise<void> {
    const master = this.pid();
    const deadline = Date.now() + timeoutMs;
    while (this.retiring.size > 0 && Date.now() < deadline) {
      const alive = new Set(master ? childPids(master) : []);
      for (const c of this.retiring) if (!alive.has(c)) this.retiring.delete(c);
      if (this.retiring.size > 0) await sleep(20);
    }
    this.retiring.clear();
  }

  /**
   * Put `content` at `path` (or remove it when null), check the whole configuration with the
   * real nginx, and reload. When nginx rejects it the previous file is restored and nothing
   * is reloaded, so the last good configuration stays active.
   */
  apply(path: string, content: string | null): Promise<void> {
    const next = this.lock.then(async () => {
      const previous = readTextOrNull(path);
      if (previous === content) return;
      if (content === null) unlinkSync(path);
      else writeFileAtomic(path, content);
      try {
        await this.test();
      } catch (err) {
        if (previous === null) unlinkSync(path);
        else writeFileAtomic(path, previous);
        throw err;
      }
      await this.reload();
    });
    this.lock = next.catch(() => undefined);
    return next;
  }

  /** The master's pid for `kill -0` style checks by tests and status. */
}


