/**
 * Benchmark: `git push` to served.
 *
 * Starts a real hop3-server (real uWSGI emperor, real embedded nginx or Caddy) in a throwaway HOP3_HOME
 * on free loopback ports and measures, over git smart HTTP:
 *
 *   (a) code change — a new commit of an existing WSGI app (a copy of examples/hello-wsgi):
 *       time from starting `git push` until a GET through the proxy returns the new code;
 *   (b) new app — the same commit pushed to a new app name: time until it is served;
 *   (c) the floor — what the same work costs without hop3: `git push` of a new commit into a
 *       plain bare repository with no hook (local path transport), the same push over hop3's
 *       HTTP to a branch that is stored but not deployed (transport + hook, no deploy), and a
 *       bare uWSGI start of the same app until it answers HTTP.
 *
 * Every figure is the median (and min/max) of RUNS runs; the served time is found by polling
 * GET every 20 ms while the push runs.
 *
 *   npm run build && node dist/bench/push.js [--runs=N] [--proxy=nginx|caddy|both] [--strict]
 *
 * The proxy (HOP3_PROXY) defaults to both: each runs in a child process of its own, and their
 * figures are printed side by side at the end.
 * --strict exits 1 when a median misses its target. Everything started here (daemon, emperor,
 * apps, the proxy, uWSGI) is stopped and every temporary directory removed on exit.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa, type Result } from 'execa';
import { freePorts } from '../src/lib/free-ports.js';
import { httpGet } from '../src/lib/http-get.js';

// --- settings ---------------------------------------------------------------------------------

const ROOT = resolve(import.meta.dirname, '..', '..');
const HOP3_SERVER = join(ROOT, 'bin', 'hop3-server');
const EXAMPLE = join(ROOT, 'examples', 'hello-wsgi');
const argv = process.argv.slice(2);
const RUNS = Math.max(1, Number(argv.find((a) => a.startsWith('--runs='))?.slice('--runs='.length) ?? 5));
const STRICT = argv.includes('--strict');
const PROXY = argv.find((a) => a.startsWith('--proxy='))?.slice('--proxy='.length) ?? 'both';
/** The line a child run prints its figures on, for the side-by-side table. */
const RESULT_PREFIX = 'BENCH_PUSH_RESULT ';
const POLL_MS = 20;
const SERVE_TIMEOUT_MS = 60_000;
const TARGET = { codeChangeS: 1.0, newAppS: 2.5 };
const GIT_ENV = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };

// --- small helpers ----------------------------------------------------------------------------

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll GET every POLL_MS until the body contains `needle`; resolves with the time it was seen. */
async function servedAt(port: number, host: string, needle: string, deadline: number): Promise<number> {
  while (performance.now() < deadline) {
    const r = await httpGet(`http://127.0.0.1:${port}/`, host, 2000).catch(() => null);
    if (r && r.status === 200 && r.body.includes(needle)) return performance.now();
    await sleep(POLL_MS);
  }
  throw new Error(`${host} did not serve ${JSON.stringify(needle)} in time`);
}

function git(cwd: string, args: string[]): Promise<Result> {
  return execa('git', ['-c', 'user.email=t@t', '-c', 'user.name=t', ...args], { cwd, env: GIT_ENV, reject: false, timeout: 300_000 });
}

async function mustGit(cwd: string, args: string[]): Promise<string> {
  const r = await git(cwd, args);
  if (r.exitCode !== 0) throw new Error(`git ${args.join(' ')} failed (${r.exitCode}):\n${String(r.stdout)}\n${String(r.stderr)}`);
  return String(r.stdout).trim();
}

interface Stats { median: number; min: number; max: number; n: number }
function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  const median = s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { median, min: s[0]!, max: s[s.length - 1]!, n: s.length };
}

const secs = (ms: number) => `${(ms / 1000).toFixed(3)} s`;

// --- what we start, and how it is stopped ----------------------------------------------------

const temps: string[] = [];
const children = new Set<ChildProcess>();
let daemon: ChildProcess | null = null;
let env: Record<string, string> = {};
let cleaned = false;

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temps.push(dir);
  return dir;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((res) => {
    const t = setTimeout(() => res(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      res(true);
    });
  });
}

async function cleanup(): Promise<void> {
  if (cleaned) return;
  cleaned = true;
  for (const c of children) {
    c.kill('SIGINT');
    if (!(await waitExit(c, 5000))) c.kill('SIGKILL');
  }
  if (daemon) {
    daemon.kill('SIGTERM');
    if (!(await waitExit(daemon, 20_000))) {
      daemon.kill('SIGKILL');
      await waitExit(daemon, 5000);
    }
  }
  if (env.HOP3_HOME) await execa(HOP3_SERVER, ['halt'], { env, reject: false, timeout: 60_000 });
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: cleaning up`);
    void cleanup().finally(() => process.exit(130));
  });
}

// --- the benchmark ----------------------------------------------------------------------------

/** hello-wsgi's app.py with a marker in every response body. */
function markedApp(source: string, mark: string): string {
  const out = source.replace('body = {', `body = {\n        "mark": ${JSON.stringify(mark)},`);
  if (out === source) throw new Error('examples/hello-wsgi/app.py changed shape: cannot insert the marker');
  return out;
}

async function startDaemon(): Promise<void> {
  const home = tempDir('hop3-bench-push-');
  const [httpPort, apiPort, httpsPort] = await freePorts(3);
  env = {
    ...(process.env as Record<string, string>),
    HOP3_HOME: home,
    HOP3_HTTP_PORT: String(httpPort),
    HOP3_HTTPS_PORT: String(httpsPort),
    HOP3_LISTEN: `127.0.0.1:${apiPort}`,
    HOP3_API_URL: `http://127.0.0.1:${apiPort}`,
    HOP3_LOG_LEVEL: 'warn',
    HOP3_PROXY: PROXY,
  };
  const log = openSync(join(home, 'daemon.log'), 'a');
  daemon = spawn(HOP3_SERVER, ['serve'], { env, stdio: ['ignore', log, log] });
  closeSync(log);
  const deadline = performance.now() + 30_000;
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${apiPort}/healthz`).then((r) => r.ok, () => false);
    if (ok) return;
    if (daemon.exitCode !== null || performance.now() > deadline) {
      throw new Error(`hop3-server did not become ready:\n${readFileSync(join(home, 'daemon.log'), 'utf8').slice(-2000)}`);
    }
    await sleep(50);
  }
}

interface Timed { servedMs: number; pushMs: number; startedAt: number; servedAt: number; returnedAt: number }

/** Start `git push`, poll until `host` serves `mark`; the push must succeed. */
async function pushUntilServed(work: string, url: string, refspec: string, host: string, mark: string): Promise<Timed> {
  const startedAt = Date.now();
  const t0 = performance.now();
  const push = git(work, ['push', url, refspec]).then((r) => ({ r, at: performance.now() }));
  const served = await servedAt(Number(env.HOP3_HTTP_PORT), host, mark, t0 + SERVE_TIMEOUT_MS);
  const { r, at } = await push;
  if (r.exitCode !== 0) throw new Error(`git push ${refspec} to ${host} failed (${r.exitCode}):\n${String(r.stderr)}`);
  return { servedMs: served - t0, pushMs: at - t0, startedAt, servedAt: startedAt + (served - t0), returnedAt: startedAt + (at - t0) };
}

interface Event { kind: string; at: string; data: { release?: number; source?: string } }

/**
 * Where the time of each measured push went, from the app's events (wall clock, ms):
 * push started → release created → build done → first GET that saw the new code → push returned.
 */
async function phases(token: string, app: string, runs: Timed[]): Promise<Record<string, number[]>> {
  const res = await fetch(`http://${env.HOP3_LISTEN}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'apps.events', params: { app, limit: 1000 } }),
  });
  const body = (await res.json()) as { result?: Event[]; error?: { message: string } };
  if (!body.result) throw new Error(`apps.events failed: ${body.error?.message ?? res.status}`);
  const events = body.result;
  const at = (kind: string, release: number) => {
    const e = events.find((x) => x.kind === kind && x.data.release === release);
    return e ? Date.parse(e.at) : Number.NaN;
  };
  const created = events.filter((e) => e.kind === 'release.created' && e.data.source === 'push').slice(-runs.length);
  const out: Record<string, number[]> = { toCreated: [], build: [], toServed: [], toReturned: [] };
  created.forEach((e, i) => {
    const v = e.data.release!;
    const run = runs[i]!;
    const c = Date.parse(e.at);
    const built = at('build.succeeded', v);
    out.toCreated!.push(c - run.startedAt);
    out.build!.push(built - c);
    out.toServed!.push(run.servedAt - built);
    out.toReturned!.push(run.returnedAt - run.servedAt);
  });
  return out;
}

async function bareUwsgiStart(dir: string): Promise<number> {
  const [port] = await freePorts(1);
  const t0 = performance.now();
  const child = spawn('uwsgi', ['--plugin', 'python3', '--http-socket', `127.0.0.1:${port}`, '--chdir', dir, '--module', 'app:application', '--master', '--processes', '1'], { stdio: 'ignore' });
  children.add(child);
  try {
    for (;;) {
      const r = await httpGet(`http://127.0.0.1:${port!}/`, 'localhost', 1000).catch(() => null);
      if (r?.status === 200) return performance.now() - t0;
      if (child.exitCode !== null) throw new Error(`uwsgi exited with ${child.exitCode}`);
      if (performance.now() - t0 > SERVE_TIMEOUT_MS) throw new Error('uwsgi did not answer in time');
      await sleep(POLL_MS);
    }
  } finally {
    child.kill('SIGINT'); // uWSGI's master shuts down on SIGINT (SIGTERM means "reload")
    if (!(await waitExit(child, 5000))) child.kill('SIGKILL');
    await waitExit(child, 5000);
    children.delete(child);
  }
}

async function main(): Promise<number> {
  console.log(`push-to-served benchmark, HOP3_PROXY=${PROXY}: ${RUNS} runs each (node ${process.version})`);
  await startDaemon();
  const token = readFileSync(join(env.HOP3_HOME!, 'secrets', 'admin-token'), 'utf8').trim();
  const gitUrl = (app: string) => `http://hop3:${token}@127.0.0.1:${env.HOP3_LISTEN!.split(':')[1]}/git/${app}.git`;

  // A copy of examples/hello-wsgi, in git.
  const work = tempDir('hop3-bench-work-');
  for (const f of readdirSync(EXAMPLE)) copyFileSync(join(EXAMPLE, f), join(work, f));
  const source = readFileSync(join(work, 'app.py'), 'utf8');
  const commit = async (mark: string) => {
    writeFileSync(join(work, 'app.py'), markedApp(source, mark));
    await mustGit(work, ['commit', '-q', '-am', mark]);
  };
  await mustGit(work, ['init', '-q', '-b', 'main']);
  await mustGit(work, ['add', '-A']);
  await mustGit(work, ['commit', '-q', '-m', 'initial']);

  // Warm-up (not measured): create the app and deploy one code change.
  for (const mark of ['warm-0', 'warm-1']) {
    await commit(mark);
    await pushUntilServed(work, gitUrl('bench'), 'main', 'bench.localhost', mark);
  }

  const codeChange: Timed[] = [];
  for (let i = 0; i < RUNS; i++) {
    const mark = `change-${i}`;
    await commit(mark);
    codeChange.push(await pushUntilServed(work, gitUrl('bench'), 'main', 'bench.localhost', mark));
    process.stdout.write('.');
  }

  const newApp: Timed[] = [];
  for (let i = 0; i < RUNS; i++) {
    const mark = `new-${i}`;
    await commit(mark);
    newApp.push(await pushUntilServed(work, gitUrl(`bench-new-${i}`), 'main', `bench-new-${i}.localhost`, mark));
    process.stdout.write('.');
  }

  // The floor: the same pushes without a deploy, and uWSGI alone.
  const bare = tempDir('hop3-bench-bare-');
  await mustGit(bare, ['init', '-q', '--bare']);
  await mustGit(work, ['push', '-q', bare, 'main']);
  const barePush: number[] = [];
  const storedPush: number[] = [];
  await mustGit(work, ['push', '-q', gitUrl('bench'), 'main:refs/heads/floor']);
  for (let i = 0; i < RUNS; i++) {
    await commit(`floor-${i}`);
    let t0 = performance.now();
    await mustGit(work, ['push', '-q', bare, 'main']);
    barePush.push(performance.now() - t0);
    t0 = performance.now();
    await mustGit(work, ['push', '-q', gitUrl('bench'), 'main:refs/heads/floor']);
    storedPush.push(performance.now() - t0);
    process.stdout.write('.');
  }
  const uwsgiStart: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    uwsgiStart.push(await bareUwsgiStart(work));
    process.stdout.write('.');
  }
  process.stdout.write('\n\n');
  const where = await phases(token, 'bench', codeChange);

  const rows: [string, Stats, string, boolean | null][] = [];
  const cc = stats(codeChange.map((t) => t.servedMs));
  const na = stats(newApp.map((t) => t.servedMs));
  rows.push(['(a) code change: push → new code served', cc, `≤ ${TARGET.codeChangeS.toFixed(1)} s`, cc.median <= TARGET.codeChangeS * 1000]);
  rows.push(['    git push returned', stats(codeChange.map((t) => t.pushMs)), '', null]);
  rows.push(['    1. push started → release created', stats(where.toCreated!), '', null]);
  rows.push(['    2. release created → build done', stats(where.build!), '', null]);
  rows.push(['    3. build done → served (start, health, switch)', stats(where.toServed!), '', null]);
  rows.push(['    4. served → git push returned', stats(where.toReturned!), '', null]);
  rows.push(['(b) new app: push → served', na, `≤ ${TARGET.newAppS.toFixed(1)} s`, na.median <= TARGET.newAppS * 1000]);
  rows.push(['    git push returned', stats(newApp.map((t) => t.pushMs)), '', null]);
  rows.push(['(c) floor: git push, bare repo, no hook (file)', stats(barePush), '', null]);
  rows.push(['    floor: git push over hop3 HTTP, stored branch', stats(storedPush), '', null]);
  rows.push(['    floor: bare uWSGI start → answers HTTP', stats(uwsgiStart), '', null]);

  const w = Math.max(...rows.map((r) => r[0].length));
  console.log(`${'measure'.padEnd(w)}  ${'median'.padStart(9)}  ${'min'.padStart(9)}  ${'max'.padStart(9)}  target`);
  for (const [name, s, target, ok] of rows) {
    const verdict = ok === null ? '' : ok ? '  ok' : '  MISSED';
    console.log(`${name.padEnd(w)}  ${secs(s.median).padStart(9)}  ${secs(s.min).padStart(9)}  ${secs(s.max).padStart(9)}  ${target}${verdict}`);
  }
  const missed = rows.filter((r) => r[3] === false).length;
  console.log(`\n${RUNS} runs each; served = first GET through ${PROXY} (polled every ${POLL_MS} ms) that returns the pushed code.`);
  console.log(`${RESULT_PREFIX}${JSON.stringify(rows.map(([name, s, target, ok]) => ({ name, median: s.median, target, ok })))}`);
  return STRICT && missed ? 1 : 0;
}

type ResultRow = { name: string; median: number; target: string; ok: boolean | null };

/** Each proxy in a child process of its own (its output passed through), then the medians side by side. */
async function bothProxies(): Promise<number> {
  const proxies = ['nginx', 'caddy'];
  const results: ResultRow[][] = [];
  let worst = 0;
  for (const proxy of proxies) {
    const child = spawn(process.execPath, [process.argv[1]!, ...argv.filter((a) => !a.startsWith('--proxy=')), `--proxy=${proxy}`], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.add(child);
    let out = '';
    child.stdout!.on('data', (c: Buffer) => {
      process.stdout.write(c);
      out += c.toString('utf8');
    });
    const code = await new Promise<number>((res) => child.on('close', (c) => res(c ?? 1)));
    children.delete(child);
    worst = Math.max(worst, code);
    const line = out.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
    if (!line) return Math.max(worst, 2);
    results.push(JSON.parse(line.slice(RESULT_PREFIX.length)) as ResultRow[]);
  }
  const table = [['measure (median)', ...proxies, 'target'], ...results[0]!.map((row, i) => [
    row.name, ...results.map((r) => `${secs(r[i]!.median)}${r[i]!.ok === null ? '' : r[i]!.ok ? ' ✓' : ' MISSED'}`), row.target,
  ])];
  const w = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  console.log('\npush to served, side by side:\n');
  for (const row of table) console.log(row.map((c, i) => c.padEnd(w[i]!)).join('  '));
  return worst;
}

let code = 2;
try {
  if (PROXY !== 'both' && PROXY !== 'nginx' && PROXY !== 'caddy') {
    console.error('usage: node dist/bench/push.js [--runs=N] [--proxy=nginx|caddy|both] [--strict]');
    code = 64;
  } else {
    code = PROXY === 'both' ? await bothProxies() : await main();
  }
} catch (err) {
  console.error(`\nbenchmark failed: ${err instanceof Error ? err.message : String(err)}`);
  if (env.HOP3_HOME) {
    try {
      console.error(readFileSync(join(env.HOP3_HOME, 'daemon.log'), 'utf8').slice(-3000));
    } catch { /* no log */ }
  }
} finally {
  await cleanup();
}
process.exit(code);
