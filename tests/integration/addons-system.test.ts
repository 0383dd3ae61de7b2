import { spawn } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { passwordOf, pgRoundTrip, redisRoundTrip } from '../support/addon-clients.js';
import { processAlive } from '../../src/plugins/addons/server-process.js';
import { defaultPostgresBinDir } from '../../src/plugins/addons/postgres/server.js';
import { Daemon, EXAMPLES, freePort, within } from './harness.js';

/**
 * HOP3_ADDONS=system against servers this test starts itself, standing in for the machine's: a
 * PostgreSQL cluster (initdb and pg_ctl, as `nobody`, its superuser `postgres` with a password in
 * the admin secrets directory), a MariaDB whose `root` gets in by unix_socket (no file: no password)
 * and a Redis whose `default` user has no password (no file: no AUTH).
 * hop3 creates and attaches addons on them, the URLs work, a second pass plans nothing, a server
 * stopped by the test makes the instance Unknown and nothing is recreated, and neither server was
 * ever started, stopped or restarted by hop3 (their pids are the ones this test started).
 */

type Finding = { resource: string; kind: string };
type Reconciled = { actions: { type: string; kind?: string }[]; findings: Finding[]; error: string | null };

const APP = 'sys-app';
const NOBODY = 65534;
const PG_PASSWORD = 'test-admin-pw-123';



describe('HOP3_ADDONS=system: the machine\'s servers, administered and never run by hop3', () => {
  const root = mkdtempSync(join(tmpdir(), 'hop3-sys-'));
  const pgData = join(root, 'pg', 'data');
  const pgRun = join(root, 'pg', 'run');
  const secrets = join(root, 'admins');
  const redisPidFile = join(root, 'redis.pid');
  const myData = join(root, 'my', 'data');
  const mySocket = join(root, 'my', 'mysqld.sock');
  const myPidFile = join(root, 'my', 'mysqld.pid');
  let myPort = 0;
  const myPid = () => Number(readFileSync(myPidFile, 'utf8').trim());
  const bin = defaultPostgresBinDir();
  let pgPort = 0;
  let redisPort = 0;
  let d: Daemon;
  const asNobody = (argv: string[]) => execa('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', ...argv], { cwd: root, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
  const pgPid = () => Number(readFileSync(join(pgData, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const redisPid = () => Number(readFileSync(redisPidFile, 'utf8').trim());
  const pgStart = () => asNobody([join(bin, 'pg_ctl'), '-D', pgData, '-w', '-l', join(root, 'pg', 'log'), '-o',
    `-c port=${pgPort} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${pgRun}`, 'start']);
  const admin = () => new pg.Client({ host: pgRun, port: pgPort, user: 'postgres', password: PG_PASSWORD, database: 'postgres' });
  const reconcile = () => d.json<Reconciled>(['reconcile', APP]);
  let pidsAtStart: { pg: number; redis: number; mariadb: number };

  beforeAll(async () => {
    [pgPort, redisPort, myPort] = [await freePort(), await freePort(), await freePort()];
    mkdirSync(join(root, 'my'), { recursive: true });
    // As Debian's: root@localhost authenticated by the socket's peer.
    await execa('mariadb-install-db', ['--no-defaults', `--datadir=${myData}`, '--user=root', '--auth-root-authentication-method=socket', '--skip-test-db']);
    spawn('mariadbd', ['--no-defaults', '--user=root', `--datadir=${myData}`, `--socket=${mySocket}`, `--port=${myPort}`, '--bind-address=127.0.0.1',
      `--pid-file=${myPidFile}`, '--skip-name-resolve'], { detached: true, stdio: 'ignore' }).unref();
    await within(60_000, async () => {
      try {
        await (await mysql.createConnection({ socketPath: mySocket, user: 'root' })).end();
        return myPid() > 0;
      } catch {
        return false;
      }
    });
    for (const dir of [join(root, 'pg'), pgRun]) mkdirSync(dir, { recursive: true });
    chownSync(root, NOBODY, NOBODY);
    chownSync(join(root, 'pg'), NOBODY, NOBODY);
    chownSync(pgRun, NOBODY, NOBODY);
    writeFileSync(join(root, 'pg', 'pw'), `${PG_PASSWORD}\n`);
    chownSync(join(root, 'pg', 'pw'), NOBODY, NOBODY);
    await asNobody([join(bin, 'initdb'), '-D', pgData, '--username=postgres', `--pwfile=${join(root, 'pg', 'pw')}`,
      '--auth-local=scram-sha-256', '--auth-host=scram-sha-256', '--encoding=UTF8', '--locale=C.UTF-8']);
    await pgStart();
    await execa('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'yes',
      '--pidfile', redisPidFile, '--dir', root, '--logfile', join(root, 'redis.log')]);
    await within(10_000, () => { try { return redisPid() > 0; } catch { return false; } });
    mkdirSync(secrets, { mode: 0o700 });
    writeFileSync(join(secrets, 'postgres'), `${PG_PASSWORD}\n`, { mode: 0o600 });
    pidsAtStart = { pg: pgPid(), redis: redisPid(), mariadb: myPid() };
    // Someone else's database on the shared server.
    const c = admin();
    await c.connect();
    await c.query('CREATE DATABASE theirs');
    await c.end();
    d = new Daemon({
      HOP3_ADDONS: 'system', HOP3_POSTGRES_PORT: String(pgPort), HOP3_POSTGRES_SOCKET_DIR: pgRun, HOP3_REDIS_PORT: String(redisPort),
      HOP3_MARIADB_PORT: String(myPort), HOP3_MARIADB_SOCKET: mySocket,
      HOP3_ADDONS_ADMIN_SECRETS: secrets, HOP3_RESYNC_SECONDS: '60',
    });
    await d.start();
  }, 120_000);

  afterAll(async () => {
    await d?.cleanup();
    await asNobody([join(bin, 'pg_ctl'), '-D', pgData, '-m', 'immediate', 'stop']).catch(() => undefined);
    for (const pid of [() => redisPid(), () => myPid()]) {
      try {
        process.kill(pid(), 'SIGTERM');
      } catch { /* gone */ }
    }
    await within(30_000, () => !processAlive(pidsAtStart?.mariadb ?? 0)).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }, 60_000);

  let urls: Record<string, string> = {};
  it('creates and attaches addons on them; the URLs point at their ports and work; a second pass plans nothing', async () => {
    expect(await d.json(['addons', 'create', 'postgres', 'sysdb'])).toMatchObject({ name: 'sysdb', type: 'postgres' });
    expect(await d.json(['addons', 'create', 'redis', 'syscache'])).toMatchObject({ name: 'syscache', type: 'redis' });
    expect(await d.json(['addons', 'create', 'mysql', 'sysmy'])).toMatchObject({ name: 'sysmy', type: 'mariadb' });
    expect((await d.hop3(['deploy', join(EXAMPLES, 'static-site'), '--app', APP])).exitCode).toBe(0);
    expect(await d.json(['addons', 'attach', APP, 'sysdb'])).toMatchObject({ attached: true });
    expect(await d.json(['addons', 'attach', APP, 'syscache'])).toMatchObject({ attached: true });
    expect(await d.json(['addons', 'attach', APP, 'sysmy', '--as', 'MYSQL_URL'])).toMatchObject({ attached: true });
    urls = await d.json<Record<string, string>>(['config', 'get', APP, '--reveal']);
    expect(urls.DATABASE_URL).toMatch(new RegExp(`^postgres://sysdb_${APP}:[A-Za-z0-9_-]{32}@127\\.0\\.0\\.1:${pgPort}/sysdb$`));
    expect(urls.REDIS_URL).toMatch(new RegExp(`^redis://syscache_${APP}:[A-Za-z0-9_-]{32}@127\\.0\\.0\\.1:${redisPort}/0$`));
    expect(await pgRoundTrip(urls.DATABASE_URL!, 'on-the-system')).toEqual(['on-the-system']);
    expect(await redisRoundTrip(urls.REDIS_URL!, 'syscache:', 'v')).toBe('v');
    expect(urls.MYSQL_URL).toMatch(new RegExp(`^mysql://sysmy_${APP}:[A-Za-z0-9_-]{32}@127\\.0\\.0\\.1:${myPort}/sysmy$`));
    const m = await mysql.createConnection(urls.MYSQL_URL!);
    await m.query('CREATE TABLE t (v TEXT)');
    await m.query("INSERT INTO t VALUES ('on-the-system')");
    expect((await m.query('SELECT v FROM t'))[0]).toEqual([{ v: 'on-the-system' }]);
    await expect(m.query('CREATE DATABASE other')).rejects.toThrow(/denied/);
    await m.end();
    // Confined as in the default mode: another prefix, another database are not its own.
    await expect(redisRoundTrip(urls.REDIS_URL!, 'other:', 'v')).rejects.toThrow(/NOPERM/);
    await expect(pgRoundTrip(urls.DATABASE_URL!.replace(/\/sysdb$/, '/theirs'), 'x')).rejects.toThrow(/no pg_hba|permission denied|password authentication failed/);
    const info = await d.json<{ server: { running: boolean; port: number }; instance: string }>(['addons', 'info', 'sysdb']);
    expect(info).toMatchObject({ server: { running: true, port: pgPort }, instance: 'Healthy' });
    const t0 = performance.now();
    const again = await reconcile();
    // A figure, not asserted: a no-op pass asks each of the three servers over its admin connection.
    console.log(`system mode: no-op reconcile of an app with 3 addons (CLI round trip included): ${Math.round(performance.now() - t0)} ms`);
    expect(again, JSON.stringify(again)).toMatchObject({ actions: [], error: null });
    // No password in plain text in hop3's records or log.
    const stored = readFileSync(join(d.home, 'hop3.db')).toString('latin1') + readFileSync(d.logFile, 'utf8');
    for (const p of [passwordOf(urls.DATABASE_URL!), passwordOf(urls.REDIS_URL!), passwordOf(urls.MYSQL_URL!), PG_PASSWORD]) expect(stored).not.toContain(p);
  }, 180_000);

  it('a name the shared server has already, made by someone else, is refused and nothing is recorded', async () => {
    const r = await d.hop3(['addons', 'create', 'postgres', 'theirs', '--json']);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(String(r.stdout)).error.code).toBe('ADDON_EXISTS');
    expect((await d.json<{ name: string }[]>(['addons'])).map((a) => a.name).sort()).toEqual(['syscache', 'sysdb', 'sysmy']);
    const c = admin();
    await c.connect();
    const owner = await c.query<{ owner: string }>("SELECT r.rolname AS owner FROM pg_database d JOIN pg_roles r ON r.oid = d.datdba WHERE d.datname = 'theirs'");
    await c.end();
    expect(owner.rows).toEqual([{ owner: 'postgres' }]);
  });

  it('a backup of each works on the shared servers and verifies', async () => {
    for (const name of ['sysdb', 'syscache', 'sysmy']) {
      const b = await d.json<{ verified: boolean; error: string | null }>(['backup', 'create', name]);
      expect(b, JSON.stringify(b)).toMatchObject({ verified: true });
    }
  }, 120_000);

  it('the server stopped behind hop3: its instance and login are Unknown, nothing is recreated, and hop3 does not start it', async () => {
    expect(pgPid()).toBe(pidsAtStart.pg);
    await asNobody([join(bin, 'pg_ctl'), '-D', pgData, '-m', 'fast', '-w', 'stop']);
    const r = await reconcile();
    expect(r.actions, JSON.stringify(r)).toEqual([]);
    const unknown = r.findings.filter((f) => f.kind === 'unknown').map((f) => f.resource);
    expect(unknown.some((x) => x.includes('sysdb')), JSON.stringify(r)).toBe(true);
    expect((await d.json<{ health: string }>(['status', APP])).health).toBe('Unknown');
    expect(await d.json(['addons', 'info', 'sysdb'])).toMatchObject({ server: { running: false }, instance: 'unknown' });
    // A host pass (a create runs one) looks at the down server and starts nothing: no postmaster appeared.
    expect(await d.json(['addons', 'create', 'redis', 'syscache2'])).toMatchObject({ name: 'syscache2' });
    expect(() => pgPid()).toThrow();
    // The machine starts it again: the next pass finds everything as it was.
    await pgStart();
    const back = await reconcile();
    expect(back, JSON.stringify(back)).toMatchObject({ actions: [], error: null });
    expect(await pgRoundTrip(urls.DATABASE_URL!, 'after')).toEqual(['after', 'on-the-system']);
  }, 120_000);

  it('halting hop3 leaves the machine\'s servers running, with the pids this test started', async () => {
    await d.halt();
    expect(redisPid()).toBe(pidsAtStart.redis);
    expect(processAlive(pidsAtStart.redis)).toBe(true);
    expect(processAlive(pgPid())).toBe(true);
    expect(myPid()).toBe(pidsAtStart.mariadb);
    expect(processAlive(pidsAtStart.mariadb)).toBe(true);
  }, 60_000);
});
