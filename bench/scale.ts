/**
 * Benchmark: `hop3 scale` to converged.
 *
 * Starts a real hop3-server (real uWSGI emperor, real embedded nginx or Caddy) in a throwaway
 * HOP3_HOME on free loopback ports, deploys a small app with a web and a worker process, then
 * scales it up (web=4 worker=2) and back down (web=1 worker=0) RUNS times while one client GETs
 * it without pause, and measures:
 *
 *   - the time `hop3 scale` takes to return (it returns once the new release is live);
 *   - the time until `hop3 ps` shows exactly the asked-for instances, all running, of that release
 *     (the old release's instances retired);
 *   - requests that failed meanwhile (the target is none).
 *
 *   npm run build && node dist/bench/scale.js [--runs=N] [--proxy=nginx|caddy]
 *
 * Everything started here (daemon, emperor, apps, the proxy) is stopped and the temporary
 * directories removed on exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { freePorts } from '../src/lib/free-ports.js';
import { httpGet } from '../src/lib/http-get.js';
import { SCALED_APP } from './scaled-app.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BIN = join(ROOT, 'bin');
const argv = process.argv.slice(2);
const RUNS = Math.max(1, Number(argv.find((a) => a.startsWith('--runs='))?.slice('--runs='.length) ?? 3));
const PROXY = argv.find((a) => a.startsWith('--proxy='))?.slice('--proxy='.length) ?? 'nginx';
const APP = 'bench-scale';
/** What a scale change should cost at most: one release without a build (start, health gate, switch, retire). */
const TARGET = { returnS: 2.0, convergedS: 3.0, failed: 0 };

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const temps: string[] = [];
let daemon: ChildProcess | null = null;
let env: Record<string, string> = {};

async function cleanup(): Promise<void> {
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await new Promise((r) => daemon!.once('exit', r));
  }
  if (env.HOP3_HOME) await execa(join(BIN, 'hop3-server'), ['halt'], { env, reject: false, timeout: 60_000 });
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
}

const hop3 = (args: string[]) => execa(join(BIN, 'hop3'), args, { env, reject: false, timeout: 120_000 });

async function startDaemon(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'hop3-bench-scale-'));
  temps.push(home);
  const [httpPort, apiPort, httpsPort] = await freePorts(3);
  env = {
    ...(process.env as Record<string, string>),
    HOP3_HOME: home, HOP3_HTTP_PORT: String(httpPort), HOP3_HTTPS_PORT: String(httpsPort),
    HOP3_LISTEN: `127.0.0.1:${apiPort}`, HOP3_API_URL: `http://127.0.0.1:${apiPort}`, HOP3_LOG_LEVEL: 'warn', HOP3_PROXY: PROXY,
  };
  const log = openSync(join(home, 'daemon.log'), 'a');
  daemon = spawn(join(BIN, 'hop3-server'), ['serve'], { env, stdio: ['ignore', log, log] });
  closeSync(log);
  for (const deadline = performance.now() + 30_000; ;) {
    if (await fetch(`http://127.0.0.1:${apiPort}/healthz`).then((r) => r.ok, () => false)) return;
    if (daemon.exitCode !== null || performance.now() > deadline) throw new Error(`hop3-server did not start:\n${readFileSync(join(home, 'daemon.log'), 'utf8').slice(-2000)}`);
    await sleep(50);
  }
}

type Ps = { process: string; index: number; state: string; release: string };

/** Scale, and time the command's return and the moment ps shows exactly `want` instances running. */
async function timedScale(counts: Record<string, number>): Promise<{ returnMs: number; convergedMs: number; release: string }> {
  const t0 = performance.now();
  const r = await hop3(['scale', APP, ...Object.entries(counts).map(([k, n]) => `${k}=${n}`), '--json']);
  const returnMs = performance.now() - t0;
  if (r.exitCode !== 0) throw new Error(`hop3 scale failed: ${String(r.stdout)}${String(r.stderr)}`);
  const release = (JSON.parse(String(r.stdout)) as { release: string }).release;
  const want = Object.values(counts).reduce((a, b) => a + b, 0);
  for (;;) {
    const rows = JSON.parse(String((await hop3(['ps', APP, '--json'])).stdout)) as Ps[];
    if (rows.length === want && rows.every((x) => x.release === release && x.state === 'running')) break;
    if (performance.now() - t0 > 60_000) throw new Error(`ps did not converge: ${JSON.stringify(rows)}`);
    await sleep(20);
  }
  return { returnMs, convergedMs: performance.now() - t0, release };
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)]!;
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

async function main(): Promise<void> {
  await startDaemon();
  const dir = mkdtempSync(join(tmpdir(), 'hop3-bench-scale-app-'));
  temps.push(dir);
  for (const [path, content] of Object.entries(SCALED_APP)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  const d = await hop3(['deploy', dir, '--app', APP]);
  if (d.exitCode !== 0) throw new Error(`deploy failed: ${String(d.stderr)}`);

  let stop = false;
  let ok = 0;
  const failures: string[] = [];
  const client = (async () => {
    while (!stop) {
      const r = await httpGet(`http://127.0.0.1:${env.HOP3_HTTP_PORT}/`, `${APP}.localhost`, 5000).catch((err: unknown) => ({ status: 0, body: String(err) }));
      if (r.status === 200) ok++;
      else failures.push(`${r.status} ${r.body.slice(0, 100)}`);
    }
  })();
  const up: { returnMs: number; convergedMs: number }[] = [];
  const down: { returnMs: number; convergedMs: number }[] = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      up.push(await timedScale({ web: 4, worker: 2 }));
      down.push(await timedScale({ web: 1, worker: 0 }));
    }
  } finally {
    stop = true;
    await client;
  }
  const row = (name: string, v: number[], target: number) => `${name.padEnd(34)} ${secs(median(v)).padStart(8)} (min ${secs(Math.min(...v))}, max ${secs(Math.max(...v))})   target ≤ ${target.toFixed(1)} s`;
  console.log(`hop3 scale, ${PROXY}, ${RUNS} runs each way, load ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`);
  console.log(row('up (web=4 worker=2): returned', up.map((x) => x.returnMs), TARGET.returnS));
  console.log(row('up: ps shows 6 running', up.map((x) => x.convergedMs), TARGET.convergedS));
  console.log(row('down (web=1 worker=0): returned', down.map((x) => x.returnMs), TARGET.returnS));
  console.log(row('down: ps shows 1 running', down.map((x) => x.convergedMs), TARGET.convergedS));
  console.log(`${'requests while scaling'.padEnd(34)} ${ok} ok, ${failures.length} failed   target ${TARGET.failed} failed${failures.length ? `\n  ${failures.slice(0, 5).join('\n  ')}` : ''}`);
}

main().then(cleanup, async (err: unknown) => {
  console.error(err);
  await cleanup();
  process.exitCode = 1;
});
