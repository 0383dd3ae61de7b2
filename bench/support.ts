/**
 * What the push benchmarks share: a throwaway hop3-server (real emperor, real proxy) on free
 * loopback ports, `git push` until the pushed code is served, medians, and the cleanup of
 * everything a run started.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa, type Result } from 'execa';
import { freePorts } from '../src/lib/free-ports.js';
import { httpGet } from '../src/lib/http-get.js';

export const ROOT = resolve(import.meta.dirname, '..', '..');
export const EXAMPLES = join(ROOT, 'examples');
const HOP3_SERVER = join(ROOT, 'bin', 'hop3-server');
export const GIT_ENV = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
/** How often a push's app is asked whether it serves the new code. */
export const POLL_MS = 20;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function git(cwd: string, args: string[]): Promise<Result> {
  return execa('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd, env: GIT_ENV, reject: false, timeout: 300_000 });
}

export async function mustGit(cwd: string, args: string[]): Promise<string> {
  const r = await git(cwd, args);
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')} failed (${r.exitCode}):\n${String(r.stdout)}\n${String(r.stderr)}`);
  return String(r.stdout).trim();
}

export interface Stats { median: number; min: number; max: number; n: number }
export function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

export const secs = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

export function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((res) => {
    const t = setTimeout(() => res(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      res(true);
    });
  });
}

/** Poll GET every POLL_MS until the body contains `needle`; resolves with the time it was seen. */
export async function servedAt(port: number, host: string, needle: string, deadline: number): Promise<number> {
  while (performance.now() < deadline) {
    const r = await httpGet(`http://127.0.0.1:${port}/`, host, 2000).catch(() => null);
    if (r && r.status === 200 && r.body.includes(needle)) return performance.now();
    await sleep(POLL_MS);
  }
  throw new Error(`${host} did not serve ${JSON.stringify(needle)} in time`);
}

export interface Timed { servedMs: number; pushMs: number; startedAt: number; servedAt: number; returnedAt: number }

/**
 * One benchmark run: the temporary directories and processes it made, and the hop3-server it
 * started; `cleanup` stops and removes all of them (also on SIGINT and SIGTERM).
 */
export class BenchRun {
  readonly children = new Set<ChildProcess>();
  env: Record<string, string> = {};
  private readonly temps: string[] = [];
  private daemon: ChildProcess | null = null;
  private cleaned = false;

  constructor() {
    for (const sig of ['SIGINT', 'SIGTERM'] as const) {
      process.once(sig, () => {
        console.error(`\n${sig}: cleaning up`);
        void this.cleanup().finally(() => process.exit(130));
      });
    }
  }

  tempDir(prefix: string): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.temps.push(dir);
    return dir;
  }

  get httpPort(): number {
    return Number(this.env.HOP3_HTTP_PORT);
  }

  /**
   * Runs the benchmark and exits with what it returns (2 when it throws, after printing why and
   * the daemon's log), cleaning up either way.
   */
  async exitWith(main: () => Promise<number>): Promise<never> {
    let code = 2;
    try {
      code = await main();
    } catch (err) {
      console.error(`\nbenchmark failed: ${err instanceof Error ? err.message : String(err)}`);
      console.error(this.daemonLog());
    } finally {
      await this.cleanup();
    }
    process.exit(code);
  }

  /** The daemon's log, for a failure's message (empty when there is none). */
  daemonLog(chars = 3000): string {
    try {
      return this.env.HOP3_HOME ? readFileSync(join(this.env.HOP3_HOME, 'daemon.log'), 'utf8').slice(-chars) : '';
    } catch {
      return '';
    }
  }

  /** Start hop3-server in a new HOP3_HOME and wait until its API answers. */
  async startHop3(proxy: string, prefix: string): Promise<void> {
    const home = this.tempDir(prefix);
    const [httpPort, apiPort, httpsPort] = await freePorts(3);
    this.env = {
      ...(process.env as Record<string, string>),
      HOP3_HOME: home,
      HOP3_HTTP_PORT: String(httpPort),
      HOP3_HTTPS_PORT: String(httpsPort),
      HOP3_LISTEN: `127.0.0.1:${apiPort}`,
      HOP3_API_URL: `http://127.0.0.1:${apiPort}`,
      HOP3_LOG_LEVEL: 'warn',
      HOP3_PROXY: proxy,
    };
    const log = openSync(join(home, 'daemon.log'), 'a');
    this.daemon = spawn(HOP3_SERVER, ['serve'], { env: this.env, stdio: ['ignore', log, log] });
    closeSync(log);
    const deadline = performance.now() + 30_000;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${apiPort}/healthz`).then((r) => r.ok, () => false);
      if (ok) return;
      if (this.daemon.exitCode !== null || performance.now() > deadline) {
        throw new Error(`hop3-server did not become ready:\n${this.daemonLog(2000)}`);
      }
      await sleep(50);
    }
  }

  token(): string {
    return readFileSync(join(this.env.HOP3_HOME!, 'secrets', 'admin-token'), 'utf8').trim();
  }

  /** The git smart HTTP URL of an app of the running hop3-server. */
  gitUrl(app: string): string {
    return `http://hop3:${this.token()}@127.0.0.1:${this.env.HOP3_LISTEN!.split(':')[1]}/git/${app}.git`;
  }

  /** Start `git push`, poll until `host` serves `mark`; the push must succeed. */
  async pushUntilServed(work: string, url: string, refspec: string, host: string, mark: string, timeoutMs = 60_000): Promise<Timed> {
    const startedAt = Date.now();
    const t0 = performance.now();
    const push = git(work, ['push', url, refspec]).then((r) => ({ r, at: performance.now() }));
    const served = await servedAt(this.httpPort, host, mark, t0 + timeoutMs).catch(async (err: unknown) => {
      const { r } = await push;
      throw new Error(`${err instanceof Error ? err.message : String(err)}; git push said:\n${String(r.stderr).slice(-3000)}`);
    });
    const { r, at } = await push;
    if (r.exitCode !== 0) throw new Error(`git push ${refspec} to ${host} failed (${r.exitCode}):\n${String(r.stderr)}`);
    return { servedMs: served - t0, pushMs: at - t0, startedAt, servedAt: startedAt + (served - t0), returnedAt: startedAt + (at - t0) };
  }

  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const c of this.children) {
      c.kill('SIGINT');
      if (!(await waitExit(c, 5000))) c.kill('SIGKILL');
    }
    if (this.daemon) {
      this.daemon.kill('SIGTERM');
      if (!(await waitExit(this.daemon, 20_000))) {
        this.daemon.kill('SIGKILL');
        await waitExit(this.daemon, 5000);
      }
    }
    if (this.env.HOP3_HOME) await execa(HOP3_SERVER, ['halt'], { env: this.env, reject: false, timeout: 60_000 });
    for (const dir of this.temps) rmSync(dir, { recursive: true, force: true });
  }
}
