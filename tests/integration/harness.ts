import { execa, type Result } from 'execa';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { c as tarCreate } from 'tar';
import { freePorts } from '../../src/lib/free-ports.js';
import { httpGet } from '../../src/lib/http-get.js';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '../..');
export const EXAMPLES = join(ROOT, 'examples');
const BIN = join(ROOT, 'bin');

export const freePort = async () => (await freePorts(1))[0]!;

/** git without the machine's global config, prompts or credential helpers. */
export const GIT_ENV = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
export const git = (cwd: string, args: string[], env: Record<string, string> = {}) =>
  execa('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd, env: { ...GIT_ENV, ...env }, reject: false, timeout: 120_000 });
export const output = (r: Result) => `${String(r.stdout)}\n${String(r.stderr)}`;

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll until `fn` returns a truthy value or `ms` pass; returns the value and the time it took. */
export async function within<T>(ms: number, fn: () => Promise<T> | T): Promise<{ value: T; elapsedMs: number }> {
  const start = Date.now();
  let last: unknown;
  while (Date.now() - start < ms) {
    try {
      const value = await fn();
      if (value) return { value, elapsedMs: Date.now() - start };
    } catch (err) {
      last = err;
    }
    await sleep(50);
  }
  throw new Error(`condition not met within ${ms} ms${last ? `: ${String(last)}` : ''}`);
}

/** The proxies hop3 publishes apps through (HOP3_PROXY): tests of what both do run under each. */
export const PROXIES = ['nginx', 'caddy'] as const;
export type ProxyName = (typeof PROXIES)[number];

/** A real hop3-server in a throwaway HOP3_HOME on free loopback ports, with its emperor and proxy. */
export class Daemon {
  readonly home: string;
  readonly logFile: string;
  httpPort = 0;
  httpsPort = 0;
  apiPort = 0;
  private proc: ReturnType<typeof execa> | null = null;
  private exited = false;
  /** Settings on top of the defaults; a change applies from the next start. */
  readonly extraEnv: Record<string, string>;
  /** The proxy it publishes apps through (HOP3_PROXY). */
  readonly proxy: ProxyName;

  /** `home`: an existing directory (a file system a test mounts there). */
  constructor(extraEnv: Record<string, string> = {}, opts: { home?: string; proxy?: ProxyName } = {}) {
    this.extraEnv = extraEnv;
    this.proxy = opts.proxy ?? 'nginx';
    this.home = opts.home ?? mkdtempSync(join(tmpdir(), 'hop3-test-'));
    this.logFile = join(this.home, 'daemon.log');
  }

  get env(): Record<string, string> {
    return {
      HOP3_HOME: this.home,
      HOP3_HTTP_PORT: String(this.httpPort),
      ...(this.httpsPort ? { HOP3_HTTPS_PORT: String(this.httpsPort) } : {}),
      HOP3_LISTEN: `127.0.0.1:${this.apiPort}`,
      HOP3_API_URL: `http://127.0.0.1:${this.apiPort}`,
      HOP3_LOG_LEVEL: 'debug',
      // Below the kernel's ephemeral ports (32768-), which outgoing connections of the load tests use.
      HOP3_PORT_RANGE: '10000-19999',
      HOP3_HEALTH_TIMEOUT: '15',
      HOP3_PROXY: this.proxy,
      ...this.extraEnv,
    };
  }

  async start(): Promise<this> {
    // Taken together: one at a time, the kernel may hand the same free port out twice.
    const [http, https, api] = await freePorts(3);
    if (!this.httpPort) this.httpPort = http!;
    if (!this.httpsPort) this.httpsPort = https!;
    if (!this.apiPort) this.apiPort = api!;
    this.proc = execa(join(BIN, 'hop3-server'), ['serve'], {
      env: this.env, reject: false, stdout: { file: this.logFile, append: true }, stderr: { file: this.logFile, append: true },
    });
    this.exited = false;
    const proc = this.proc;
    void proc.then(() => {
      if (this.proc === proc) this.exited = true;
    });
    await within(20_000, async () => (await fetch(`http://127.0.0.1:${this.apiPort}/healthz`)).ok);
    return this;
  }

  get pid(): number {
    return this.proc!.pid!;
  }

  /** Stop the daemon: SIGTERM (graceful) or SIGKILL. Apps keep running either way. */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<Result | undefined> {
    if (!this.proc) return undefined;
    this.proc.kill(signal);
    const result = await this.proc;
    this.proc = null;
    return result as Result;
  }

  hop3(args: string[], opts: { input?: string } = {}) {
    return execa(join(BIN, 'hop3'), args, { env: this.env, reject: false, timeout: 120_000, input: opts.input });
  }

  async json<T = any>(args: string[]): Promise<T> {
    const r = await this.hop3([...args, '--json']);
    if (r.exitCode !== 0) throw new Error(`hop3 ${args.join(' ')} failed (${r.exitCode}): ${r.stderr}${r.stdout}`);
    return JSON.parse(String(r.stdout)) as T;
  }

  token(): string {
    return readFileSync(join(this.home, 'secrets', 'admin-token'), 'utf8').trim();
  }

  async rpc(method: string, params: unknown, token = this.token()): Promise<{ status: number; body: any }> {
    const res = await fetch(`http://127.0.0.1:${this.apiPort}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-hop3-method': method },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    return { status: res.status, body: await res.json() };
  }

  /** Where the proxy keeps the site files of apps. */
  get sitesDir(): string {
    return this.proxy === 'caddy' ? join(this.home, 'caddy', 'sites') : join(this.home, 'nginx', 'sites');
  }

  /** An app's site file. */
  siteFile(app: string): string {
    return join(this.sitesDir, `${app}.${this.proxy === 'caddy' ? 'json' : 'conf'}`);
  }

  /** The pid of the proxy's server (the nginx master, or hop3's Caddy). */
  proxyPid(): number {
    return this.pidOf(`${this.proxy}.pid`);
  }

  /** GET through the proxy with the app's host name. */
  async get(host: string, path = '/'): Promise<{ status: number; body: string }> {
    return httpGet(`http://127.0.0.1:${this.httpPort}${path}`, host, 5000);
  }

  pidOf(file: string): number {
    return Number(readFileSync(join(this.home, 'run', file), 'utf8').trim());
  }

  /** Stop everything this daemon started (emperor, apps, nginx) and delete its home. */
  async cleanup(): Promise<void> {
    await this.halt();
    rmSync(this.home, { recursive: true, force: true });
  }

  /** Kill the daemon and stop its emperor (with the apps) and nginx; the home stays. */
  async halt(): Promise<void> {
    await this.stop('SIGKILL').catch(() => undefined);
    await execa(join(BIN, 'hop3-server'), ['halt'], { env: this.env, reject: false, timeout: 30_000 });
  }

  /** Whether the daemon process this harness started is still running. */
  get running(): boolean {
    return this.proc !== null && !this.exited;
  }

  /** The daemon's resident memory (kB), from /proc. */
  rssKb(): number {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'))?.[1] ?? NaN);
  }
}

/** A gzipped tar of `files` (path → content), base64: what `hop3 deploy` uploads. */
/**
 * A daemon for the tests of the describe block this is called in: started before them and stopped
 * after them, when the directories given to `removeAfter` are removed too.
 */
export function daemonForTests(...args: ConstructorParameters<typeof Daemon>) {
  const d = new Daemon(...args);
  const dirs: string[] = [];
  beforeAll(() => d.start());
  afterAll(async () => {
    await d.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const removeAfter = (dir: string) => {
    dirs.push(dir);
    return dir;
  };
  return { d, removeAfter };
}

export async function archiveOf(files: Record<string, string>): Promise<string> {
  const dir = appDir(files);
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of tarCreate({ gzip: true, cwd: dir }, Object.keys(files)) as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks).toString('base64');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Write an app directory from `files` and return its path (removed by the caller's cleanup). */
export function appDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'hop3-app-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

export interface HttpsAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  /** The certificate the server presented: its issuer's CN and its SHA-256 fingerprint. */
  issuer: string;
  fingerprint: string;
}

/**
 * GET https://`host`:`port``path` from 127.0.0.1, with SNI and Host = `host`, trusting only `ca`
 * (PEM): an answer means the server's certificate verified for that name.
 */
export function httpsGet(port: number, host: string, ca: string | string[], path = '/', timeoutMs = 5000): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path, servername: host, headers: { host }, ca, agent: false, timeout: timeoutMs }, (res) => {
      const cert = (res.socket as TLSSocket).getPeerCertificate();
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers, issuer: String(cert.issuer?.CN ?? ''), fingerprint: cert.fingerprint256 }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from https://${host}:${port}${path} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * The examples' pages say `Hello from APP vN on ...`: a GET that gives underLoad the release that
 * answered.
 */
export const releaseOf = (port: number, host: string) => async () => {
  const r = await httpGet(`http://127.0.0.1:${port}/`, host, 5000);
  const release = /^<h1>Hello from \S+ (v\d+) on /.exec(r.body)?.[1];
  return release ? { status: r.status, body: JSON.stringify({ release }) } : { status: 599, body: r.body };
};

export interface LoadResult { ok: number; failures: string[]; releases: Map<string, number>; ms: number }

/**
 * `workers` concurrent GET loops on `host` through nginx on `port` while `work` runs (bounded by
 * `limitMs` whatever happens to it). Each response must be 2xx JSON with a `release` field.
 * `get`: another request (HTTPS with a CA to trust) in place of the plain GET.
 */
export async function underLoad(
  port: number, host: string, work: () => Promise<void>,
  { workers = 4, limitMs = 90_000, get = () => httpGet(`http://127.0.0.1:${port}/`, host, 5000) }: { workers?: number; limitMs?: number; get?: () => Promise<{ status: number; body: string }> } = {},
): Promise<LoadResult> {
  const result: LoadResult = { ok: 0, failures: [], releases: new Map(), ms: 0 };
  let stop = false;
  const start = Date.now();
  const worker = async () => {
    while (!stop && Date.now() - start < limitMs) {
      try {
        const r = await get();
        if (r.status < 200 || r.status > 299) {
          result.failures.push(`${new Date().toISOString()} HTTP ${r.status}: ${r.body.slice(0, 200)}`);
          continue;
        }
        const release = (JSON.parse(r.body) as { release: string }).release;
        result.releases.set(release, (result.releases.get(release) ?? 0) + 1);
        result.ok++;
      } catch (err) {
        result.failures.push(`${new Date().toISOString()} ${String(err)}`);
      }
    }
  };
  const loops = Array.from({ length: workers }, worker);
  try {
    await work();
  } finally {
    stop = true;
    await Promise.all(loops);
    result.ms = Date.now() - start;
  }
  return result;
}
