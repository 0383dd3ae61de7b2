/**
 * Benchmark: a code change in each runtime, build plus push to served, beside the same build run
 * by hand as the floor.
 *
 * For each example in RUNTIMES, a copy of it in git is pushed (git smart HTTP) to a throwaway
 * hop3-server (real uWSGI emperor, real nginx or Caddy): once to create the app and once more to
 * warm its caches (not measured), then RUNS times with a one-line code change, each timed from
 * starting `git push` until a GET through the proxy returns the changed line. The floor is the
 * runtime's build command run by hand in a scratch copy with the same one-line change, its
 * caches warm as hop3's are (a warm-up build first, not measured).
 *
 * Targets: a change with no build (python, static) is served in ≤ 1 s; a runtime build in
 * floor + ≤ 1 s (hop3's own part: the push, the release, the start, the health check, the switch).
 *
 *   npm run build && node dist/bench/runtimes.js [--runs=N] [--proxy=nginx|caddy] [--only=go,rust] [--strict]
 *
 * --strict exits 1 when a median misses its target. Everything started here is stopped and every
 * temporary directory removed on exit.
 */
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { BenchRun, EXAMPLES, mustGit, secs, stats, type Stats } from './support.js';

/** One example per runtime, and how to change one line of its code and build it by hand. */
interface RuntimeCase {
  runtime: string;
  example: string;
  /** The file the one-line change is made in. */
  file: string;
  /** The change: `mark` put into what the page shows (the source unchanged: the example changed shape). */
  change: (source: string, mark: string) => string;
  /** The build by hand (run in the scratch copy, in order); empty: nothing to build. */
  floor: string[][];
  /** The build's caches, in the scratch home `home` (the by-hand build's own, like hop3's per app). */
  env?: (home: string) => Record<string, string>;
}

/** `mark` before a text the page shows. */
const before = (text: string) => (source: string, mark: string) => source.replace(text, `${mark} ${text}`);

/** Adding a runtime is one row. */
const RUNTIMES: RuntimeCase[] = [
  { runtime: 'node', example: 'node-app', file: 'server.js', change: before('You asked for'), floor: [['npm', 'ci'], ['npm', 'run', 'build']], env: (h) => ({ npm_config_cache: join(h, 'npm-cache'), npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' }) },
  { runtime: 'go', example: 'go-app', file: 'main.go', change: before('You asked for'), floor: [['go', 'build', '-o', 'bin/app', '.']], env: (h) => ({ GOPATH: join(h, 'go'), GOMODCACHE: join(h, 'mod'), GOCACHE: join(h, 'build'), GOPROXY: 'off', GOTOOLCHAIN: 'local', CGO_ENABLED: '0' }) },
  { runtime: 'rust', example: 'rust-app', file: 'src/main.rs', change: before('You asked for'), floor: [['cargo', 'build', '--release', '--offline']], env: (h) => ({ CARGO_HOME: join(h, 'cargo'), CARGO_TARGET_DIR: join(h, 'target') }) },
  { runtime: 'ruby', example: 'ruby-app', file: 'config.ru', change: before('You asked for'), floor: [['bundle', 'install', '--local', '--no-cache']], env: (h) => ({ GEM_HOME: join(h, 'gems'), BUNDLE_USER_HOME: join(h, 'bundle') }) },
  { runtime: 'php', example: 'php-app', file: 'index.php', change: before('You asked for'), floor: [['php', '-l', 'index.php']] },
  { runtime: 'python', example: 'hello-wsgi', file: 'app.py', change: (s, mark) => s.replace('body = {', `body = {\n        "mark": "${mark}",`), floor: [] },
  { runtime: 'static', example: 'static-site', file: 'public/index.html', change: before('Served by hop3'), floor: [] },
];

const argv = process.argv.slice(2);
const option = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const RUNS = Math.max(1, Number(option('runs') ?? 5));
const STRICT = argv.includes('--strict');
const PROXY = option('proxy') ?? 'nginx';
const ONLY = option('only')?.split(',');
/** A build's push may take this long before the bench gives up on it. */
const SERVE_TIMEOUT_MS = 300_000;
const NO_BUILD_TARGET_MS = 1000;
const OVER_FLOOR_TARGET_MS = 1000;
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';

const bench = new BenchRun();

/** The one-line change, with `mark` in what the page shows. */
function changed(source: string, c: RuntimeCase, mark: string): string {
  const out = c.change(source, mark);
  if (out === source) throw new Error(`examples/${c.example}/${c.file} changed shape: update its row of RUNTIMES`);
  return out;
}

/** RUNS pushes of a one-line change, each until the page has it: push → served (ms). */
async function throughHop3(c: RuntimeCase): Promise<number[]> {
  const work = bench.tempDir(`hop3-bench-${c.runtime}-`);
  cpSync(join(EXAMPLES, c.example), work, { recursive: true });
  const source = readFileSync(join(work, c.file), 'utf8');
  const app = `bench-${c.runtime}`;
  const commit = async (mark: string) => {
    writeFileSync(join(work, c.file), changed(source, c, mark));
    await mustGit(work, ['add', '-A']);
    await mustGit(work, ['commit', '-q', '-m', mark]);
  };
  await mustGit(work, ['init', '-q', '-b', 'main']);
  const push = (mark: string) => bench.pushUntilServed(work, bench.gitUrl(app), 'main', `${app}.localhost`, mark, SERVE_TIMEOUT_MS);
  for (const mark of ['warm0', 'warm1']) {
    await commit(mark);
    await push(mark);
  }
  const served: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await commit(`change${i}`);
    served.push((await push(`change${i}`)).servedMs);
    process.stdout.write('.');
  }
  return served;
}

/** RUNS builds by hand of the same one-line change in a scratch copy, caches warm (ms). */
async function byHand(c: RuntimeCase): Promise<number[]> {
  if (c.floor.length === 0) return [];
  const work = bench.tempDir(`hop3-bench-floor-${c.runtime}-`);
  const home = bench.tempDir(`hop3-bench-floor-home-${c.runtime}-`);
  cpSync(join(EXAMPLES, c.example), work, { recursive: true });
  const source = readFileSync(join(work, c.file), 'utf8');
  const env = { PATH: SYSTEM_PATH, HOME: home, LANG: 'C.UTF-8', ...c.env?.(home) };
  const build = async (mark: string) => {
    writeFileSync(join(work, c.file), changed(source, c, mark));
    const t0 = performance.now();
    for (const [cmd, ...args] of c.floor) {
      const r = await execa(cmd!, args, { cwd: work, env, extendEnv: false, reject: false, timeout: SERVE_TIMEOUT_MS, all: true });
      if (r.exitCode !== 0) throw new Error(`${c.floor.map((x) => x.join(' ')).join(' && ')} by hand failed (${r.exitCode}):\n${String(r.all).slice(-2000)}`);
    }
    return performance.now() - t0;
  };
  await build('warm');
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    times.push(await build(`floor${i}`));
    process.stdout.write('.');
  }
  return times;
}

async function main(): Promise<number> {
  const cases = RUNTIMES.filter((c) => ONLY === undefined || ONLY.includes(c.runtime));
  if (cases.length === 0) throw new Error(`--only names no runtime of ${RUNTIMES.map((c) => c.runtime).join(', ')}`);
  console.log(`runtime-build benchmark, HOP3_PROXY=${PROXY}: ${RUNS} runs each (node ${process.version})`);
  await bench.startHop3(PROXY, 'hop3-bench-runtimes-');
  const rows: Array<{ runtime: string; served: Stats; floor: Stats | null; targetMs: number; ok: boolean }> = [];
  for (const c of cases) {
    process.stdout.write(`${c.runtime} `);
    const floorRuns = await byHand(c);
    const served = stats(await throughHop3(c));
    const floor = floorRuns.length === 0 ? null : stats(floorRuns);
    const targetMs = (floor?.median ?? 0) + (floor ? OVER_FLOOR_TARGET_MS : NO_BUILD_TARGET_MS);
    rows.push({ runtime: c.runtime, served, floor, targetMs, ok: served.median <= targetMs });
    process.stdout.write('\n');
  }
  console.log('');
  const head = ['runtime', 'push → served (median)', 'min', 'max', 'build by hand (floor)', 'over the floor', 'target', ''];
  const table = [head, ...rows.map((r) => [
    r.runtime, secs(r.served.median), secs(r.served.min), secs(r.served.max),
    r.floor ? `${secs(r.floor.median)} (${secs(r.floor.min)}–${secs(r.floor.max)})` : 'no build',
    r.floor ? secs(r.served.median - r.floor.median) : '',
    r.floor ? `floor + ≤ ${secs(OVER_FLOOR_TARGET_MS)} = ${secs(r.targetMs)}` : `≤ ${secs(NO_BUILD_TARGET_MS)}`,
    r.ok ? 'ok' : 'MISSED',
  ])];
  const w = head.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  for (const row of table) console.log(row.map((cell, i) => cell.padEnd(w[i]!)).join('  ').trimEnd());
  console.log(`\n${RUNS} runs each; served = first GET through ${PROXY} (polled every 20 ms) that returns the change; floor = ${cases.filter((c) => c.floor.length > 0).map((c) => `${c.runtime}: ${c.floor.map((x) => x.join(' ')).join(' && ')}`).join('; ')}, caches warm.`);
  return STRICT && rows.some((r) => !r.ok) ? 1 : 0;
}

await bench.exitWith(main);
