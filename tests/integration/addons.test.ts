import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mysqlRoundTrip, passwordOf, pgRoundTrip, redisRoundTrip } from '../support/addon-clients.js';
import { execa } from 'execa';
import { alive } from '../../src/lib/procfs.js';
import { Daemon, EXAMPLES, git, output, within } from './harness.js';

/**
 * Addons through the real daemon: hop3 starts its own PostgreSQL, MariaDB and Redis only once an
 * addon of the type exists, an attached app gets working URLs (written and read through each, by
 * the app itself and by this test with the URL `config get --reveal` shows), the instances are
 * resources of the app (a second pass plans nothing, a dropped database is drift), a killed server
 * serves again, detach revokes, and no password is stored or logged in plain text.
 */

type Drift = { app: string; resource: string; kind: string; desired: string; observed: string; action: string; detectedAt: string };
type Reconciled = { actions: { type: string; drift: unknown }[]; findings: Drift[]; error: string | null };

const APP = 'addons-app';




/** A login PostgreSQL no longer has: with `samerole`, refused before its password is asked. */
const PG_REFUSED = /password authentication failed|no pg_hba.conf entry/;


describe('addons wired into records, commands and the reconcile loop', () => {
  // Debian's python3 (the one python3-psycopg2 and python3-redis are installed for), whatever PATH finds first.
  const d = new Daemon({ HOP3_RESYNC_SECONDS: '60', HOP3_PYTHON: '/usr/bin/python3' });
  let urls: Record<string, string> = {};

  const reconcile = () => d.json<Reconciled>(['reconcile', APP]);
  const appGet = async (path: string) => {
    const r = await d.get(`${APP}.localhost`, path);
    return { status: r.status, body: JSON.parse(r.body) as Record<string, unknown> };
  };

  beforeAll(async () => {
    await d.start();
  }, 60_000);
  afterAll(() => d.cleanup());

  it('a machine with no addons runs no addon server', async () => {
    expect(await d.json(['addons'])).toEqual([]);
    expect(existsSync(join(d.home, 'addons'))).toBe(false);
  });

  it.each([['x; DROP DATABASE postgres'], ["it's"], ['"quoted"'], ['a'.repeat(200)], ['postgres']])('refuses the hostile or reserved name %s before any SQL', async (name) => {
    const r = await d.hop3(['addons', 'create', 'postgres', name, '--json']);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(String(r.stdout)).error.code).toBe('ADDON_NAME_INVALID');
    // Nothing recorded, and no server was started to run a statement on.
    expect(await d.json(['addons'])).toEqual([]);
    expect(existsSync(join(d.home, 'addons'))).toBe(false);
  });

  it('an unknown type is refused', async () => {
    const r = await d.hop3(['addons', 'create', 'oracle', 'db', '--json']);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(String(r.stdout)).error.code).toBe('ADDON_TYPE_UNKNOWN');
  });

  it('an app declaring PostgreSQL, MySQL and Redis in [[addons]] gets working URLs: it and a client write and read through each', async () => {
    const r = await d.hop3(['deploy', join(EXAMPLES, APP)]);
    expect(r.exitCode, String(r.stderr)).toBe(0);

    urls = await d.json<Record<string, string>>(['config', 'get', APP, '--reveal']);
    // Each the app's own login (ADDON_APP) to the addon's database or prefix.
    expect(urls.DATABASE_URL).toMatch(/^postgres:\/\/notes-db_addons-app:[A-Za-z0-9_-]{32}@127\.0\.0\.1:\d+\/notes-db$/);
    expect(urls.MYSQL_URL).toMatch(/^mysql:\/\/legacy-db_addons-app:[A-Za-z0-9_-]{32}@127\.0\.0\.1:\d+\/legacy-db$/);
    expect(urls.REDIS_URL).toMatch(/^redis:\/\/cache_addons-app:[A-Za-z0-9_-]{32}@127\.0\.0\.1:\d+\/0$/);
    expect(urls.REDIS_KEY_PREFIX).toBe('cache:');

    const masked = await d.json<Record<string, string>>(['config', 'get', APP]);
    expect(masked.DATABASE_URL).toBe(urls.DATABASE_URL!.replace(passwordOf(urls.DATABASE_URL!), '****'));
    for (const k of ['DATABASE_URL', 'MYSQL_URL', 'REDIS_URL']) expect(JSON.stringify(masked)).not.toContain(passwordOf(urls[k]!));

    expect(await pgRoundTrip(urls.DATABASE_URL!, 'from-test')).toEqual(['from-test']);
    expect(await mysqlRoundTrip(urls.MYSQL_URL!, 'from-test')).toEqual(['from-test']);
    expect(await redisRoundTrip(urls.REDIS_URL!, urls.REDIS_KEY_PREFIX!, 'from-test')).toBe('from-test');

    // The app's own processes got them (Debian's psycopg2 and redis, seen from its virtualenv).
    expect((await appGet('/')).body).toEqual({ addons: ['DATABASE_URL', 'MYSQL_URL', 'REDIS_URL'] });
    expect(await appGet('/notes?from-app')).toEqual({ status: 200, body: { notes: ['from-app'] } });
    expect(await appGet('/notes?again')).toEqual({ status: 200, body: { notes: ['from-app', 'again'] } });
    expect(await appGet('/visits')).toEqual({ status: 200, body: { visits: 1 } });

    const list = await d.json<{ name: string; attachedTo: { app: string; env: string }[] }[]>(['addons', APP]);
    expect(list.map((a) => a.name).sort()).toEqual(['cache', 'legacy-db', 'notes-db']);
    const info = await d.json<{ type: string; server: { running: boolean; version: string }; instance: string; sizeBytes: number; attachedTo: unknown }>(['addons', 'info', 'notes-db']);
    expect(info).toMatchObject({ type: 'postgres', server: { running: true }, instance: 'Healthy', attachedTo: [{ app: APP, env: 'DATABASE_URL' }] });
    expect(info.server.version).toMatch(/^\d+\.\d+/);
    expect(info.sizeBytes).toBeGreaterThan(1_000_000);

    // A second deploy of the same manifest creates and attaches nothing more.
    expect((await d.hop3(['deploy', join(EXAMPLES, APP)])).exitCode).toBe(0);
    expect(await d.json<Record<string, string>>(['config', 'get', APP, '--reveal'])).toEqual(urls);
  }, 120_000);

  it.each([
    ['notes-db', "SELECT 'from-' || 'psql' AS hello;", /hello\s*\n-+\s*\n\s*from-psql/],
    ['legacy-db', "SELECT CONCAT('from-', 'mariadb') AS hello;", /hello\nfrom-mariadb/],
    ['cache', 'SET cache:shell from-redis-cli\nGET cache:shell\n', /OK\nfrom-redis-cli/],
  ])('hop3 addons shell %s runs piped input in the type\'s own client, as the addon; its credentials file is removed after', async (addon, input, expected) => {
    const r = await d.hop3(['addons', 'shell', addon], { input });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stdout)).toMatch(expected);
    // The temporary credentials file is gone with the client.
    expect(readdirSync(tmpdir()).filter((f) => f.startsWith('hop3-shell-'))).toEqual([]);
  }, 60_000);

  it('hop3 addons shell: a failing script exits non-zero; an unknown addon and a daemon elsewhere are clear errors', async () => {
    const failed = await d.hop3(['addons', 'shell', 'notes-db'], { input: 'SELECT * FROM no_such_table;\nSELECT 1;\n' });
    expect(failed.exitCode).not.toBe(0);
    expect(String(failed.stderr)).toContain('no_such_table');
    const unknown = await d.hop3(['addons', 'shell', 'nope']);
    expect(unknown.exitCode).toBe(1);
    expect(String(unknown.stderr)).toMatch(/there is no addon nope/);
    const remote = await execa(join(EXAMPLES, '..', 'bin', 'hop3'), ['addons', 'shell', 'notes-db'], { env: { ...d.env, HOP3_API_URL: 'https://hop3.example.com:8000' }, reject: false });
    expect(remote.exitCode).toBe(1);
    expect(String(remote.stderr)).toMatch(/runs the addon's client on the daemon's machine/);
  }, 60_000);

  it('addons create and attach --as: a new release with the URL in the variable named', async () => {
    expect(await d.json(['addons', 'create', 'redis', 'sessions'])).toMatchObject({ name: 'sessions', type: 'redis', attachedTo: [] });
    const r = await d.json<{ env: string; release: string }>(['addons', 'attach', APP, 'sessions', '--as', 'SESSION_URL']);
    expect(r.env).toBe('SESSION_URL');
    const env = await d.json<Record<string, string>>(['config', 'get', APP, '--reveal']);
    expect(env.SESSION_KEY_PREFIX).toBe('sessions:');
    expect(await redisRoundTrip(env.SESSION_URL!, env.SESSION_KEY_PREFIX!, 'v')).toBe('v');
    // Confined to its prefix: the other addon's keys are not its to read.
    await expect(redisRoundTrip(env.SESSION_URL!, 'cache:', 'v')).rejects.toThrow(/NOPERM/);
    urls.SESSION_URL = env.SESSION_URL!;
  }, 60_000);

  const SECOND = 'second-app';
  /** Passwords of logins revoked along the way, for the grep below. */
  const retired: string[] = [];
  let secondUrls: Record<string, string> = {};
  it('two apps attached to one addon: each its own login and password, both reach the same data', async () => {
    expect((await d.hop3(['deploy', join(EXAMPLES, 'static-site'), '--app', SECOND])).exitCode).toBe(0);
    for (const [addon, as] of [['notes-db', 'DATABASE_URL'], ['legacy-db', 'MYSQL_URL'], ['sessions', 'SESSION_URL']] as const) {
      expect(await d.json(['addons', 'attach', SECOND, addon, '--as', as])).toMatchObject({ attached: true });
    }
    secondUrls = await d.json<Record<string, string>>(['config', 'get', SECOND, '--reveal']);
    for (const k of ['DATABASE_URL', 'MYSQL_URL', 'SESSION_URL']) {
      expect(decodeURIComponent(new URL(secondUrls[k]!).username)).toMatch(new RegExp(`_${SECOND}$`));
      expect(decodeURIComponent(new URL(urls[k]!).username)).toMatch(new RegExp(`_${APP}$`));
      expect(passwordOf(secondUrls[k]!)).not.toBe(passwordOf(urls[k]!));
    }
    // The same database and prefix: what one app wrote, the other reads (tables made by either belong to the addon).
    expect(await pgRoundTrip(secondUrls.DATABASE_URL!, 'from-second')).toEqual(['from-second', 'from-test']);
    expect(await mysqlRoundTrip(secondUrls.MYSQL_URL!, 'from-second')).toEqual(['from-second', 'from-test']);
    expect(await redisRoundTrip(secondUrls.SESSION_URL!, secondUrls.SESSION_KEY_PREFIX!, 'w')).toBe('w');
    expect(secondUrls.SESSION_KEY_PREFIX).toBe('sessions:');
    const again = await d.json<Reconciled>(['reconcile', SECOND]);
    expect(again, JSON.stringify(again)).toMatchObject({ actions: [], error: null });
  }, 120_000);

  it('a login dropped by hand is drift of its app, found and healed', async () => {
    const adminPassword = readFileSync(join(d.home, 'secrets', 'addon-postgres-admin'), 'utf8').trim();
    const admin = new pg.Client({ host: join(d.home, 'addons', 'postgres', 'run'), port: Number(new URL(urls.DATABASE_URL!).port), user: 'hop3', password: adminPassword, database: 'postgres' });
    await admin.connect();
    const since = new Date().toISOString();
    await admin.query(`DROP ROLE ${pg.escapeIdentifier(`notes-db_${SECOND}`)}`);
    await admin.end();
    await expect(pgRoundTrip(secondUrls.DATABASE_URL!, 'x')).rejects.toThrow(PG_REFUSED);
    const healed = await d.json<Reconciled>(['reconcile', SECOND]);
    // Found by this pass, or by one the app had under way (a rollout still settling): the drift record says which.
    const drift = await d.json<{ resource: string; kind: string; action: string; detectedAt: string }[]>(['drift', SECOND]);
    expect(drift.filter((f) => f.detectedAt > since), JSON.stringify({ healed, drift })).toEqual(expect.arrayContaining([
      expect.objectContaining({ resource: `pg-login:notes-db_${SECOND}`, kind: 'missing', action: 'healed' }),
    ]));
    expect(JSON.stringify({ healed, drift })).not.toContain(passwordOf(secondUrls.DATABASE_URL!));
    expect(await pgRoundTrip(secondUrls.DATABASE_URL!, 'healed')).toContain('healed');
    expect((await d.json<Reconciled>(['reconcile', SECOND])).actions).toEqual([]);
  }, 60_000);

  it('detaching one app revokes its logins only: its old URLs fail, the other app\'s still work', async () => {
    for (const addon of ['notes-db', 'legacy-db', 'sessions']) {
      expect(await d.json(['addons', 'detach', SECOND, addon])).toMatchObject({ attached: false, revoked: true, sharedWith: [APP] });
    }
    expect(await d.json<Record<string, string>>(['config', 'get', SECOND, '--reveal'])).toEqual({});
    await expect(pgRoundTrip(secondUrls.DATABASE_URL!, 'x')).rejects.toThrow(PG_REFUSED);
    await expect(mysqlRoundTrip(secondUrls.MYSQL_URL!, 'x')).rejects.toThrow(/Access denied/);
    await expect(redisRoundTrip(secondUrls.SESSION_URL!, 'sessions:', 'x')).rejects.toThrow(/WRONGPASS|invalid username-password/i);
    // What it wrote stays with the addon, and the first app reaches it.
    expect(await pgRoundTrip(urls.DATABASE_URL!, 'after-detach')).toEqual(expect.arrayContaining(['from-second', 'healed', 'after-detach']));
    expect(await mysqlRoundTrip(urls.MYSQL_URL!, 'after-detach')).toContain('from-second');
    expect(await redisRoundTrip(urls.SESSION_URL!, 'sessions:', 'v2')).toBe('v2');
    expect((await appGet('/visits')).status).toBe(200);
  }, 60_000);

  it('a second pass plans nothing', async () => {
    expect(await reconcile()).toMatchObject({ actions: [], error: null });
    expect(await reconcile()).toMatchObject({ actions: [], error: null });
    expect(await d.json<Reconciled>(['reconcile', SECOND])).toMatchObject({ actions: [], error: null });
  });

  /** hop3's PostgreSQL's admin socket moved aside: the server runs (apps reach it over TCP), hop3 cannot ask it anything. */
  async function unasked<T>(fn: () => Promise<T>): Promise<T> {
    const socket = join(d.home, 'addons', 'postgres', 'run', `.s.PGSQL.${new URL(urls.DATABASE_URL!).port}`);
    renameSync(socket, `${socket}.hidden`);
    try {
      return await fn();
    } finally {
      renameSync(`${socket}.hidden`, socket);
    }
  }
  const loginsToDrop = async (addon: string) => (await d.json<{ loginsToDrop: { app: string }[] }>(['addons', 'info', addon])).loginsToDrop.map((l) => l.app);
  const attachSecond = async (addon: string, as: string) => {
    expect(await d.json(['addons', 'attach', SECOND, addon, '--as', as])).toMatchObject({ attached: true });
    return (await d.json<Record<string, string>>(['config', 'get', SECOND, '--reveal']))[as]!;
  };

  it('a login whose drop failed (its server could not be asked) is dropped by a later pass once the server answers', async () => {
    const url = await attachSecond('notes-db', 'DATABASE_URL');
    expect(await pgRoundTrip(url, 'second-again')).toContain('second-again');
    retired.push(passwordOf(url));
    await unasked(async () => {
      const r = await d.json<{ revoked: boolean; attached: boolean; hint: string }>(['addons', 'detach', SECOND, 'notes-db']);
      expect(r).toMatchObject({ attached: false, revoked: false });
      expect(r.hint).toContain('hop3 addons info notes-db');
      // The release without the variable went live all the same; the login is left, and still logs in.
      expect(await d.json<Record<string, string>>(['config', 'get', SECOND, '--reveal'])).toEqual({});
      expect((await d.json<{ status: string; current: boolean }[]>(['releases', SECOND]))[0]).toMatchObject({ status: 'live', current: true });
      expect(await pgRoundTrip(url, 'not-yet')).toContain('not-yet');
      expect(await loginsToDrop('notes-db')).toEqual([SECOND]);
      // A pass that cannot see it deletes nothing and says so: Unknown, never absent.
      const blind = await d.json<Reconciled>(['reconcile', SECOND]);
      expect(blind.actions).toEqual([]);
      expect(blind.findings).toEqual([expect.objectContaining({ resource: `pg-login:notes-db_${SECOND}`, kind: 'unknown' })]);
      expect(await loginsToDrop('notes-db')).toEqual([SECOND]);
    });
    const later = await d.json<Reconciled>(['reconcile', SECOND]);
    expect(later.error).toBeNull();
    await expect(pgRoundTrip(url, 'x')).rejects.toThrow(PG_REFUSED);
    expect(await loginsToDrop('notes-db')).toEqual([]);
    // Dropped as the records asked, not as drift.
    expect((await d.json<Drift[]>(['drift', SECOND])).filter((f) => f.kind === 'unexpected')).toEqual([]);
    expect(await d.json<Reconciled>(['reconcile', SECOND])).toMatchObject({ actions: [], error: null });
    // The data it wrote stays with the addon.
    expect(await pgRoundTrip(urls.DATABASE_URL!, 'after-late-drop')).toEqual(expect.arrayContaining(['second-again', 'not-yet']));
  }, 120_000);

  it('re-attached before its old login was dropped: a fresh password that works, not dropped by the old detach', async () => {
    const old = await attachSecond('notes-db', 'DATABASE_URL');
    retired.push(passwordOf(old));
    await unasked(async () => {
      expect(await d.json(['addons', 'detach', SECOND, 'notes-db'])).toMatchObject({ revoked: false });
      expect(await loginsToDrop('notes-db')).toEqual([SECOND]);
      // Recorded only: its rollout waits for the server, which it needs the login from.
      expect(await d.json(['addons', 'attach', SECOND, 'notes-db', '--detach'])).toMatchObject({ attached: true });
      expect(await loginsToDrop('notes-db')).toEqual([]);
    });
    const fresh = (await d.json<Record<string, string>>(['config', 'get', SECOND, '--reveal'])).DATABASE_URL!;
    expect(passwordOf(fresh)).not.toBe(passwordOf(old));
    await within(30_000, () => pgRoundTrip(fresh, 'fresh-login').then(() => true, () => false));
    await expect(pgRoundTrip(old, 'x')).rejects.toThrow(PG_REFUSED);
    await within(30_000, async () => (await d.json<{ status: string }[]>(['releases', SECOND]))[0]!.status === 'live');
    expect(await d.json<Reconciled>(['reconcile', SECOND])).toMatchObject({ actions: [], error: null });
    expect(await pgRoundTrip(fresh, 'still-fresh')).toContain('still-fresh');
    retired.push(passwordOf(fresh));
    // Detached with its server answering: dropped by the rollout, before the answer.
    expect(await d.json(['addons', 'detach', SECOND, 'notes-db'])).toMatchObject({ attached: false, revoked: true });
    await expect(pgRoundTrip(fresh, 'x')).rejects.toThrow(PG_REFUSED);
  }, 120_000);

  it('a daemon killed right after a detach is recorded drops the login once it is back', async () => {
    const url = await attachSecond('sessions', 'SESSION_URL');
    expect(await redisRoundTrip(url, 'sessions:', 'before-kill')).toBe('before-kill');
    retired.push(passwordOf(url));
    await d.stop();
    d.extraEnv.HOP3_FAILPOINT = 'after-detach-record';
    let cut: ReturnType<typeof d.hop3> | null = null;
    try {
      await d.start();
      const daemon = d.pid;
      // The client sends its call again while the daemon cannot be reached (see callRecording).
      cut = d.hop3(['addons', 'detach', SECOND, 'sessions', '--json']);
      await within(10_000, () => !alive(daemon));
      await d.stop('SIGKILL'); // reap it
      // Recorded, and nothing dropped it: the app's password still logs in.
      expect(await redisRoundTrip(url, 'sessions:', 'while-down')).toBe('while-down');
    } finally {
      delete d.extraEnv.HOP3_FAILPOINT;
    }
    await d.start();
    // Its repeat reached the restarted daemon: answered as the detach it had recorded, once the login is gone.
    const answer = await cut!;
    expect(answer.exitCode, output(answer)).toBe(0);
    expect(JSON.parse(String(answer.stdout))).toMatchObject({ attached: false, revoked: true, env: 'SESSION_URL' });
    await within(30_000, () => redisRoundTrip(url, 'sessions:', 'x').then(() => false, (err: Error) => /WRONGPASS|invalid username-password/i.test(err.message)));
    expect(await d.json<Record<string, string>>(['config', 'get', SECOND, '--reveal'])).not.toHaveProperty('SESSION_URL');
    expect(await loginsToDrop('sessions')).toEqual([]);
    // The first app's login to the same addon is untouched.
    expect(await redisRoundTrip(urls.SESSION_URL!, 'sessions:', 'after-restart')).toBe('after-restart');
  }, 120_000);

  it('an [[addons]] entry removed from hop3.toml is detached on the next deploy, which says so; the addon and its data are kept', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hop3-addons-manifest-'));
    try {
      cpSync(join(EXAMPLES, APP), dir, { recursive: true });
      const toml = readFileSync(join(dir, 'hop3.toml'), 'utf8');
      const without = toml.replace(/\[\[addons\]\]\ntype = "mysql"\nname = "legacy-db"\nenv = "MYSQL_URL"\n/, '');
      expect(without).not.toBe(toml);
      writeFileSync(join(dir, 'hop3.toml'), without);
      // Pushed with git: the push's own output says what the deploy detached.
      expect((await git(dir, ['init', '-q', '-b', 'main'])).exitCode).toBe(0);
      expect((await git(dir, ['add', '-A'])).exitCode).toBe(0);
      expect((await git(dir, ['commit', '-q', '-m', 'without legacy-db'])).exitCode).toBe(0);
      const r = await git(dir, ['push', `http://hop3:${d.token()}@127.0.0.1:${d.apiPort}/git/${APP}.git`, 'main']);
      expect(r.exitCode, output(r)).toBe(0);
      expect(String(r.stderr)).toMatch(/remote: -----> Detached from addon legacy-db \(MYSQL_URL\): its \[\[addons\]\] entry is gone from hop3\.toml; the addon and its data are kept; the app's login to it is dropped by the rollout/);
      expect(String(r.stderr)).toMatch(/remote: .*is serving/);
      const env = await d.json<Record<string, string>>(['config', 'get', APP, '--reveal']);
      expect(env.MYSQL_URL).toBeUndefined();
      // Only what the manifest had declared: sessions, attached by command, stays.
      expect(env.SESSION_URL).toBe(urls.SESSION_URL);
      // The login was dropped by the rollout, before the release went live (and the push heard of it).
      await expect(mysqlRoundTrip(urls.MYSQL_URL!, 'x')).rejects.toThrow(/Access denied/);
      expect(await d.json<{ attachedTo: unknown[] }>(['addons', 'info', 'legacy-db'])).toMatchObject({ attachedTo: [], instance: 'Healthy', loginsToDrop: [] });
      expect((await d.json<{ kind: string; data: { addon?: string; reason?: string } }[]>(['events', APP])).some((e) => e.kind === 'addon.detached' && e.data.addon === 'legacy-db' && e.data.reason === 'manifest')).toBe(true);
      // Declared again: attached again, with a new login, to the data it had.
      expect((await d.hop3(['deploy', join(EXAMPLES, APP)])).exitCode).toBe(0);
      const again = await d.json<Record<string, string>>(['config', 'get', APP, '--reveal']);
      expect(passwordOf(again.MYSQL_URL!)).not.toBe(passwordOf(urls.MYSQL_URL!));
      expect(await mysqlRoundTrip(again.MYSQL_URL!, 'back')).toEqual(['after-detach', 'back', 'from-second', 'from-test']);
      retired.push(passwordOf(urls.MYSQL_URL!));
      urls.MYSQL_URL = again.MYSQL_URL!;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);

  it('a restarted daemon finds the servers running: the same pids, nothing planned', async () => {
    const files = ['postgres/data/postmaster.pid', 'mariadb/run/mariadb.pid', 'redis/run/redis.pid'].map((f) => join(d.home, 'addons', f));
    const pids = () => files.map((f) => Number(readFileSync(f, 'utf8').split('\n')[0]));
    const before = pids();
    await d.stop();
    await d.start();
    expect(pids()).toEqual(before);
    expect(await reconcile()).toMatchObject({ actions: [], error: null });
    expect(await pgRoundTrip(urls.DATABASE_URL!, 'after-restart')).toContain('after-restart');
  }, 60_000);

  it('a killed addon server is serving again within 5 s', async () => {
    const pidFile = join(d.home, 'addons', 'postgres', 'data', 'postmaster.pid');
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGKILL');
    const { elapsedMs } = await within(5000, async () => {
      try {
        return (await pgRoundTrip(urls.DATABASE_URL!, 'after-kill')).includes('after-kill');
      } catch {
        return false;
      }
    });
    expect(elapsedMs).toBeLessThan(5000);
    expect(Number(readFileSync(pidFile, 'utf8').split('\n')[0])).not.toBe(pid);
  }, 20_000);

  /** Drop the database behind hop3's back, as an admin would, over hop3's own admin socket. */
  async function dropDatabase(name: string): Promise<void> {
    const adminPassword = readFileSync(join(d.home, 'secrets', 'addon-postgres-admin'), 'utf8').trim();
    const port = Number(new URL(urls.DATABASE_URL!).port);
    const admin = new pg.Client({ host: join(d.home, 'addons', 'postgres', 'run'), port, user: 'hop3', password: adminPassword, database: 'postgres' });
    await admin.connect();
    await admin.query(`DROP DATABASE ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    await admin.end();
  }

  /** The heal policy changed and the pass that desired change triggers seen through (later differences are drift). */
  async function healPolicy(policy: 'heal' | 'report'): Promise<void> {
    expect((await d.rpc('apps.configure', { app: APP, healPolicy: policy })).body.error).toBeUndefined();
    await reconcile();
  }

  let backupId = '';
  it('hop3 backup: a verified backup of an addon, more written, restored in place: the earlier state is back', async () => {
    const before = await pgRoundTrip(urls.DATABASE_URL!, 'kept');
    const made = await d.json<{ id: string; verified: boolean; type: string; trigger: string }>(['backup', 'create', 'notes-db']);
    expect(made).toMatchObject({ type: 'postgres', verified: true, trigger: 'manual' });
    backupId = made.id;
    expect(await pgRoundTrip(urls.DATABASE_URL!, 'zz-after')).toEqual([...before, 'zz-after']);
    const restored = await d.json<{ into: string; preRestore: string | null }>(['backup', 'restore', made.id]);
    expect(restored.into).toBe('notes-db');
    expect(restored.preRestore).not.toBeNull();
    // The app's own password still works: a restore in place keeps the recorded credentials.
    expect(await pgRoundTrip(urls.DATABASE_URL!, 'zz-restored')).toEqual([...before, 'zz-restored']);
  }, 60_000);

  it('a dropped database is reported under heal policy report, and stays dropped', async () => {
    await healPolicy('report');
    await dropDatabase('notes-db');
    const reported = await reconcile();
    expect(reported.actions).toEqual([]);
    const finding = reported.findings.find((f) => f.resource === 'pg-database:notes-db');
    expect(finding).toMatchObject({ kind: 'missing', action: 'reported' });
    expect(finding!.observed).toContain('missing database');
    // The newest verified backup is the pre-restore one the restore above made, or the manual one.
    const newest = (await d.json<{ backups: { id: string; verified: boolean }[] }>(['backup', 'list', 'notes-db'])).backups.find((b) => b.verified)!.id;
    expect(newest >= backupId).toBe(true);
    expect(finding!.observed).toContain(`restore backup ${newest}`);
    expect((await d.json<Drift[]>(['drift', APP])).some((f) => f.resource === 'pg-database:notes-db' && f.action === 'reported')).toBe(true);
    expect((await reconcile()).actions).toEqual([]);
    await expect(pgRoundTrip(urls.DATABASE_URL!, 'x')).rejects.toThrow(/does not exist/);
  }, 30_000);

  it('under heal policy heal a dropped database is recreated empty, and the finding says so', async () => {
    await healPolicy('heal');
    await pgRoundTrip(urls.DATABASE_URL!, 'before-drop');
    await dropDatabase('notes-db');
    const healed = await reconcile();
    const finding = healed.findings.find((f) => f.resource === 'pg-database:notes-db');
    expect(finding).toMatchObject({ kind: 'missing', action: 'healed' });
    expect(finding!.observed).toContain('recreates it empty');
    // Empty: what was written before the drop is not silently back.
    expect(await pgRoundTrip(urls.DATABASE_URL!, 'fresh')).toEqual(['fresh']);
    expect((await reconcile()).actions).toEqual([]);
  }, 30_000);

  it('detach removes the variable in a new release and revokes the old password; destroy needs --yes and no attachment', async () => {
    const refused = await d.hop3(['addons', 'destroy', 'cache', '--yes', '--json']);
    expect(JSON.parse(String(refused.stdout)).error.code).toBe('ADDON_ATTACHED');

    const r = await d.json<{ revoked: boolean; attached: boolean }>(['addons', 'detach', APP, 'cache']);
    expect(r).toMatchObject({ attached: false, revoked: true });
    const env = await d.json<Record<string, string>>(['config', 'get', APP, '--reveal']);
    expect(env.REDIS_URL).toBeUndefined();
    expect(env.REDIS_KEY_PREFIX).toBeUndefined();
    expect((await appGet('/')).body).toEqual({ addons: ['DATABASE_URL', 'MYSQL_URL'] });
    await expect(redisRoundTrip(urls.REDIS_URL!, urls.REDIS_KEY_PREFIX!, 'x')).rejects.toThrow(/WRONGPASS|invalid username-password/i);

    const mdb = await d.json<{ revoked: boolean }>(['addons', 'detach', APP, 'legacy-db']);
    expect(mdb.revoked).toBe(true);
    await expect(mysqlRoundTrip(urls.MYSQL_URL!, 'x')).rejects.toThrow(/Access denied/);

    const unconfirmed = await d.hop3(['addons', 'destroy', 'cache', '--json']);
    expect(JSON.parse(String(unconfirmed.stdout)).error.code).toBe('CONFIRM');
    const destroyed = await d.json<{ destroyed: boolean; finalBackup: string }>(['addons', 'destroy', 'cache', '--yes']);
    expect(destroyed).toMatchObject({ destroyed: true });
    // Its data is kept first, verified.
    const kept = (await d.json<{ backups: { id: string; addon: string; trigger: string; verified: boolean }[] }>(['backup', 'list'])).backups;
    expect(kept.find((b) => b.id === destroyed.finalBackup)).toMatchObject({ addon: 'cache', trigger: 'destroy', verified: true });
    expect((await d.json<{ name: string }[]>(['addons'])).map((a) => a.name).sort()).toEqual(['legacy-db', 'notes-db', 'sessions']);
    expect((await reconcile()).actions).toEqual([]);
  }, 60_000);

  it('no password is in hop3.db, the events or the daemon log in plain text', async () => {
    // The first app's logins, the second app's (revoked since), and the addons' own.
    const passwords = [...['DATABASE_URL', 'MYSQL_URL', 'REDIS_URL', 'SESSION_URL'].map((k) => passwordOf(urls[k]!)), ...['DATABASE_URL', 'MYSQL_URL', 'SESSION_URL'].map((k) => passwordOf(secondUrls[k]!))];
    passwords.push(...retired);
    expect(new Set(passwords).size).toBe(12);
    const events = JSON.stringify(await d.json(['events', APP, '--limit', '1000']));
    const dbFiles = readdirSync(d.home).filter((f) => f.startsWith('hop3.db')).map((f) => readFileSync(join(d.home, f)).toString('latin1'));
    expect(dbFiles.length).toBeGreaterThan(0);
    const logs = [readFileSync(d.logFile, 'utf8'), ...readdirSync(join(d.home, 'log')).map((f) => readFileSync(join(d.home, 'log', f), 'utf8'))];
    for (const p of passwords) {
      expect(events).not.toContain(p);
      for (const db of dbFiles) expect(db).not.toContain(p);
      for (const log of logs) expect(log).not.toContain(p);
    }
    // What the app's processes read does hold its URLs, readable by root and the app alone.
    expect(events).toContain('addon.attached');
  });

  it('destroying the app revokes the password of the addons it leaves unattached; their data stays', async () => {
    expect((await d.hop3(['destroy', APP, '--yes'])).exitCode).toBe(0);
    await expect(pgRoundTrip(urls.DATABASE_URL!, 'x')).rejects.toThrow(PG_REFUSED);
    const info = await d.json<{ attachedTo: unknown[]; instance: string }>(['addons', 'info', 'notes-db']);
    // Its logins were tombstones of the recordless app, dropped by the pass the destroy ended with.
    expect(info).toMatchObject({ attachedTo: [], instance: 'Healthy', loginsToDrop: [] });
  }, 60_000);
});
