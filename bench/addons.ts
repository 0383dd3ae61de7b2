/**
 * Addon servers and instances against real PostgreSQL, MariaDB and Redis in a throwaway HOP3_HOME:
 * provisioning time per type (create the instance and log in through its URL, median of 5; attach
 * is not built yet), and PostgreSQL dump and restore throughput for a ~100 MB database.
 *
 *   node dist/bench/addons.js [MB]
 */
import { mkdtempSync, rmSync } from 'node:fs';
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

const megabytes = Number(process.argv[2] ?? 100);
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
  for (const { a, target } of addons) {
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

  const pgDef = addons[0]!.a;
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
  console.log(`| backup (pg_dump -Fc), median of 5   | ${median(dumps).toFixed(2)} s | ${dumpRate.toFixed(1)} MB/s ${dumpRate >= 50 ? '✓' : '✗'} | ≥ 50 MB/s |`);
  console.log(`| restore (pg_restore), median of 5   | ${median(restores).toFixed(2)} s | ${restoreRate.toFixed(1)} MB/s ${restoreRate >= 50 ? '✓' : '✗'} | ≥ 50 MB/s |`);
} finally {
  for (const { a } of addons) await a.server.stop();
  rmSync(home, { recursive: true, force: true });
}
