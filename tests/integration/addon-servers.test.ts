import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExec } from '../../src/lib/exec.js';
import { freePorts } from '../../src/lib/free-ports.js';
import { ensureLayout, layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { UNKNOWN } from '../../src/lib/unknown.js';
import { ensureAddonAccount } from '../../src/plugins/addons/account.js';
import type { AddonDefinition, AddonFactory } from '../../src/plugins/addons/addon.js';
import { newInstanceSpec, type InstanceLive, type InstanceSpec } from '../../src/plugins/addons/instance-provider.js';
import mariadbAddon from '../../src/plugins/addons/mariadb/index.js';
import postgresAddon from '../../src/plugins/addons/postgres/index.js';
import redisAddon from '../../src/plugins/addons/redis/index.js';
import { newLoginSpec, type LoginLive, type LoginSpec } from '../../src/plugins/addons/login-provider.js';
import { roundTrip } from '../unit/provider-round-trip.js';
import { mariadbApp, pgApp, redisApp, type AppClient } from '../support/addon-clients.js';

/**
 * hop3's own PostgreSQL, MariaDB and Redis, each really started in a throwaway HOP3_HOME on a
 * free loopback port and a unix socket, as the unprivileged addon account: its lifecycle
 * (init, start, ping, SIGKILL, restart), and its instances through their provider and through the
 * URL an app gets (write, read, dropped or changed behind hop3's back, drop, dump and restore,
 * hostile names).
 */

interface Case {
  type: string;
  factory: AddonFactory;
  urlVar: string;
  scheme: string;
  app: AppClient;
  /** Change the instance's password behind hop3's back, as an admin would. */
  changePassword(a: AddonDefinition, name: string): Promise<void>;
  /** Remove the instance's data behind hop3's back (its database; for Redis, its ACL user). */
  dropByHand(a: AddonDefinition, name: string): Promise<void>;
  /** The part dropByHand removes. */
  droppedPart: string;
  /** Give the instance more access than hop3 gave it, behind hop3's back. */
  widenByHand(a: AddonDefinition, name: string): Promise<void>;
  /** Put the server back as an earlier hop3 left it, before logins of their own (a server adopted across an upgrade). */
  asBeforeLogins?(a: AddonDefinition): Promise<void>;
  /** A session left open with a URL: `query` runs a statement in it. */
  session(url: string): Promise<{ query(): Promise<unknown>; close(): Promise<void> }>;
}

const CASES: Case[] = [
  {
    type: 'postgres', factory: postgresAddon, urlVar: 'DATABASE_URL', scheme: 'postgres:', app: pgApp(), droppedPart: 'database',
    changePassword: (a, name) => (a.server as import('../../src/plugins/addons/postgres/server.js').PostgresServer).withAdmin(async (c) => {
      await c.query(`ALTER ROLE ${pg.escapeIdentifier(name)} PASSWORD 'changed-by-hand-123'`);
    }),
    dropByHand: (a, name) => (a.server as import('../../src/plugins/addons/postgres/server.js').PostgresServer).withAdmin(async (c) => {
      await c.query(`DROP DATABASE ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    }),
    widenByHand: (a, name) => (a.server as import('../../src/plugins/addons/postgres/server.js').PostgresServer).withAdmin(async (c) => {
      await c.query(`ALTER ROLE ${pg.escapeIdentifier(name)} CREATEDB`);
    }),
    async asBeforeLogins(a) {
      const server = a.server as import('../../src/plugins/addons/postgres/server.js').PostgresServer;
      const hba = join(server.paths.data, 'pg_hba.conf');
      writeFileSync(hba, readFileSync(hba, 'utf8').replaceAll('samerole', 'sameuser'));
      await server.withAdmin((c) => c.query('SELECT pg_reload_conf()'));
    },
    async session(url) {
      const c = new pg.Client({ connectionString: url });
      c.on('error', () => undefined);
      await c.connect();
      return { query: () => c.query('SELECT 1'), close: () => c.end().catch(() => undefined) };
    },
  },
  {
    type: 'mariadb', factory: mariadbAddon, urlVar: 'DATABASE_URL', scheme: 'mysql:', app: mariadbApp(), droppedPart: 'database',
    changePassword: (a, name) => (a.server as import('../../src/plugins/addons/mariadb/server.js').MariadbServer).withAdmin(async (c) => {
      await c.query("ALTER USER ?@'127.0.0.1' IDENTIFIED BY 'changed-by-hand-123'", [name]);
    }),
    dropByHand: (a, name) => (a.server as import('../../src/plugins/addons/mariadb/server.js').MariadbServer).withAdmin(async (c) => {
      await c.query('DROP DATABASE ??', [name]);
    }),
    widenByHand: (a, name) => (a.server as import('../../src/plugins/addons/mariadb/server.js').MariadbServer).withAdmin(async (c) => {
      await c.query("GRANT SELECT ON mysql.* TO ?@'127.0.0.1'", [name]);
    }),
    async session(url) {
      const c = await mysql.createConnection(url);
      c.on('error', () => undefined);
      return { query: () => c.query('SELECT 1'), close: () => c.end().catch(() => c.destroy()) };
    },
  },
  {
    type: 'redis', factory: redisAddon, urlVar: 'REDIS_URL', scheme: 'redis:', app: redisApp, droppedPart: 'user',
    changePassword: (a, name) => (a.server as import('../../src/plugins/addons/redis/server.js').RedisServer).withAdmin(async (c) => {
      await c.sendCommand(['ACL', 'SETUSER', name, 'resetpass', '>changed-by-hand-123']);
    }),
    dropByHand: (a, name) => (a.server as import('../../src/plugins/addons/redis/server.js').RedisServer).withAdmin(async (c) => {
      await c.sendCommand(['ACL', 'DELUSER', name]);
    }),
    widenByHand: (a, name) => (a.server as import('../../src/plugins/addons/redis/server.js').RedisServer).withAdmin(async (c) => {
      await c.sendCommand(['ACL', 'SETUSER', name, 'allkeys', '+keys']);
    }),
    async session(url) {
      const c = createClient({ url, socket: { reconnectStrategy: false } });
      c.on('error', () => undefined);
      await c.connect();
      return { query: () => c.ping(), close: async () => c.destroy() };
    },
  },
];

const log = createLogger('silent');
const exec = createExec();
const home = mkdtempSync(join(tmpdir(), 'hop3-addons-'));
const layout = layoutOf(home);
const started: AddonDefinition[] = [];

beforeAll(() => {
  ensureLayout(layout);
});

afterAll(async () => {
  for (const a of started) await a.server.stop();
  rmSync(home, { recursive: true, force: true });
}, 60_000);

const look = async (a: AddonDefinition, spec: InstanceSpec) => (await a.provider.observe(spec.name, [{ kind: a.provider.kind, name: spec.name, spec }])).get(spec.name);
const actx = (owner: string) => ({ owner, log });

describe.each(CASES)('hop3\'s $type server', (c) => {
  let a: AddonDefinition;
  let port: number;

  beforeAll(async () => {
    [port] = (await freePorts(1)) as [number];
    const account = await ensureAddonAccount(exec, join(home, 'addons'));
    a = c.factory({ layout, log, exec, port, account });
    started.push(a);
  }, 30_000);

  it('is initialised on first use, started as the addon account, and answers on its loopback port and socket', async () => {
    // What an initialisation killed halfway left is started over.
    mkdirSync(`${a.server.paths.data}.init`, { recursive: true });
    writeFileSync(`${a.server.paths.data}.init/half-made`, 'x');
    const t = Date.now();
    expect(await a.server.ensureRunning()).toBe('started');
    const took = Date.now() - t;
    console.log(`${c.type}: first start (init + start) ${took} ms`);
    expect(existsSync(`${a.server.paths.data}.init`)).toBe(false);
    expect(existsSync(join(a.server.paths.data, 'half-made'))).toBe(false);
    expect(await a.server.ensureRunning()).toBe('running');
    expect(await a.server.ping()).toBe(true);
    expect(await a.server.version()).toMatch(c.type === 'postgres' ? /^15\./ : c.type === 'mariadb' ? /^10\.11\./ : /^7\./);
    const pid = a.server.pid()!;
    expect(pid).toBeGreaterThan(1);
    // Not root: the account's uid (PostgreSQL would refuse root; none of them needs it).
    const uid = Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
    if (process.getuid?.() === 0) expect(uid).not.toBe(0);
    // Only on loopback, on the port it was given.
    const listening = execFileSync('ss', ['-ltnpH'], { encoding: 'utf8' }).split('\n').filter((l) => l.includes(`pid=${pid},`));
    expect(listening.length).toBeGreaterThan(0);
    for (const l of listening) expect(l).toMatch(new RegExp(`\\s(127\\.0\\.0\\.1|\\[::1\\]):${port}\\s`));
    // Its directory is its own, 0700; the admin password is 0600 in secrets/.
    expect(statSync(a.server.paths.dir).mode & 0o777).toBe(0o700);
    expect(statSync(a.server.paths.adminSecret).mode & 0o777).toBe(0o600);
  }, 90_000);

  it('instances round-trip through their provider: create → observe → no diff; delete → absent; unreadable → UNKNOWN', async () => {
    await roundTrip(a.provider, layout, 'conform');
  }, 30_000);

  it('logins round-trip through their provider (on the instance they reach): create → observe → no diff; delete → absent; unreadable → UNKNOWN', async () => {
    const instance = newInstanceSpec('conform');
    await a.provider.apply('create', instance.name, instance, null, actx('conform'));
    await roundTrip(a.loginProvider, layout, 'conform');
    await a.provider.apply('delete', instance.name, null, null, actx('conform'));
  }, 30_000);

  it('two apps\' logins to one instance: each its own URL to the same data; one dropped, its URL (and its open session) fail, the other\'s works', async () => {
    const instance = newInstanceSpec('shared');
    await a.provider.apply('create', instance.name, instance, null, actx('one'));
    await c.asBeforeLogins?.(a);
    const [one, two] = [newLoginSpec('shared', 'one'), newLoginSpec('shared', 'two')];
    const res = (l: LoginSpec) => ({ kind: a.loginProvider.kind, name: l.user, spec: l });
    for (const l of [one, two]) await a.loginProvider.apply('create', l.user, l, null, actx(l.user));
    const urlOf = (l: LoginSpec) => a.instances.connectionDetails({ name: l.addon, user: l.user, password: l.password })[c.urlVar]!;
    expect(urlOf(one)).not.toBe(urlOf(two));
    expect(decodeURIComponent(new URL(urlOf(one)).username)).toBe('shared_one');
    await c.app.write(urlOf(one), 'by-one');
    await c.app.write(urlOf(two), 'by-two');
    // What one app made (a table, keys) the other uses: both reach the addon's data, as its role.
    expect(await c.app.read(urlOf(one))).toEqual(['by-one', 'by-two']);
    // Not another instance's, and not with the other login's password.
    const wrong = new URL(urlOf(one));
    wrong.password = two.password;
    await expect(c.app.read(wrong.toString())).rejects.toThrow();

    // A changed password and wider access are found, and the update puts them back.
    await c.changePassword(a, one.user);
    let live = (await a.loginProvider.observe('one', [res(one)])).get(one.user) as LoginLive;
    expect(live).toMatchObject({ passwordValid: false });
    expect(a.loginProvider.diff(one, live)).toBe('update');
    await c.widenByHand(a, one.user);
    live = (await a.loginProvider.observe('one', [res(one)])).get(one.user) as LoginLive;
    expect(live.confined).toBe(false);
    expect(a.loginProvider.describe(live)).not.toContain(one.password);
    await a.loginProvider.apply('update', one.user, one, live, actx('one'));
    expect(a.loginProvider.diff(one, (await a.loginProvider.observe('one', [res(one)])).get(one.user) as LoginLive)).toBe('none');

    const session = await c.session(urlOf(one));
    try {
      await a.loginProvider.apply('delete', one.user, null, null, actx('one'));
      expect((await a.loginProvider.observe('one', [res(one)])).get(one.user)).toBeNull();
      await expect(c.app.read(urlOf(one))).rejects.toThrow();
      await expect(session.query()).rejects.toThrow();
    } finally {
      await session.close();
    }
    expect(await c.app.read(urlOf(two))).toEqual(['by-one', 'by-two']);
    await c.app.write(urlOf(two), 'still');
    // Idempotent.
    await a.loginProvider.apply('delete', one.user, null, null, actx('one'));
    await a.loginProvider.apply('delete', two.user, null, null, actx('two'));
    await a.provider.apply('delete', instance.name, null, null, actx('one'));
    expect(a.server.paths.log && readFileSync(a.server.paths.log, 'utf8')).not.toContain(two.password);
  }, 60_000);

  it('an instance gives an app a URL it writes and reads through, and no other instance\'s data', async () => {
    const spec = newInstanceSpec('blog');
    const other = newInstanceSpec('shop');
    for (const s of [spec, other]) await a.provider.apply('create', s.name, s, null, actx(s.name));
    const url = a.instances.connectionDetails(spec)[c.urlVar]!;
    expect(new URL(url).protocol).toBe(c.scheme);
    expect(url).toContain(`127.0.0.1:${port}`);
    await c.app.write(url, 'first');
    await c.app.write(url, 'second');
    expect(await c.app.read(url)).toEqual(['first', 'second']);
    const live = (await look(a, spec)) as InstanceLive;
    expect(a.provider.diff(spec, live)).toBe('none');
    expect(a.provider.health!(live)).toBe('Healthy');
    // The other instance's credentials see none of it.
    const otherUrl = a.instances.connectionDetails(other)[c.urlVar]!;
    if (c.type === 'redis') {
      const r = createClient({ url: otherUrl, socket: { reconnectStrategy: false } });
      r.on('error', () => undefined);
      await r.connect();
      try {
        await expect(r.get('blog:counter')).rejects.toThrow(/NOPERM/);
        await expect(r.sendCommand(['KEYS', '*'])).rejects.toThrow(/NOPERM/);
        await expect(r.sendCommand(['SCAN', '0'])).rejects.toThrow(/NOPERM/);
        await expect(r.sendCommand(['FLUSHALL'])).rejects.toThrow(/NOPERM/);
      } finally {
        r.destroy();
      }
    } else {
      const cross = new URL(otherUrl);
      cross.pathname = '/blog';
      await expect(c.app.read(cross.toString())).rejects.toThrow(/denied|no pg_hba|permission/i);
    }
    // No password reached the server's log (statements carry hashes, never the password).
    const serverLog = readFileSync(a.server.paths.log, 'utf8');
    expect(serverLog).not.toContain(spec.password);
    expect(serverLog).not.toContain(a.server.adminPassword());
  }, 30_000);

  it('observe finds a changed password, wider access and a part dropped by hand; the update puts them back', async () => {
    const spec = newInstanceSpec('drifty');
    await a.provider.apply('create', spec.name, spec, null, actx(spec.name));
    await c.changePassword(a, spec.name);
    let live = (await look(a, spec)) as InstanceLive;
    expect(live.passwordValid).toBe(false);
    expect(a.provider.diff(spec, live)).toBe('update');
    expect(a.provider.describe(live)).toMatch(/credentials do not log in/);
    expect(a.provider.describe(live)).not.toContain(spec.password);
    await a.provider.apply('update', spec.name, spec, live, actx(spec.name));
    expect(a.provider.diff(spec, (await look(a, spec)) as InstanceLive)).toBe('none');

    await c.widenByHand(a, spec.name);
    live = (await look(a, spec)) as InstanceLive;
    expect(live.confined).toBe(false);
    expect(a.provider.diff(spec, live)).toBe('update');
    expect(a.provider.describe(live)).toMatch(/access wider than hop3 gave/);
    await a.provider.apply('update', spec.name, spec, live, actx(spec.name));
    expect(a.provider.diff(spec, (await look(a, spec)) as InstanceLive)).toBe('none');

    await c.dropByHand(a, spec.name);
    live = (await look(a, spec)) as InstanceLive | null as InstanceLive;
    if (c.type === 'redis') {
      expect(live).toBeNull();
    } else {
      expect(live.parts[c.droppedPart]).toBe(false);
      expect(a.provider.partial!(live)).toBe(true);
      expect(a.provider.diff(spec, live)).toBe('update');
      await a.provider.apply('update', spec.name, spec, live, actx(spec.name));
      expect(a.provider.diff(spec, (await look(a, spec)) as InstanceLive)).toBe('none');
    }
  }, 30_000);

  it('a dropped instance is absent and its URL no longer logs in', async () => {
    const spec = newInstanceSpec('gone');
    await a.provider.apply('create', spec.name, spec, null, actx(spec.name));
    const url = a.instances.connectionDetails(spec)[c.urlVar]!;
    await c.app.write(url, 'x');
    await a.provider.apply('delete', spec.name, null, null, actx(spec.name));
    expect(await look(a, spec)).toBeNull();
    await expect(c.app.read(url)).rejects.toThrow();
    // Idempotent.
    await a.provider.apply('delete', spec.name, null, null, actx(spec.name));
  }, 30_000);

  it('dump, write more, restore: the earlier state is back (and a restore into another name holds the same)', async () => {
    const spec = newInstanceSpec('keep');
    await a.provider.apply('create', spec.name, spec, null, actx(spec.name));
    const url = a.instances.connectionDetails(spec)[c.urlVar]!;
    await c.app.write(url, 'before-1');
    await c.app.write(url, 'before-2');
    const dump = await a.instances.dump(spec.name, join(layout.backups, `${c.type}-keep.dump`));
    expect(dump.bytes).toBeGreaterThan(0);
    expect(dump.sha256).toMatch(/^[0-9a-f]{64}$/);
    await c.app.write(url, 'after');
    expect(await c.app.read(url)).toEqual(['before-1', 'before-2', 'after']);
    await a.instances.restore(spec, dump.path);
    expect(await c.app.read(url)).toEqual(['before-1', 'before-2']);
    // The app goes on writing after a restore.
    await c.app.write(url, 'after-restore');
    expect(await c.app.read(url)).toEqual(['before-1', 'before-2', 'after-restore']);
    // Restored into a scratch instance (as a backup is verified), with that instance's own credentials.
    const scratch = newInstanceSpec('keep-scratch');
    await a.instances.restore(scratch, dump.path);
    const scratchUrl = a.instances.connectionDetails(scratch)[c.urlVar]!;
    expect(await c.app.read(scratchUrl)).toEqual(['before-1', 'before-2']);
    expect(await c.app.read(url)).toEqual(['before-1', 'before-2', 'after-restore']);
    await a.provider.apply('delete', scratch.name, null, null, actx(scratch.name));
    // A file that is no dump of this type is refused before anything is dropped.
    const junk = join(layout.backups, `${c.type}-junk.dump`);
    writeFileSync(junk, 'PGDMP? -- MariaDB dump? HOP3-REDIS-KEYS? no: junk\n');
    await expect(a.instances.restore(spec, junk)).rejects.toMatchObject({ code: 'ADDON_BACKUP_INVALID', category: 'user' });
    expect(await c.app.read(url)).toEqual(['before-1', 'before-2', 'after-restore']);
  }, 60_000);

  // PostgreSQL's own: its dumps had a format of their own before (defined for it alone, not skipped for the others).
  if (c.type === 'postgres') it('a dump pg_dump compressed itself (as hop3 wrote them before) still restores; a compressed dump cut short or changed is refused, nothing changed', async () => {
    const server = a.server as import('../../src/plugins/addons/postgres/server.js').PostgresServer;
    const spec = newInstanceSpec('formats');
    await a.provider.apply('create', spec.name, spec, null, actx(spec.name));
    const url = a.instances.connectionDetails(spec)[c.urlVar]!;
    await c.app.write(url, 'old-1');
    // Enough data that most of a dump lies after its table of contents, which is all `pg_restore --list` reads.
    await server.withAdmin(async (q) => {
      await q.query(`SET ROLE ${pg.escapeIdentifier(spec.name)}`);
      await q.query('CREATE TABLE filler AS SELECT g AS id, md5(g::text) AS body FROM generate_series(1, 50000) g');
    }, spec.name);
    const admin = server.adminLogin();
    const old = join(layout.backups, 'postgres-old.dump');
    execFileSync(server.bin('pg_dump'), ['--format=custom', '--compress=1', '--no-password', `--file=${old}`, `--dbname=${spec.name}`], {
      env: { PATH: process.env.PATH!, PGHOST: server.socketDir, PGPORT: String(server.port), PGUSER: admin.user, ...(admin.password === null ? {} : { PGPASSWORD: admin.password }) },
    });
    expect(readFileSync(old).subarray(0, 5).toString('latin1')).toBe('PGDMP');
    await c.app.write(url, 'old-2');
    await a.instances.restore(spec, old);
    expect(await c.app.read(url)).toEqual(['old-1']);
    expect(await a.inventory.ofDump(old)).toEqual(await a.inventory.of(spec.name));

    const dump = await a.instances.dump(spec.name, join(layout.backups, 'postgres-new.dump'));
    const written = readFileSync(dump.path);
    expect(written.subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
    // What is recorded is the file as written, not the dump inside it.
    expect(dump).toMatchObject({ bytes: written.length, sha256: createHash('sha256').update(written).digest('hex') });
    await c.app.write(url, 'new-1');
    const changed = Buffer.from(written);
    changed[Math.floor(written.length * 0.75)]! ^= 0x40;
    const bad = { 'cut short': written.subarray(0, written.length - 200), 'one byte changed': changed, 'cut to its first bytes': written.subarray(0, 3) };
    for (const [what, bytes] of Object.entries(bad)) {
      const file = join(layout.backups, 'postgres-bad.dump');
      writeFileSync(file, bytes);
      await expect(a.inventory.ofDump(file), what).rejects.toMatchObject({ code: 'ADDON_BACKUP_INVALID', category: 'user' });
      await expect(a.instances.restore(spec, file), what).rejects.toMatchObject({ code: 'ADDON_BACKUP_INVALID', category: 'user' });
      expect(await c.app.read(url), what).toEqual(['old-1', 'new-1']);
    }
    await a.instances.restore(spec, dump.path);
    expect(await c.app.read(url)).toEqual(['old-1']);
    await a.provider.apply('delete', spec.name, null, null, actx(spec.name));
  }, 60_000);

  it('hostile names are refused before any statement is sent (the same error with the server down)', async () => {
    const hostile = ['x; DROP', "x'; DROP DATABASE blog; --", 'x"y', 'a`b', 'a'.repeat(200), 'new\nline', 'postgres', 'default'];
    const down = c.factory({ layout: layoutOf(join(home, 'nowhere')), log, exec, port: 1, account: null });
    for (const name of hostile) {
      const spec = { name, password: 'A'.repeat(32) };
      for (const target of [a, down]) {
        await expect(target.provider.apply('create', name, spec, null, actx('x'))).rejects.toMatchObject({ code: 'ADDON_NAME_INVALID', category: 'user' });
        await expect(target.provider.apply('delete', name, null, null, actx('x'))).rejects.toMatchObject({ code: 'ADDON_NAME_INVALID' });
        await expect(target.provider.observe('x', [{ kind: target.provider.kind, name, spec }])).rejects.toMatchObject({ code: 'ADDON_NAME_INVALID' });
        await expect(target.instances.dump(name, join(layout.backups, 'hostile.dump'))).rejects.toMatchObject({ code: 'ADDON_NAME_INVALID' });
      }
    }
  }, 30_000);

  it('killed with SIGKILL: ping fails and instances are UNKNOWN (never absent); restarted, it serves the same data', async () => {
    const spec = newInstanceSpec('survivor');
    await a.provider.apply('create', spec.name, spec, null, actx(spec.name));
    const url = a.instances.connectionDetails(spec)[c.urlVar]!;
    await c.app.write(url, 'kept');
    const pid = a.server.pid()!;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && a.server.alive(); i++) await sleep(20);
    expect(a.server.alive()).toBe(false);
    expect(await a.server.ping()).toBe(false);
    expect(await look(a, spec)).toBe(UNKNOWN);
    // A daemon start sets HOP3_HOME's mode again: the account must still pass through it.
    ensureLayout(layout);
    if (process.getuid?.() === 0) expect(statSync(home).mode & 0o001).toBe(0o001);
    const t = Date.now();
    expect(await a.server.ensureRunning()).toBe('started');
    const took = Date.now() - t;
    console.log(`${c.type}: restart after SIGKILL serving in ${took} ms`);
    expect(took).toBeLessThan(5_000);
    expect(a.server.pid()).not.toBe(pid);
    expect(await c.app.read(url)).toEqual(['kept']);
    expect(a.provider.diff(spec, (await look(a, spec)) as InstanceLive)).toBe('none');
  }, 60_000);

  it('stops', async () => {
    await a.server.stop();
    expect(a.server.alive()).toBe(false);
    expect(await a.server.ping()).toBe(false);
  }, 30_000);
});
