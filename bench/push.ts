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
import { spawn } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePorts } from '../src/lib/free-ports.js';
import { httpGet } from '../src/lib/http-get.js';
import { BenchRun, EXAMPLES, mustGit, POLL_MS, secs, sleep, stats, waitExit, type Stats, type Timed } from './support.js';

// --- settings ---------------------------------------------------------------------------------

const EXAMPLE = join(EXAMPLES, 'hello-wsgi');
const argv = process.argv.slice(2);
const RUNS = Math.max(1, Number(argv.find((a) => a.startsWith('--runs='))?.slice('--runs='.length) ?? 5));
const STRICT = argv.includes('--strict');
const PROXY = argv.find((a) => a.startsWith('--proxy='))?.slice('--proxy='.length) ?? 'both';
/** The line a child run prints its figures on, for the side-by-side table. */
const RESULT_PREFIX = 'BENCH_PUSH_RESULT ';
const SERVE_TIMEOUT_MS = 60_000;
const TARGET = { codeChangeS: 1.0, newAppS: 2.5 };

const bench = new BenchRun();
const { children } = bench;

// --- the benchmark ----------------------------------------------------------------------------

/** hello-wsgi's app.py with a marker in every response body. */
function markedApp(source: string, mark: string): string {
  const out = source.replace('body = {', `body = {\n        "mark": ${JSON.stringify(mark)},`);
  if (out === source) throw new Error('examples/hello-wsgi/app.py changed shape: cannot insert the marker');
  return out;
}

interface Event { kind: string; at: string; data: { release?: number; source?: string } }

/**
 * Where the time of each measured push went, from the app's events (wall clock, ms):
 * push started → release created → build done → first GET that saw the new code → push returned.
 */
async function phases(token: string, app: string, runs: Timed[]): Promise<Record<string, number[]>> {
  const res = await fetch(`http://${bench.env.HOP3_LISTEN}/rpc`, {
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
  await bench.startHop3(PROXY, 'hop3-bench-push-');
  const token = bench.token();
  const gitUrl = (app: string) => bench.gitUrl(app);
  const pushUntilServed = (work: string, url: string, refspec: string, host: string, mark: string) =>
    bench.pushUntilServed(work, url, refspec, host, mark, SERVE_TIMEOUT_MS);

  // A copy of examples/hello-wsgi, in git.
  const work = bench.tempDir('hop3-bench-work-');
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
  const bare = bench.tempDir('hop3-bench-bare-');
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

await bench.exitWith(async () => {
  if (PROXY !== 'both' && PROXY !== 'nginx' && PROXY !== 'caddy') {
    console.error('usage: node dist/bench/push.js [--runs=N] [--proxy=nginx|caddy|both] [--strict]');
    return 64;
  }
  return PROXY === 'both' ? bothProxies() : main();
});
