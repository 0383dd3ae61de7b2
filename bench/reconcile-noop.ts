/**
 * Benchmark: the converged ("no-op") reconcile pass over N static-site apps.
 *
 * For each N it starts a real hop3 controller (real uWSGI emperor, real embedded nginx or Caddy) in a
 * throwaway HOP3_HOME on free loopback ports, declares N static sites through the records, lets
 * the reconciler converge them, then times full passes over every app once nothing is left to
 * do. DESIGN.md: "a second pass over unchanged state plans nothing and touches nothing: no
 * writes, no mtime changes, no reloads, no process spawns" — this checks it and measures it.
 *
 *   npm run build && node dist/bench/reconcile-noop.js [N...] [--proxy=nginx|caddy|both] [--strict] [--profile=DIR] [--alloc-profile=DIR] [--heap-snapshot=DIR]
 *
 * N defaults to 100 and 1000, the proxy (HOP3_PROXY) to both; each N and proxy runs in a child
 * process of its own (fresh heap, so the RSS of one N does not carry over to the next), and the
 * figures of both proxies are printed side by side at the end. --strict also fails (exit 1) on a
 * missed performance target; without it only broken invariants (actions, spawns, writes, row
 * changes, mtimes, serving) fail. --profile=DIR writes a V8 CPU profile of the measured no-op passes only;
 * --heap-snapshot=DIR writes a V8 heap snapshot after them (what holds the RSS).
 * --alloc-profile=DIR writes a V8 sampling heap profile of what those passes allocate, garbage included.
 * Writes are looked at, not counted by hop3: every entry under HOP3_HOME is lstat'ed before and
 * after each pass (tests/support/file-snapshot.ts; the servers' own logs aside), and SQLite's
 * total_changes() gives the rows.
 * Environment: BENCH_CONCURRENCY (HOP3_DEPLOY_CONCURRENCY, default 4, the daemon's default),
 * BENCH_NOOP_PASSES (measured no-op passes, default 5; more for a steadier comparison of two trees),
 * BENCH_CONVERGE_TIMEOUT_S (default 1200), BENCH_SMAPS (a file to copy /proc/self/smaps to after the passes: which mappings hold the RSS).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { Session } from 'node:inspector/promises';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { writeHeapSnapshot } from 'node:v8';
import { loadConfig } from '../src/config.js';
import { freePorts } from '../src/lib/free-ports.js';
import { httpGet } from '../src/lib/http-get.js';
import { createLogger } from '../src/lib/logger.js';
import { livePid } from '../src/lib/pidfile.js';
import { createHop3, type Hop3 } from '../src/server/hop3.js';
import { observeResources } from '../src/reconcile/observe.js';
import { plan } from '../src/reconcile/plan.js';
import { assertValidSpec, parseAppSpec } from '../src/manifest/index.js';
import { serversOwn, snapshotsElsewhere } from '../tests/support/file-snapshot.js';

// --- settings ---------------------------------------------------------------------------------

const NOOP_PASSES = Number(process.env.BENCH_NOOP_PASSES ?? 5);
const MAX_CONVERGE_ROUNDS = 12;
const CONVERGE_TIMEOUT_MS = Number(process.env.BENCH_CONVERGE_TIMEOUT_S ?? 1200) * 1000;
const CONCURRENCY = process.env.BENCH_CONCURRENCY ?? '4';
const START_TIMEOUT_MS = 60_000;
const DECLARE_TIMEOUT_MS = 300_000;
const PASS_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 30_000;
/** Hard bound per N: past it, kill what we started, remove HOP3_HOME and exit 2. */
const WATCHDOG_MS = CONVERGE_TIMEOUT_MS + DECLARE_TIMEOUT_MS + 2 * START_TIMEOUT_MS + (NOOP_PASSES + 2) * PASS_TIMEOUT_MS + 6 * STEP_TIMEOUT_MS;

/** Targets, stated for N = 1000 (and applied to every N: a smaller N must meet them too). */
const TARGET = { wallMs: 100, spawns: 0, writes: 0, rssMb: 150 };

const HOP3_TOML = '[build]\nbuilder = "static"\n[run]\nstatic = "public"\n';

// --- small helpers ----------------------------------------------------------------------------

/**
 * Where a converged pass's time goes, after the measured passes: each step of a pass run over
 * every app in a row and timed as a whole: µs an app, the fastest of 5 sweeps (on a shared machine
 * a slower sweep is mostly other processes' turns; the thread's CPU time is too coarse for this).
 */
async function passBreakdown(hh: Hop3): Promise<Record<string, number>> {
  const names = hh.store.appNames();
  const runs = await Promise.all(names.map((n) => hh.reconciler.dryRun(n)));
  const steps: [string, (i: number) => unknown][] = [
    ['record read', (i) => hh.store.getAppForPass(names[i]!)],
    ['whole dry run', (i) => hh.reconciler.dryRun(names[i]!)],
    ['observe (all)', (i) => observeResources(hh.plugins.providers, names[i]!, runs[i]!.desired.resources)],
    ['plan', (i) => plan(runs[i]!.desired, runs[i]!.observed, hh.plugins.providers)],
    ...hh.plugins.providers.map((p): [string, (i: number) => unknown] => [`observe ${p.kind}`, (i) => {
      const mine = runs[i]!.desired.resources.filter((r) => r.kind === p.kind);
      return mine.length === 0 && p.observesDesiredOnly ? undefined : p.observe(names[i]!, mine);
    }]),
  ];
  const out: Record<string, number> = {};
  for (const [what, step] of steps) {
    const sweeps: number[] = [];
    for (let sweep = 0; sweep < 5; sweep++) {
      const t = performance.now();
      for (let i = 0; i < names.length; i++) await step(i);
      sweeps.push(performance.now() - t);
    }
    out[what] = round1((1000 * Math.min(...sweeps)) / names.length);
  }
  return out;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round1 = (x: number) => Math.round(x * 10) / 10;
const rssMb = () => process.memoryUsage().rss / 2 ** 20;
/** process.memoryUsage() in MB, rounded, for the JSON line. */
function memory(): Record<string, number> {
  return Object.fromEntries(Object.entries(process.memoryUsage()).map(([k, v]) => [k, round1(v / 2 ** 20)]));
}
const appName = (i: number, n: number) => `site-${String(i).padStart(Math.max(3, String(n - 1).length), '0')}`;

// --- emergency cleanup (watchdog, signals) ------------------------------------------------------

interface Live {
  home: string;
  proxyPidfile: string;
  proxy: string;
  emperorPidfile: string;
}
let live: Live | null = null;
/** The child running one N (when several N were asked for); signals are passed on to it. */
let currentChild: ChildProcess | null = null;

/** Synchronous last resort: stop the servers we started and remove HOP3_HOME. */
function emergencyCleanup(): void {
  if (!live) return;
  for (const [pidfile, marker] of [[live.proxyPidfile, live.proxy], [live.emperorPidfile, 'uwsgi']] as const) {
    const pid = livePid(pidfile, marker);
    if (pid) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  }
  rmSync(live.home, { recursive: true, force: true });
  live = null;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (currentChild) {
      currentChild.kill(sig); // it cleans up; runChild resolves when it has exited
      return;
    }
    console.error(`\n${sig}: cleaning up`);
    emergencyCleanup();
    process.exit(130);
  });
}

// --- one N --------------------------------------------------------------------------------------

interface NoopPass {
  wallMs: number;
  cpuMs: number;
  /** The main thread's alone (cpuMs also counts libuv's and V8's threads). */
  mainCpuMs: number;
  spawns: number;
  writes: number;
  rowChanges: number;
  actions: number;
  errors: number;
  rssMb: number;
}

export interface BenchResult {
  bench: 'reconcile-noop';
  date: string;
  n: number;
  proxy: string;
  concurrency: number;
  node: string;
  cpus: number;
  cpuModel: string;
  converge: {
    ms: number; rounds: number; healthy: number; spawns: number; writes: number;
    /** Time in the proxy's check of a config (nginx -t, caddy validate) and in its reloads (or loads). */
    proxyTestMs: number; proxyReloadMs: number;
    errors: { app: string; error: string }[];
    unhealthy: { app: string; health: string; message: string }[];
  };
  served: boolean;
  /** process.memoryUsage() (MB) at each stage, to tell the controller's steady state from setup garbage. */
  memory: Record<string, Record<string, number>>;
  noop: {
    passes: NoopPass[];
    wallMsMedian: number;
    cpuMsMedian: number;
    spawns: number;
    writes: number;
    rowChanges: number;
    actions: number;
    errors: number;
    rssMbMax: number;
    siteMtimeChanges: number;
    /** One emperor stats-socket round trip (the only await of a no-op pass), median of 5. */
    emperorStatsMsMedian: number;
    /** µs an app per step of a pass (passBreakdown). */
    breakdown: Record<string, number>;
    /** 1-minute load average before and after the measured passes (a shared machine shows here). */
    loadavg1: [number, number];
  };
  targets: typeof TARGET;
  pass: Record<string, boolean>;
}

function countActions(h: Hop3): { actions: number; errors: number; apps: number } {
  let actions = 0;
  let errors = 0;
  for (const p of h.reconciler.lastPass.values()) {
    actions += p.actions.length;
    if (p.error !== null) errors++;
  }
  return { actions, errors, apps: h.reconciler.lastPass.size };
}

function totalChanges(h: Hop3): number {
  return h.store.db.prepare('SELECT total_changes()').pluck().get() as number;
}

/**
 * Time the proxy's config checks and reloads during convergence (bench-side wrappers of private
 * steps): nginx -t and the reload of NginxControl; caddy validate and the POST /load of CaddyControl.
 */
function instrumentProxy(h: Hop3): { testMs: number; reloadMs: number } {
  const acc = { testMs: 0, reloadMs: 0 };
  type Step = (...args: unknown[]) => Promise<unknown>;
  const time = (obj: Record<string, Step>, method: string, add: (ms: number) => void) => {
    const orig = obj[method]!;
    obj[method] = async function (this: unknown, ...args: unknown[]) {
      const t = performance.now();
      try {
        return await orig.apply(this, args);
      } finally {
        add(performance.now() - t);
      }
    };
  };
  if (h.plugins.proxy.name === 'caddy') {
    const ctl = (h.plugins.proxy.server as unknown as { control: Record<string, Step> }).control;
    let validating = 0;
    time(ctl, 'validate', (ms) => {
      acc.testMs += ms;
      validating += ms;
    });
    // applyNow is validate + load: the load is the rest.
    time(ctl, 'applyNow', (ms) => {
      acc.reloadMs += ms - validating;
      validating = 0;
    });
  } else {
    const ctl = h.plugins.proxy.server as unknown as Record<string, Step>;
    time(ctl, 'test', (ms) => (acc.testMs += ms));
    time(ctl, 'reload', (ms) => (acc.reloadMs += ms));
  }
  return acc;
}

async function benchOne(n: number, proxy: string, opts: { profileDir: string | null; heapDir: string | null; allocDir: string | null }): Promise<BenchResult> {
  const home = mkdtempSync(join(tmpdir(), 'hop3-bench-noop-'));
  let h: Hop3 | null = null;
  let files: ReturnType<typeof snapshotsElsewhere> | null = null;
  const watchdog = setTimeout(() => {
    console.error(`watchdog: N=${n} exceeded ${Math.round(WATCHDOG_MS / 1000)} s; killing the servers and removing ${home}`);
    emergencyCleanup();
    rmSync(home, { recursive: true, force: true });
    process.exit(2);
  }, WATCHDOG_MS);
  watchdog.unref();
  try {
    const [httpPort, listenPort, httpsPort] = await freePorts(3);
    const config = loadConfig({
      HOP3_HOME: home,
      HOP3_HTTP_PORT: String(httpPort),
      HOP3_HTTPS_PORT: String(httpsPort),
      HOP3_LISTEN: `127.0.0.1:${listenPort}`,
      HOP3_LOG_LEVEL: 'silent',
      HOP3_DEPLOY_CONCURRENCY: CONCURRENCY,
      HOP3_PROXY: proxy,
    });
    h = createHop3(config, createLogger('silent'));
    live = { home, proxyPidfile: join(h.layout.run, `${proxy}.pid`), proxy, emperorPidfile: join(h.layout.run, 'emperor.pid') };
    const hh = h;
    const sitesDir = dirname(hh.plugins.proxy.sitePath('x'));
    const proxyTimes = instrumentProxy(hh);
    const mem: Record<string, Record<string, number>> = { created: memory() };

    // 1. Real managed servers.
    await withTimeout(hh.plugins.supervisor.ensureRunning(), START_TIMEOUT_MS, 'emperor start');
    await withTimeout(hh.plugins.proxy.server.ensureRunning(), START_TIMEOUT_MS, `${proxy} start`);
    mem.started = memory();

    // 2. Declare N static sites through the records (as the deploy command, src/commands/deploy.ts, does, minus the upload).
    const spec = assertValidSpec(parseAppSpec({ 'hop3.toml': HOP3_TOML }));
    const names = Array.from({ length: n }, (_, i) => appName(i, n));
    const tDeclare = performance.now();
    for (const name of names) {
      const src = join(hh.layout.releaseDir(name, 1), 'src');
      mkdirSync(join(src, 'public'), { recursive: true });
      writeFileSync(join(src, 'hop3.toml'), HOP3_TOML);
      writeFileSync(join(src, 'public', 'index.html'), `<!doctype html><title>${name}</title><h1>hello from ${name}</h1>\n`);
      for (const d of ['data', 'log']) mkdirSync(join(hh.layout.app(name), d), { recursive: true });
    }
    hh.store.db.transaction(() => {
      for (const name of names) {
        hh.store.createApp(name);
        const release = hh.store.createRelease({ app: name, source: 'rpc', commit: null, spec, env: {}, artifact: null, ports: {} });
        hh.store.addEvent(name, 'release.created', { release: release.version, source: 'rpc' });
        hh.store.updateDesired(name, { desiredRelease: release.version, desiredState: 'running' });
      }
    })();
    mem.declared = memory();
    console.log(`N=${n}: declared ${n} apps in ${round1((performance.now() - tDeclare) / 1000)} s (HOP3_HOME=${home}, http :${httpPort})`);

    // 3. Converge: each triggerAll waits for one pass per app; a build pass queues its rollout.
    // Settled: every app's last pass planned nothing and failed nothing. Converged: settled and
    // every app Healthy. An app left unhealthy by a settled pass stays so (a failed release is
    // final until a new deploy): once the unhealthy set stops changing, stop and report it.
    const settled = () =>
      names.every((name) => {
        const p = hh.reconciler.lastPass.get(name);
        return p !== undefined && p.actions.length === 0 && p.error === null;
      });
    const unhealthy = () =>
      names.flatMap((name) => {
        const app = hh.store.getApp(name);
        return app?.health === 'Healthy' ? [] : [{ app: name, health: app?.health ?? 'no record', message: app?.message ?? '' }];
      });
    const errorsSeen = new Map<string, string>();
    const convergeSpawns0 = hh.exec.spawns;
    // Taken by another process: a listing of every file in this heap would be garbage collected
    // during the passes timed below.
    files = snapshotsElsewhere(home, serversOwn(home));
    const seen = files;
    const tConverge = performance.now();
    const deadline = tConverge + CONVERGE_TIMEOUT_MS;
    const progress = setInterval(() => {
      const healthy = hh.store.listApps().filter((a) => a.health === 'Healthy').length;
      console.log(`  … ${round1((performance.now() - tConverge) / 1000)} s: ${healthy}/${n} healthy, ${hh.exec.spawns - convergeSpawns0} spawns`);
    }, 15_000);
    let rounds = 0;
    let stuck: ReturnType<typeof unhealthy> = [];
    try {
      let previous: string | null = null;
      for (;;) {
        if (rounds > 0 && settled()) {
          stuck = unhealthy();
          const key = JSON.stringify(stuck);
          if (stuck.length === 0 || key === previous) break;
          previous = key;
        }
        if (rounds >= MAX_CONVERGE_ROUNDS) throw new Error(`N=${n}: not settled after ${rounds} rounds`);
        const left = deadline - performance.now();
        if (left <= 0) throw new Error(`N=${n}: not settled within ${CONVERGE_TIMEOUT_MS / 1000} s`);
        const t = performance.now();
        await withTimeout(hh.reconciler.triggerAll(), left, `convergence round ${rounds + 1}`);
        rounds++;
        for (const p of hh.reconciler.lastPass.values()) if (p.error !== null && !errorsSeen.has(p.app)) errorsSeen.set(p.app, p.error);
        const c = countActions(hh);
        console.log(`  round ${rounds}: ${round1((performance.now() - t) / 1000)} s, ${c.actions} actions, ${c.errors} errors`);
      }
    } finally {
      clearInterval(progress);
    }
    const convergeMs = performance.now() - tConverge;
    mem.converged = memory();
    const converge = {
      ms: Math.round(convergeMs), rounds, healthy: n - stuck.length, spawns: hh.exec.spawns - convergeSpawns0, writes: seen.changed().length,
      proxyTestMs: Math.round(proxyTimes.testMs), proxyReloadMs: Math.round(proxyTimes.reloadMs),
      errors: [...errorsSeen].slice(0, 20).map(([app, error]) => ({ app, error })),
      unhealthy: stuck.slice(0, 20),
    };
    console.log(`N=${n}: ${stuck.length === 0 ? 'converged' : `settled with ${stuck.length} app(s) NOT healthy`} in ` +
      `${round1(convergeMs / 1000)} s (${rounds} rounds incl. the final no-op one; ` +
      `${converge.spawns} spawns, ${converge.writes} writes; ${proxy === 'caddy' ? 'caddy validate' : 'nginx -t'} ${round1(converge.proxyTestMs / 1000)} s, reloads ${round1(converge.proxyReloadMs / 1000)} s)`);
    for (const [app, error] of [...errorsSeen].slice(0, 10)) console.log(`  pass error during convergence: ${app}: ${error}`);
    for (const u of stuck.slice(0, 10)) {
      const rel = hh.store.listReleases(u.app).map((r) => `v${r.version} ${r.status}`).join(', ');
      console.log(`  not healthy: ${u.app}: ${u.health} — ${u.message} (releases: ${rel}; lifecycle: ${hh.lifecycles.state(u.app)})`);
    }

    // Really served?
    const first = names[0]!;
    const got = await withTimeout(httpGet(`http://127.0.0.1:${httpPort!}/`, `${first}.${config.domain}`, 5000), STEP_TIMEOUT_MS, 'HTTP check');
    const served = got.status === 200 && got.body.includes(`hello from ${first}`);
    console.log(`N=${n}: GET http://127.0.0.1:${httpPort}/ Host ${first}.${config.domain} → ${got.status} ${served ? '(index.html served)' : `UNEXPECTED: ${got.body.slice(0, 200)}`}`);

    // Context for reading wall vs CPU: machine load, and the one await of a no-op pass (emperor stats).
    const statsMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await withTimeout(hh.plugins.supervisor.stats(), STEP_TIMEOUT_MS, 'emperor stats');
      statsMs.push(performance.now() - t);
    }
    const loadBefore = loadavg()[0]!;

    // 4. The no-op pass, NOOP_PASSES times.
    const written = new Set<string>();
    seen.changed();
    const passes: NoopPass[] = [];
    let session: Session | null = null;
    if (opts.profileDir || opts.allocDir) {
      session = new Session();
      session.connect();
    }
    if (session && opts.profileDir) {
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 100 });
      await session.post('Profiler.start');
    }
    // What the passes allocate, garbage included: what makes the heap grow between collections.
    if (session && opts.allocDir) {
      await session.post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    }
    for (let i = 0; i < NOOP_PASSES; i++) {
      const spawns0 = hh.exec.spawns;
      const rows0 = totalChanges(hh);
      const cpu0 = process.cpuUsage();
      const main0 = process.threadCpuUsage();
      const t0 = performance.now();
      await withTimeout(hh.reconciler.triggerAll(), PASS_TIMEOUT_MS, `no-op pass ${i + 1}`);
      const wallMs = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const mainCpu = process.threadCpuUsage(main0);
      const rss = rssMb();
      const spawns = hh.exec.spawns - spawns0;
      const rowChanges = totalChanges(hh) - rows0;
      const changed = seen.changed();
      for (const p of changed) written.add(p);
      const c = countActions(hh);
      passes.push({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000, mainCpuMs: (mainCpu.user + mainCpu.system) / 1000, spawns, writes: changed.length, rowChanges, actions: c.actions, errors: c.errors, rssMb: rss });
    }
    if (session && opts.profileDir) {
      const { profile } = await session.post('Profiler.stop');
      mkdirSync(opts.profileDir, { recursive: true });
      const file = join(opts.profileDir, `reconcile-noop-${n}.cpuprofile`);
      writeFileSync(file, JSON.stringify(profile));
      console.log(`N=${n}: CPU profile of the no-op passes → ${file}`);
    }
    if (session && opts.allocDir) {
      const { profile } = await session.post('HeapProfiler.stopSampling');
      mkdirSync(opts.allocDir, { recursive: true });
      const file = join(opts.allocDir, `reconcile-noop-${n}-${proxy}.heapprofile`);
      writeFileSync(file, JSON.stringify(profile));
      console.log(`N=${n}: allocation profile of the no-op passes → ${file}`);
    }
    session?.disconnect();
    mem.noop = memory();
    if (process.env.BENCH_SMAPS) writeFileSync(process.env.BENCH_SMAPS, readFileSync('/proc/self/smaps'));
    const breakdown = await passBreakdown(hh);
    if (opts.heapDir) {
      mkdirSync(opts.heapDir, { recursive: true });
      console.log(`N=${n}: heap snapshot after the no-op passes → ${writeHeapSnapshot(join(opts.heapDir, `reconcile-noop-${n}-${proxy}.heapsnapshot`))}`);
    }
    const gc = (globalThis as { gc?: () => void }).gc;
    if (gc) {
      gc(); // only with node --expose-gc: how much of the RSS is live data
      mem.noopAfterGc = memory();
    }
    const siteMtimeChanges = [...written].filter((p) => p.startsWith(`${sitesDir}/`)).length;
    for (const p of [...written].slice(0, 10)) console.log(`  changed by a no-op pass: ${p}`);

    const noop = {
      passes,
      wallMsMedian: median(passes.map((p) => p.wallMs)),
      cpuMsMedian: median(passes.map((p) => p.cpuMs)),
      spawns: Math.max(...passes.map((p) => p.spawns)),
      writes: Math.max(...passes.map((p) => p.writes)),
      rowChanges: Math.max(...passes.map((p) => p.rowChanges)),
      actions: Math.max(...passes.map((p) => p.actions)),
      errors: Math.max(...passes.map((p) => p.errors)),
      rssMbMax: Math.max(...passes.map((p) => p.rssMb)),
      siteMtimeChanges,
      emperorStatsMsMedian: median(statsMs),
      breakdown,
      loadavg1: [round1(loadBefore), round1(loadavg()[0]!)] as [number, number],
    };
    const pass = {
      wall: noop.wallMsMedian <= TARGET.wallMs,
      spawns: noop.spawns <= TARGET.spawns,
      writes: noop.writes <= TARGET.writes,
      rss: noop.rssMbMax <= TARGET.rssMb,
      actions: noop.actions === 0 && noop.errors === 0,
      rowChanges: noop.rowChanges === 0,
      siteMtimes: siteMtimeChanges === 0,
      served,
      converged: converge.healthy === n,
    };
    return {
      bench: 'reconcile-noop', date: new Date().toISOString(), n, proxy, concurrency: config.deployConcurrency,
      node: process.version, cpus: availableParallelism(), cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      converge, served, memory: mem, noop, targets: TARGET, pass,
    };
  } finally {
    // 6. Cleanup, always, each step bounded; then make sure nothing we started survives.
    const steps: [string, () => Promise<void> | void][] = h
      ? [
          ['reconciler.close', () => h!.reconciler.close()],
          ['emperor.stop', () => h!.plugins.supervisor.stop()],
          [`${proxy}.stop`, () => h!.plugins.proxy.server.stop()],
          ['store.close', () => h!.store.close()],
        ]
      : [];
    for (const [what, step] of steps) {
      try {
        await withTimeout(Promise.resolve().then(step), STEP_TIMEOUT_MS, what);
      } catch (err) {
        console.error(`cleanup: ${what}: ${(err as Error).message}`);
      }
    }
    files?.close();
    emergencyCleanup(); // kills leftovers (if any) and removes HOP3_HOME
    rmSync(home, { recursive: true, force: true });
    clearTimeout(watchdog);
  }
}

// --- report -------------------------------------------------------------------------------------

function table(r: BenchResult): string {
  const mark = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  const rows: [string, string, string, string][] = [
    ['convergence (initial setup)', `${round1(r.converge.ms / 1000)} s`, 'informational', `${r.converge.rounds} rounds`],
    ['apps Healthy after convergence', `${r.converge.healthy}/${r.n}`, `${r.n}/${r.n}`, mark(r.pass.converged!)],
    [`${appName(0, r.n)} served (GET → 200)`, r.served ? 'yes' : 'no', 'yes', mark(r.pass.served!)],
    [`no-op pass wall (median of ${NOOP_PASSES})`, `${round1(r.noop.wallMsMedian)} ms`, `≤ ${TARGET.wallMs} ms`, mark(r.pass.wall!)],
    [`no-op pass CPU (median of ${NOOP_PASSES})`, `${round1(r.noop.cpuMsMedian)} ms`, 'informational', ''],
    ['spawns per pass (max)', String(r.noop.spawns), `${TARGET.spawns}`, mark(r.pass.spawns!)],
    ['file writes per pass (max)', String(r.noop.writes), `${TARGET.writes}`, mark(r.pass.writes!)],
    ['RSS after pass (max)', `${round1(r.noop.rssMbMax)} MB`, `≤ ${TARGET.rssMb} MB`, mark(r.pass.rss!)],
    ['actions over all apps (max)', `${r.noop.actions}${r.noop.errors ? ` (+${r.noop.errors} errors)` : ''}`, '0', mark(r.pass.actions!)],
    ['DB rows changed per pass (max)', String(r.noop.rowChanges), '0', mark(r.pass.rowChanges!)],
    ['site file mtime changes', String(r.noop.siteMtimeChanges), '0', mark(r.pass.siteMtimes!)],
  ];
  const head: [string, string, string, string] = [`N = ${r.n}, ${r.proxy}`, 'measured', 'target', 'result'];
  const all = [head, ...rows];
  const w = [0, 1, 2, 3].map((i) => Math.max(...all.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(head), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/** The figures of both proxies for one N, side by side, each with its target. */
function sideBySide(results: BenchResult[]): string {
  const proxies = results.map((r) => r.proxy);
  const rows: [string, (r: BenchResult) => string, string][] = [
    [`no-op pass wall (median of ${NOOP_PASSES})`, (r) => `${round1(r.noop.wallMsMedian)} ms`, `≤ ${TARGET.wallMs} ms`],
    [`no-op pass CPU (median of ${NOOP_PASSES})`, (r) => `${round1(r.noop.cpuMsMedian)} ms`, ''],
    ['spawns per pass (max)', (r) => String(r.noop.spawns), String(TARGET.spawns)],
    ['file writes per pass (max)', (r) => String(r.noop.writes), String(TARGET.writes)],
    ['actions over all apps (max)', (r) => String(r.noop.actions), '0'],
    ['RSS after pass (max)', (r) => `${round1(r.noop.rssMbMax)} MB`, `≤ ${TARGET.rssMb} MB`],
    ['convergence (initial setup)', (r) => `${round1(r.converge.ms / 1000)} s`, ''],
    ['apps Healthy after convergence', (r) => `${r.converge.healthy}/${r.n}`, `${results[0]!.n}/${results[0]!.n}`],
  ];
  const all = [[`N = ${results[0]!.n}`, ...proxies, 'target'], ...rows.map(([name, f, target]) => [name, ...results.map(f), target])];
  const w = all[0]!.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(all[0]!), `|${w.map((x) => '-'.repeat(x + 2)).join('|')}|`, ...all.slice(1).map(line)].join('\n');
}

/**
 * Run one N under one proxy in a child process of its own, so each starts from a fresh heap and
 * RSS; its output is passed through, and the JSON line of its result kept.
 */
function runChild(n: number, flags: string[], results: BenchResult[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, String(n), ...flags], { stdio: ['inherit', 'pipe', 'inherit'] });
    let out = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      process.stdout.write(chunk);
      out += chunk.toString('utf8');
    });
    child.on('close', () => {
      for (const l of out.split('\n')) if (l.startsWith('{"bench":"reconcile-noop"')) results.push(JSON.parse(l) as BenchResult);
    });
    currentChild = child;
    const timer = setTimeout(() => {
      console.error(`N=${n}: child exceeded ${Math.round((WATCHDOG_MS + 60_000) / 1000)} s; sending SIGTERM (it cleans up)`);
      child.kill('SIGTERM');
    }, WATCHDOG_MS + 60_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      currentChild = null;
      resolve(code ?? (signal ? 128 : 1));
    });
  });
}

/**
 * The node flags (its heap sizing) and malloc settings bin/hop3-server starts the daemon with:
 * the passes measured here run in this process, so it must run with them too.
 */
function daemonLaunch(): { flags: string[]; env: Record<string, string> } {
  const launcher = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'hop3-server'), 'utf8').split('\n');
  const flags = launcher.find((l) => l.startsWith('exec '))?.match(/--[a-z-]+=\S+/g) ?? [];
  const env = Object.fromEntries(launcher.map((l) => /^export ([A-Z_]+)=(\S+)$/.exec(l)).filter((m) => m !== null).map((m) => [m[1]!, m[2]!]));
  return { flags, env };
}

/** Run again as the daemon runs when started otherwise; null when already so. */
function asTheDaemonRuns(): Promise<number> | null {
  const { flags, env } = daemonLaunch();
  const has = (flag: string) => process.execArgv.some((a) => a.split('=')[0] === flag.split('=')[0]);
  const missing = flags.filter((f) => !has(f));
  const unset = Object.entries(env).filter(([k]) => process.env[k] === undefined);
  if (missing.length === 0 && unset.length === 0) return null;
  console.log(`running as bin/hop3-server runs the daemon: ${[...unset.map(([k, v]) => `${k}=${v}`), ...missing].join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...missing, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env: { ...process.env, ...Object.fromEntries(unset) } });
    currentChild = child;
    child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

async function main(): Promise<number> {
  const again = asTheDaemonRuns();
  if (again) return again;
  const args = process.argv.slice(2);
  const flags = args.filter((a) => a.startsWith('--'));
  const strict = flags.includes('--strict');
  const profileDir = flags.find((a) => a.startsWith('--profile='))?.slice('--profile='.length) ?? null;
  const heapDir = flags.find((a) => a.startsWith('--heap-snapshot='))?.slice('--heap-snapshot='.length) ?? null;
  const allocDir = flags.find((a) => a.startsWith('--alloc-profile='))?.slice('--alloc-profile='.length) ?? null;
  const proxyArg = flags.find((a) => a.startsWith('--proxy='))?.slice('--proxy='.length) ?? 'both';
  const proxies = proxyArg === 'both' ? ['nginx', 'caddy'] : [proxyArg];
  const ns = args.filter((a) => !a.startsWith('--')).map(Number);
  if (ns.some((x) => !Number.isInteger(x) || x < 1 || x > 100_000) || proxies.some((p) => p !== 'nginx' && p !== 'caddy')) {
    console.error('usage: node dist/bench/reconcile-noop.js [N...] [--proxy=nginx|caddy|both] [--strict] [--profile=DIR] [--alloc-profile=DIR] [--heap-snapshot=DIR]');
    return 64;
  }
  const sizes = ns.length > 0 ? ns : [100, 1000];
  if (sizes.length > 1 || proxies.length > 1) {
    let worst = 0;
    const others = flags.filter((a) => !a.startsWith('--proxy='));
    const tables: string[] = [];
    for (const n of sizes) {
      const results: BenchResult[] = [];
      for (const proxy of proxies) {
        const code = await runChild(n, [...others, `--proxy=${proxy}`], results);
        worst = Math.max(worst, code);
        if (code >= 128) return worst; // interrupted
      }
      if (results.length > 0) tables.push(sideBySide(results));
    }
    console.log(`\nreconcile no-op pass, side by side:\n\n${tables.join('\n\n')}\n`);
    return worst;
  }
  const n = sizes[0]!;
  const proxy = proxies[0]!;
  let r: BenchResult;
  try {
    r = await benchOne(n, proxy, { profileDir, heapDir, allocDir });
  } catch (err) {
    console.error(`N=${n}: FAILED: ${(err as Error).stack ?? err}`);
    return 1;
  }
  console.log(`\nreconcile no-op pass, N = ${n}, HOP3_PROXY=${proxy} (deploy concurrency ${r.concurrency}, ${r.cpus} CPUs ${r.cpuModel}, node ${r.node}, ` +
    `load average ${r.noop.loadavg1.join(' → ')}); targets are stated for N = 1000`);
  console.log(table(r));
  console.log(`per pass (wall ms): ${r.noop.passes.map((p) => round1(p.wallMs)).join(', ')}; CPU ms: ${r.noop.passes.map((p) => round1(p.cpuMs)).join(', ')}; ` +
    `emperor stats round trip ${round1(r.noop.emperorStatsMsMedian)} ms`);
  console.log(`where a pass goes (µs an app, each step swept alone, fastest of 5): ${Object.entries(r.noop.breakdown).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  console.log(JSON.stringify(r));
  console.log('');
  const invariants = r.pass.converged && r.pass.served && r.pass.actions && r.pass.spawns && r.pass.writes && r.pass.rowChanges && r.pass.siteMtimes;
  const perf = r.pass.wall && r.pass.rss;
  return !invariants || (strict && !perf) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    emergencyCleanup();
    process.exit(1);
  },
);
