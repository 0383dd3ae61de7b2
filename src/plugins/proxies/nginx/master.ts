import { createHash } from 'node:crypto';
import { failpoint } from '../../../lib/failpoint.js';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ExecError } from '../../../lib/exec.js';
import { operationalError } from '../../../lib/errors.js';
import { writeIfDifferent, writeFileAtomic, readTextOrNull } from '../../../lib/fs-atomic.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchQueue } from '../../../lib/batch-queue.js';
import { childPids, livePid } from '../../../lib/pidfile.js';
import { startTimeOf } from '../../../lib/procfs.js';
import { workerAccount } from '../../../lib/accounts.js';
import type { PluginContext, ProxyServer } from '../../types.js';
import { stopOrphanWorkers } from './orphan-workers.js';
import { SITE_KIND } from '../site-provider.js';

/**
 * What a running nginx master loaded: the master (pid and start time, so a restarted master or
 * a reused pid is told apart) and a digest of each file of hop3's as it was on disk just before
 * the master read its configuration. Kept in run/ so it outlives hop3-server.
 */
export interface LoadedRecord {
  pidFile: string;
  pid: number;
  startTime: string;
  digests: Record<string, string>;
}

const digest = (content: string) => createHash('sha256').update(content).digest('base64');


/**
 * The nginx hop3 talks to: its own master (embedded mode) or the system's. Site changes go
 * through `apply`, which activates a file only after `nginx -t` accepts it.
 */
export class NginxControl implements ProxyServer {
  readonly resource = 'proxy';
  readonly uses = SITE_KIND;
  private readonly ctx: PluginContext;
  private starting: Promise<'started' | 'running' | 'system'> | null = null;
  private readonly mainConf: string;
  readonly pidFile: string;
  readonly pidMarker = 'nginx';
  /** The main config as hop3 renders it; its inputs do not change while the daemon runs. */
  private mainConfText: string | null = null;
  private readonly changes = new BatchQueue<SiteChange>((batch) => this.applyBatch(batch));
  /** Workers of earlier configurations still finishing their requests. */
  private readonly retiring = new Set<number>();
  /** System mode: the master's pid file, as the configuration checked last names it. */
  private systemPidFile: string | null = null;
  private compiled: { prefix: string; pidPath: string } | null = null;
  private readonly loadedFile: string;
  private record: LoadedRecord | null;
  /** The running master as last looked up; a pass over many apps looks once. */
  private masterSeen: { at: number; value: { pid: number; startTime: string } | null } | null = null;
  /** The last digest computed per file, so an unchanged file is not hashed on every pass. */
  private readonly digestMemo = new Map<string, { content: string; digest: string }>();

  constructor(ctx: PluginContext) {
    this.ctx = ctx;
    this.mainConf = join(ctx.layout.nginx, 'nginx.conf');
    this.pidFile = join(ctx.layout.run, 'nginx.pid');
    this.loadedFile = join(ctx.layout.run, 'nginx-loaded.json');
    this.record = readRecord(this.loadedFile);
  }

  /** The system nginx is the system's to run; hop3 only reloads it. */
  managed(): boolean {
    return this.embedded;
  }

  /** The embedded master loaded nginx.conf as hop3 renders it now. */
  current(): boolean {
    if (!this.embedded) return true;
    const conf = this.mainConfig();
    return readTextOrNull(this.mainConf) === conf && this.loaded(this.mainConf, conf) !== false;
  }

  /** The pid file of the master whose loaded configuration is tracked, if it is known. */
  private trackedPidFile(): string | null {
    return this.embedded ? this.pidFile : (this.systemPidFile ?? this.record?.pidFile ?? null);
  }

  private runningMaster(): { pid: number; startTime: string } | null {
    const now = Date.now();
    if (this.masterSeen && now - this.masterSeen.at < 100) return this.masterSeen.value;
    const file = this.trackedPidFile();
    const pid = file ? livePid(file, 'nginx') : null;
    const startTime = pid ? startTimeOf(pid) : null;
    const value = pid && startTime ? { pid, startTime } : null;
    this.masterSeen = { at: now, value };
    return value;
  }

  private digestOf(path: string, content: string): string {
    const memo = this.digestMemo.get(path);
    if (memo?.content === content) return memo.digest;
    const d = digest(content);
    this.digestMemo.set(path, { content, digest: d });
    return d;
  }

  loaded(path: string, content: string | null): boolean | null {
    // The system nginx before its pid file is known (no check or reload yet): the file is all
    // there is to go by.
    if (this.trackedPidFile() === null) return true;
    const master = this.runningMaster();
    if (master === null) return null;
    const r = this.record;
    if (!r || r.pid !== master.pid || r.startTime !== master.startTime) return false;
    const seen = r.digests[path];
    return content === null ? seen === undefined : seen === this.digestOf(path, content);
  }

  /** hop3's own files as they are now: what a master that reads its configuration now loads. */
  private snapshot(): Record<string, string> {
    const { layout, config } = this.ctx;
    const digests: Record<string, string> = {};
    const add = (path: string) => {
      const content = readTextOrNull(path);
      if (content !== null) digests[path] = this.digestOf(path, content);
    };
    if (this.embedded) add(this.mainConf);
    const dir = this.embedded ? layout.nginxSites : config.systemNginxDir;
    const ours = this.embedded ? /^[^.].*\.conf$/ : /^hop3-.*\.conf$/;
    for (const f of existsSync(dir) ? readdirSync(dir) : []) if (ours.test(f)) add(join(dir, f));
    return digests;
  }

  /** Record that the master running now loaded `digests`. */
  private remember(digests: Record<string, string>): void {
    this.masterSeen = null;
    const file = this.trackedPidFile();
    const master = this.runningMaster();
    if (!file || !master) return;
    this.record = { pidFile: file, pid: master.pid, startTime: master.startTime, digests };
    writeFileAtomic(this.loadedFile, `${JSON.stringify(this.record)}\n`, 0o600);
  }

  private get embedded(): boolean {
    return this.ctx.config.nginxMode === 'embedded';
  }

  private args(): string[] {
    return this.embedded ? ['-p', this.ctx.layout.nginx, '-c', this.mainConf] : [];
  }

  pid(): number | null {
    return this.embedded ? livePid(this.pidFile, 'nginx') : null;
  }

  /**
   * Write the main config and start the master unless it runs (reload it when its config
   * changed or was never loaded). Idempotent, and one start at a time: a host pass and a resync may
   * both find it dead.
   */
  ensureRunning(): Promise<'started' | 'running' | 'system'> {
    this.starting ??= this.start().finally(() => {
      this.starting = null;
    });
    return this.starting;
  }

  private async start(): Promise<'started' | 'running' | 'system'> {
    if (!this.embedded) return 'system';
    const { layout, config } = this.ctx;
    const conf = this.mainConfig();
    if (!existsSync('/etc/nginx/mime.types')) writeIfDifferent(join(layout.nginx, 'mime.types'), 'types { text/html html; text/css css; application/javascript js; }\n');
    const changed = writeIfDifferent(this.mainConf, conf);
    const pid = this.pid();
    if (pid) {
      // Also when an earlier daemon wrote it and died before the reload.
      if (changed || this.loaded(this.mainConf, conf) === false) await this.reload();
      return 'running';
    }
    // Workers of a master that was killed keep the port: no new master could listen on it.
    const orphans = await stopOrphanWorkers(layout.home);
    if (orphans.length > 0) this.ctx.log.warn({ pids: orphans }, 'stopped the workers a dead nginx master left behind');
    const digests = this.snapshot();
    // nginx daemonizes itself, and the master outlives hop3-server so apps keep serving across
    // daemon restarts; its pid file appears just after the command returns.
    try {
      await this.ctx.exec.run([config.nginxBin, ...this.args()], { timeoutMs: 30_000 });
    } catch (err) {
      throw startError(err, config.httpPort, config.httpsPort);
    }
    for (let i = 0; i < 250 && !this.pid(); i++) await sleep(20);
    this.remember(digests);
    return 'started';
  }

  private mainConfig(): string {
    const { layout, config } = this.ctx;
    this.mainConfText ??= this.ctx.render.render('nginx/main.conf.njk', {
      home: layout.home, httpPort: config.httpPort, httpsPort: config.httpsPort, challengeDir: layout.challenges, user: workerAccount()?.user ?? null,
      mimeTypes: existsSync('/etc/nginx/mime.types') ? '/etc/nginx/mime.types' : join(layout.nginx, 'mime.types'),
    });
    return this.mainConfText;
  }

  /** The paths nginx was built with (`nginx -V`): its prefix and its default pid file. */
  private async compiledPaths(): Promise<{ prefix: string; pidPath: string }> {
    if (this.compiled === null) {
      const { stdout, stderr } = await this.ctx.exec.run([this.ctx.config.nginxBin, '-V'], { timeoutMs: 30_000 }).catch(() => ({ stdout: '', stderr: '' }));
      const option = (name: string) => new RegExp(`--${name}=(\\S+)`).exec(`${stdout}\n${stderr}`)?.[1];
      this.compiled = { prefix: option('prefix') ?? '/usr/share/nginx', pidPath: option('pid-path') ?? '/run/nginx.pid' };
    }
    return this.compiled;
  }

  async stop(): Promise<void> {
    const pid = this.pid();
    if (!pid) return;
    process.kill(pid, 'SIGQUIT');
    for (let i = 0; i < 100 && this.pid(); i++) await sleep(50);
  }

  /**
   * `nginx -t`. For the system nginx, `-T` (test and print the configuration) so the pid file
   * is read from the configuration nginx really uses, as `nginx -s reload` itself does.
   */
  private async test(): Promise<void> {
    try {
      const { stdout } = await this.ctx.exec.run([this.ctx.config.nginxBin, this.embedded ? '-t' : '-T', '-q', ...this.args()], { timeoutMs: 30_000 });
      if (!this.embedded) {
        const { prefix, pidPath } = await this.compiledPaths();
        this.systemPidFile = resolve(prefix, pidDirective(stdout) ?? pidPath);
      }
    } catch (err) {
      const output = (err as { output?: string }).output ?? String(err);
      throw operationalError('NGINX_CONFIG_REJECTED', `nginx -t rejected the configuration: ${output.trim()}`, {
        hint: 'the previous configuration stays active', cause: err,
      });
    }
  }

  /**
   * The pid of the nginx master hop3 reloads: its own (embedded mode) or the system's, found
   * through the pid file the system nginx's configuration names (see `test`).
   */
  private masterPid(): number | null {
    if (this.embedded) return this.pid();
    return this.systemPidFile ? livePid(this.systemPidFile, 'nginx') : null;
  }

  /**
   * Reload and wait until the new configuration takes every new connection: new workers are up
   * and the old ones have stopped accepting (nginx retitles them "shutting down"). The same in
   * both modes; only the signal is sent differently (`nginx -s reload` to the system nginx).
   */
  private async reload(): Promise<void> {
    const pid = this.masterPid();
    if (this.embedded && !pid) throw operationalError('NGINX_DOWN', 'the embedded nginx master is not running');
    const before = new Set(pid ? childPids(pid) : []);
    // Taken before the signal: a file changed in between counts as not loaded (reloaded again).
    const digests = this.snapshot();
    if (this.embedded) process.kill(pid!, 'SIGHUP');
    else await this.ctx.exec.run([this.ctx.config.nginxBin, '-s', 'reload'], { timeoutMs: 30_000 });
    if (!pid) {
      // nginx -s reload found the master, so this should not happen; without it, nothing to wait on.
      this.ctx.log.warn({ pidFile: this.systemPidFile }, 'cannot find the system nginx master: not waiting for its old workers after the reload');
      return;
    }
    const accepting = (c: number) => !(readTextOrNull(`/proc/${c}/cmdline`) ?? 'shutting down').includes('shutting down');
    for (let i = 0; i < 500; i++) {
      const now = childPids(pid);
      if (now.some((c) => !before.has(c)) && ![...before].some(accepting)) {
        for (const c of before) this.retiring.add(c);
        this.remember(digests);
        return;
      }
      await sleep(10);
    }
    // nginx accepted the configuration and got the signal; it is only slow to switch (a loaded
    // machine). Carry on: retiring old backends waits for its old workers anyway (drained()).
    for (const c of before) this.retiring.add(c);
    this.remember(digests);
    this.ctx.log.warn({ pid }, 'nginx has not switched to the new configuration within 5 s of a reload');
  }

  /**
   * Wait until the workers of earlier configurations have finished their in-flight requests and
   * exited, so a backend they proxied to can be stopped without cutting a request.
   */
  async drained(timeoutMs = 30_000): Promise<void> {
    const master = this.masterPid();
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
   *
   * Changes that arrive while one is being applied go together: one `nginx -t` and one reload
   * for all of them (nginx sleeps 100 ms after each reload). If nginx rejects a batch, its
   * changes are retried one by one so only the bad one fails.
   */
  apply(path: string, content: string | null): Promise<void> {
    return this.changes.push({ path, content });
  }

  /**
   * Check and reload with the files as they are, in turn with site changes: files nginx reads
   * at load time (a certificate stored under the same name) take effect, with no failed request.
   */
  reloadFiles(): Promise<void> {
    return this.changes.push({ path: null, content: null });
  }

  private async applyBatch(batch: SiteChange[]): Promise<void> {
    // A file already as wanted may still not be what the master loaded (written, then the
    // daemon died before the reload): it is reloaded all the same.
    const forced = batch.some((c) => c.path === null);
    const changes = batch.flatMap((c) => (c.path === null ? [] : [{ ...c, path: c.path, previous: readTextOrNull(c.path) }]))
      .filter((c) => c.previous !== c.content || this.loaded(c.path, c.content) !== true);
    if (changes.length === 0 && !forced) return;
    const put = (path: string, content: string | null) => (content === null ? rmSync(path, { force: true }) : writeFileAtomic(path, content));
    const writes = changes.filter((c) => c.previous !== c.content);
    for (const c of writes) put(c.path, c.content);
    if (writes.length > 0) failpoint(this.ctx, 'after-site-write', 'before the reload', { paths: writes.map((c) => c.path) });
    try {
      await this.test();
      await this.reload();
    } catch (err) {
      // Not applied: leave the files as they were, so disk says what nginx serves.
      for (const c of writes) put(c.path, c.previous);
      throw err;
    }
  }
}

/**
 * The file of the `pid` directive in `nginx -T` output (the directive exists only in the main
 * context, so its first occurrence is the one nginx uses), or null when the default applies.
 */
export function pidDirective(dump: string): string | null {
  const m = /^\s*pid\s+(["']?)([^;\s"']+)\1\s*;/m.exec(dump);
  return m?.[2] ?? null;
}

/**
 * Why the embedded master did not start, said so an operator knows what to do: nginx reports
 * a port it cannot take as `bind() to 0.0.0.0:80 failed (98: Address already in use)`.
 */
export function startError(err: unknown, httpPort: number, httpsPort?: number): Error {
  const output = err instanceof ExecError ? err.output : String(err);
  const bind = /bind\(\) to (\S+) failed \((\d+): ([^)]*)\)/.exec(output);
  // The master listens on both ports: name the setting of the one it could not take.
  const https = httpsPort !== undefined && bind?.[1]?.endsWith(`:${httpsPort}`) === true;
  const port = https ? httpsPort : httpPort;
  const setting = https ? 'HOP3_HTTPS_PORT' : 'HOP3_HTTP_PORT';
  if (bind?.[2] === '98') {
    return operationalError('HTTP_PORT_IN_USE', `the embedded nginx cannot listen on ${bind[1]}: port ${port} is already in use by another program (often the system nginx)`, {
      hint: `stop the other server (for the system nginx: systemctl disable --now nginx; \`ss -ltnp 'sport = :${port}'\` shows who holds the port), `
        + `or set ${setting} to a free port, or set HOP3_NGINX=system to publish apps through the system nginx`,
      details: { port, address: bind[1] }, cause: err,
    });
  }
  if (bind?.[2] === '13') {
    return operationalError('HTTP_PORT_DENIED', `the embedded nginx may not listen on ${bind[1]}: ports below 1024 need root`, {
      hint: `run hop3-server as root, or set ${setting} to a port above 1023`, details: { port, address: bind[1] }, cause: err,
    });
  }
  return operationalError('NGINX_START_FAILED', `the embedded nginx master did not start: ${output.trim().split('\n').slice(-3).join(' ')}`, {
    hint: 'see the nginx error above; the configuration is in $HOP3_HOME/nginx/nginx.conf', cause: err,
  });
}

function readRecord(path: string): LoadedRecord | null {
  try {
    const r = JSON.parse(readTextOrNull(path) ?? 'null') as LoadedRecord | null;
    return r && typeof r.pid === 'number' && typeof r.startTime === 'string' && typeof r.digests === 'object' ? r : null;
  } catch {
    return null; // unreadable: nothing is known to be loaded, so everything is reloaded once
  }
}

interface SiteChange {
  /** null: no file changes; nginx reads the files it references again (a renewed certificate). */
  path: string | null;
  content: string | null;
}


