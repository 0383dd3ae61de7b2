/**
 * Addon servers and instances against real PostgreSQL, MariaDB and Redis in a throwaway HOP3_HOME:
 * provisioning time per type (create the instance and log in through its URL, median of 5),
 * PostgreSQL dump and restore throughput for a ~100 MB database, and attach time per type through
 * a real hop3-server (`hop3 addons attach` until the app's new release serves the variable).
 *
 *   node dist/bench/addons.js [MB] [--only=provision,dump,attach]
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createExec } from '../src/lib/exec.js';
import { freePorts } from '../src/lib/free-ports.js';
import { ensureLayout, layoutOf } from '../src/lib/layout.js';
import { createLogger } from '../src/lib/logger.js';
import { ensureAddonAccount } from '../src/plugins/addons/account.js';
import type { AddonDefinition } from '../src/plugins/addons/addon.js';
import { newInstanceSpec } from '../src/plugins/addons/instance-provider.js';
import mariadbAddon from '../src/plugins/addons/mariadb/index.js';
import postgresAddon from '../src/plugins/addons/postgres/index.js';
import type { PostgresServer } from '../src/plugins/addons/postgres/server.js';
import redisAddon from '../src/plugins/addons/redis/index.js';
import { execa } from 'execa';
import { BenchRun, EXAMPLES, ROOT, servedAt } from './support.js';

const megabytes = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 100);
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const runs = (part: 'provision' | 'dump' | 'attach') => only === undefined || only.includes(part);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const log = createLogger('silent');
const exec = createExec();
const home = mkdtempSync(join(tmpdir(), 'hop3-bench-addons-'));
const layout = layoutOf(home);
ensureLayout(layout);
const account = await ensureAddonAccount(exec, join(home, 'addons'));
const ports = await freePorts(3);
const addons: Array<{ a: AddonDefinition; target: number }> = [
  { a: postgresAddon({ layout, log, exec, port: ports[0]!, account }), target: 1.5 },
  { a: mariadbAddon({ layout, log, exec, port: ports[1]!, account }), target: 1.5 },
  { a: redisAddon({ layout, log, exec, port: ports[2]!, account }), target: 0.5 },
];

try {
  const rows: string[] = [];
  for (const { a, target } of runs('provision') ? addons : []) {
    let t = Date.now();
    await a.server.ensureRunning();
    const firstStart = (Date.now() - t) / 1000;
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const spec = newInstanceSpec(`bench-${i}`);
      t = performance.now();
      await a.provider.apply('create', spec.name, spec, null, { owner: spec.name, log });
      const live = (await a.provider.observe(spec.name, [{ kind: a.provider.kind, name: spec.name, spec }])).get(spec.name);
      if (typeof live !== 'object' || live === null || a.provider.diff(spec, live) !== 'none') throw new Error(`${a.type}: instance not live after create`);
      times.push((performance.now() - t) / 1000);
    }
    const m = median(times);
    rows.push(`| ${a.type.padEnd(8)} | ${firstStart.toFixed(2)} s | ${m.toFixed(3)} s ${m <= target ? '✓' : '✗'} | ≤ ${target} s |`);
  }
  console.log('| addon    | first start (init) | provision + observe (median of 5) | target |');
  console.log('|----------|--------------------|-----------------------------------|--------|');
  for (const r of rows) console.log(r);
  if (runs('dump')) await dumpAndRestore();
} finally {
  for (const { a } of addons) await a.server.stop();
  rmSync(home, { recursive: true, force: true });
}

async function dumpAndRestore(): Promise<void> {
  const pgDef = addons[0]!.a;
  await pgDef.server.ensureRunning();
  const server = pgDef.server as PostgresServer;
  const spec = newInstanceSpec('bench-big');
  await pgDef.instances.ensure(spec);
  // ~1 KB rows of hex text (compressible about 2:1, as much real data is).
  const rowsWanted = Math.round((megabytes * 1024 * 1024) / 1100);
  await server.withAdmin(async (c) => {
    await c.query(`SET ROLE "bench-big"`);
    await c.query(`CREATE TABLE filler (id int PRIMARY KEY, body text NOT NULL)`);
    await c.query(`INSERT INTO filler SELECT g, (SELECT string_agg(md5(g::text || ':' || k), '') FROM generate_series(1, 32) k) FROM generate_series(1, $1) g`, [rowsWanted]);
  }, 'bench-big');
  const size = await server.withAdmin(async (c) => Number((await c.query<{ s: string }>(`SELECT pg_database_size('bench-big') AS s`)).rows[0]!.s));
  const mb = size / 1024 / 1024;
  const dumps: number[] = [];
  const restores: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 5; i++) {
    let t = performance.now();
    const d = await pgDef.instances.dump(spec.name, join(layout.backups, 'bench-big.dump'));
    dumps.push((performance.now() - t) / 1000);
    bytes = d.bytes;
    t = performance.now();
    await pgDef.instances.restore(spec, d.path);
    restores.push((performance.now() - t) / 1000);
  }
  const dumpRate = mb / median(dumps);
  const restoreRate = mb / median(restores);
  console.log(`\nPostgreSQL database of ${mb.toFixed(1)} MB (pg_database_size), dump file ${(bytes / 1024 / 1024).toFixed(1)} MB:`);
  console.log(`| backup (pg_dump -Fc -Z0 → zstd), median of 5 | ${median(dumps).toFixed(2)} s | ${dumpRate.toFixed(1)} MB/s ${dumpRate >= 50 ? '✓' : '✗'} | ≥ 50 MB/s |`);
  console.log(`| restore (zstd -d → pg_restore), median of 5  | ${median(restores).toFixed(2)} s | ${restoreRate.toFixed(1)} MB/s ${restoreRate >= 50 ? '✓' : '✗'} | ≥ 50 MB/s |`);
}

/**
 * Attach through a real hop3-server: an app that prints the names of its *_URL variables, each
 * run a new addon (created first, untimed) attached under a variable of its own, timed from
 * `hop3 addons attach` starting to the first GET that shows the variable.
 */
/** `--events`: the app's events of each type's last attach, with their times from its start. */
const SHOW_EVENTS = process.argv.includes('--events');
const bench = new BenchRun();
if (runs('attach')) await bench.exitWith(async () => {
  await bench.startHop3('nginx', 'hop3-bench-attach-');
  const hop3 = async (args: string[]) => {
    const r = await execa(join(ROOT, 'bin', 'hop3'), args, { env: bench.env, reject: false, timeout: 120_000 });
    if (r.exitCode !== 0) throw new Error(`hop3 ${args.join(' ')} failed (${r.exitCode}):\n${String(r.stdout)}\n${String(r.stderr)}`);
    return String(r.stdout);
  };
  const app = 'bench-attach';
  const dir = bench.tempDir('hop3-bench-attach-app-');
  cpSync(join(EXAMPLES, 'web-command'), dir, { recursive: true });
  const server = join(dir, 'server.py');
  writeFileSync(server, readFileSync(server, 'utf8').replace('"release": os.environ.get("HOP3_RELEASE")}', '"release": os.environ.get("HOP3_RELEASE"), "urls": sorted(k for k in os.environ if k.endswith("_URL"))}'));
  writeFileSync(join(dir, 'hop3.toml'), readFileSync(join(dir, 'hop3.toml'), 'utf8').replace('id = "web-command"', `id = "${app}"`));
  await hop3(['deploy', dir, '--app', app]);
  const host = `${app}.localhost`;
  await servedAt(bench.httpPort, host, '"urls": []', performance.now() + 60_000);
  /** `args` run by the CLI, timed until the app serves `env` and until the CLI returns. */
  const timed = async (args: string[], env: string) => {
    const t0 = performance.now();
    const cli = hop3(args).then(() => performance.now());
    const seen = await servedAt(bench.httpPort, host, `"${env}"`, t0 + 60_000);
    return { served: (seen - t0) / 1000, returned: ((await cli) - t0) / 1000 };
  };
  const row = (label: string, runs: Array<{ served: number; returned: number }>, target: string, ok: (m: number) => boolean) => {
    const served = runs.map((r) => r.served);
    const m = median(served);
    return `| ${label.padEnd(22)} | ${m.toFixed(3)} s ${target === '' ? '' : ok(m) ? '✓' : '✗'} | ${Math.min(...served).toFixed(3)}–${Math.max(...served).toFixed(3)} s | ${median(runs.map((r) => r.returned)).toFixed(3)} s | ${target} |`;
  };
  const rows: string[] = [];
  // The floor: the same rollout of a new release for a config change, with no addon in it.
  const floor = [];
  for (let i = 0; i < 5; i++) floor.push(await timed(['config', 'set', app, `PLAIN_${i}_URL=x`], `PLAIN_${i}_URL`));
  rows.push(row('config set (floor)', floor, '', () => true));
  const t0 = performance.now();
  for (let i = 0; i < 5; i++) await hop3(['addons', '--json']);
  const cliStart = (performance.now() - t0) / 5 / 1000;
  for (const { type, target } of [{ type: 'postgres', target: 1.5 }, { type: 'mariadb', target: 1.5 }, { type: 'redis', target: 0.5 }]) {
    const runs = [];
    for (let i = 0; i < 5; i++) {
      const name = `${type}-${i}`;
      await hop3(['addons', 'create', type, name]);
      const startedAt = Date.now();
      runs.push(await timed(['addons', 'attach', app, name, '--as', `${type.toUpperCase()}_${i}_URL`], `${type.toUpperCase()}_${i}_URL`));
      if (SHOW_EVENTS && i === 4) {
        const events = JSON.parse(await hop3(['events', app, '--json', '--limit', '40'])) as Array<{ kind: string; at: string; data: unknown }>;
        for (const e of events.sort((a, b) => Date.parse(a.at) - Date.parse(b.at))) {
          const at = Date.parse(e.at);
          if (at >= startedAt) console.log(`  +${((at - startedAt) / 1000).toFixed(3)} s ${e.kind} ${JSON.stringify(e.data).slice(0, 120)}`);
        }
      }
      // Each attach finds the app as the first did: a rollout observes every login the app has.
      await hop3(['addons', 'detach', app, name]);
    }
    rows.push(row(`attach ${type}`, runs, `≤ ${target} s`, (m) => m <= target));
  }
  console.log(`\nthrough hop3-server (HOP3_PROXY=nginx), an app served by a web process; \`hop3 addons --json\` (CLI start + one RPC) takes ${cliStart.toFixed(3)} s (mean of 5)`);
  console.log('| command                | → served (median of 5) | min–max | CLI returned (median) | target |');
  console.log('|------------------------|------------------------|---------|-----------------------|--------|');
  for (const r of rows) console.log(r);
  return 0;
});
