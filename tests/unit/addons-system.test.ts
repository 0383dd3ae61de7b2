import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Hop3Error } from '../../src/lib/errors.js';
import type { Exec } from '../../src/lib/exec.js';
import { layoutOf } from '../../src/lib/layout.js';
import { pino } from 'pino';
import { ADDON_TYPES } from '../../src/plugins/addons/index.js';
import { readAdminSecret, SYSTEM_ADMINS, systemServer } from '../../src/plugins/addons/system.js';
import { systemServerProvider } from '../../src/plugins/addons/system-server-provider.js';
import { hostServerProvider } from '../../src/plugins/host-server-provider.js';
import { plan } from '../../src/reconcile/plan.js';
import { UNKNOWN } from '../../src/lib/unknown.js';
import type { AddonType } from '../../src/plugins/addons/server-process.js';

const dir = mkdtempSync(join(tmpdir(), 'hop3-addsys-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof Hop3Error ? err.code : String(err);
  }
  return null;
};

describe('HOP3_ADDONS: which servers hop3 administers, and as whom', () => {
  it('own (the default): none of the machine\'s, and the ports stay hop3\'s own (0: chosen once)', () => {
    const c = loadConfig({ HOP3_HOME: '/srv/hop3' }, 0);
    expect(c.addonsMode).toBe('own');
    expect(c.addonPorts).toEqual({ postgres: 0, mariadb: 0, redis: 0 });
    for (const t of ['postgres', 'mariadb', 'redis'] as const) expect(systemServer(c, t)).toBeNull();
  });

  it("system: Debian's servers, sockets and admin accounts by default, no password file", () => {
    const c = loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_ADDONS: 'system' }, 0);
    expect(c.addonPorts).toEqual({ postgres: 5432, mariadb: 3306, redis: 6379 });
    const pg = systemServer(c, 'postgres')!;
    const my = systemServer(c, 'mariadb')!;
    const rd = systemServer(c, 'redis')!;
    expect([pg.address, pg.admin, pg.passwordFile, pg.password()]).toEqual(['/var/run/postgresql', 'postgres', null, null]);
    expect([my.address, my.admin, my.passwordFile, my.password()]).toEqual(['/run/mysqld/mysqld.sock', 'root', null, null]);
    expect([rd.address, rd.admin, rd.passwordFile, rd.password()]).toEqual(['127.0.0.1', 'default', null, null]);
  });

  it('system with settings: other ports and sockets; a password file per type, absent ones meaning none', () => {
    const secrets = join(dir, 'admins');
    rmSync(secrets, { recursive: true, force: true });
    writeFileSync(join(dir, 'x'), '');
    const c = loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_ADDONS: 'system', HOP3_POSTGRES_PORT: '15432', HOP3_POSTGRES_SOCKET_DIR: '/tmp/pg',
      HOP3_MARIADB_SOCKET: '/tmp/my.sock', HOP3_REDIS_PORT: '16379', HOP3_ADDONS_ADMIN_SECRETS: secrets }, 0);
    expect(c.addonPorts).toEqual({ postgres: 15432, mariadb: 3306, redis: 16379 });
    expect(systemServer(c, 'postgres')!.address).toBe('/tmp/pg');
    expect(systemServer(c, 'mariadb')!.address).toBe('/tmp/my.sock');
    mkdirSync(secrets, { mode: 0o700 });
    writeFileSync(join(secrets, 'postgres'), 's3cret-with:colons\n', { mode: 0o600 });
    expect(systemServer(c, 'postgres')!.passwordFile).toBe(join(secrets, 'postgres'));
    expect(systemServer(c, 'postgres')!.password()).toBe('s3cret-with:colons');
    expect(systemServer(c, 'redis')!.password()).toBeNull();
  });

  it.each([
    [{ HOP3_ADDONS: 'both' }],
    [{ HOP3_ADDONS: 'system', HOP3_POSTGRES_PORT: '0' }],
    [{ HOP3_ADDONS: 'system', HOP3_POSTGRES_SOCKET_DIR: 'relative/dir' }],
    [{ HOP3_ADDONS: 'system', HOP3_MARIADB_SOCKET: '/run/my sql.sock' }],
    [{ HOP3_ADDONS: 'system', HOP3_ADDONS_ADMIN_SECRETS: '/etc/$(id)' }],
  ])('refuses %o naming the setting', (env) => {
    const key = Object.keys(env).at(-1)!;
    expect(() => loadConfig({ HOP3_HOME: '/srv/hop3', ...env }, 0)).toThrow(new RegExp(key));
    expect(codeOf(() => loadConfig({ HOP3_HOME: '/srv/hop3', ...env }, 0))).toBe('CONFIG_INVALID');
  });

  it('an admin password file others can read, an empty one or one of several lines is refused', () => {
    const f = join(dir, 'pw');
    writeFileSync(f, 'secret\n', { mode: 0o644 });
    chmodSync(f, 0o644);
    expect(codeOf(() => readAdminSecret(f))).toBe('CONFIG_INVALID');
    chmodSync(f, 0o600);
    expect(readAdminSecret(f)).toBe('secret');
    writeFileSync(f, '\n');
    expect(codeOf(() => readAdminSecret(f))).toBe('CONFIG_INVALID');
    writeFileSync(f, 'a\nb\n');
    expect(codeOf(() => readAdminSecret(f))).toBe('CONFIG_INVALID');
    expect(readAdminSecret(join(dir, 'absent'))).toBeNull();
  });
});

/** An exec that records what it is asked to run and runs nothing: system mode must ask it for nothing. */
function recordingExec(calls: string[][]): Exec {
  const refuse = (argv: string[]) => {
    calls.push(argv);
    throw new Error(`ran ${argv.join(' ')}`);
  };
  return { run: async (argv: string[]) => refuse(argv), spawnDetached: (argv: string[]) => refuse(argv) } as unknown as Exec;
}

describe('system mode never starts or stops a server (provider level)', () => {
  // Nothing listens there: the machine's server is "down".
  const home = join(dir, 'home');
  const config = loadConfig({ HOP3_HOME: home, HOP3_ADDONS: 'system', HOP3_POSTGRES_SOCKET_DIR: join(dir, 'no-pg'), HOP3_MARIADB_SOCKET: join(dir, 'no-my.sock'), HOP3_REDIS_PORT: '1' }, 0);
  const calls: string[][] = [];
  const servers = (Object.keys(ADDON_TYPES) as AddonType[]).map((type) => ADDON_TYPES[type]({
    layout: layoutOf(config.home), log: pino({ level: 'silent' }), exec: recordingExec(calls), port: config.addonPorts[type], account: null,
    wanted: () => true, system: systemServer(config, type),
  }).server);

  it.each(servers.map((s) => [s.type, s] as const))('%s: not managed, no pid; observed UNKNOWN when down, so the plan has no action; ensureRunning and stop spawn nothing', async (_t, server) => {
    expect(server.managed()).toBe(false);
    expect(server.pid()).toBeNull();
    // Administered as the machine's admin, with no password where no file is given.
    expect(server.adminLogin()).toEqual({ user: SYSTEM_ADMINS[server.type], password: null });
    expect(server.label).toMatch(/^the machine's /);
    // hop3's own provider would want nothing of it (it is not managed): nothing to start.
    expect(hostServerProvider(server, server.type).host!.desired()).toEqual([]);
    const provider = systemServerProvider(server, server.type);
    const desired = provider.host!.desired();
    expect(desired).toEqual([{ kind: server.resource, name: server.type, spec: { server: server.type } }]);
    const seen = await provider.observe('@host', desired as never);
    expect(seen.get(server.type)).toBe(UNKNOWN);
    const p = plan({ app: '@host', state: 'running', healPolicy: 'heal', settled: true, target: null, health: null, resources: desired }, { resources: new Map([[provider.kind, seen]]) }, [provider]);
    expect(p.actions).toEqual([]);
    expect(p.findings.map((f) => f.kind)).toEqual(['unknown']);
    await expect(server.ensureRunning()).rejects.toMatchObject({ code: 'ADDON_SERVER_DOWN', message: expect.stringMatching(/hop3 does not start it/) });
    await server.stop();
    await expect(provider.apply('create', server.type, desired[0]!.spec as never, null, { owner: '@host', log: pino({ level: 'silent' }) })).rejects.toMatchObject({ code: 'ADDON_SERVER_DOWN' });
    expect(calls).toEqual([]);
  });

  it("the default mode administers hop3's own server as hop3, with the password it made (0600 in secrets/)", () => {
    const own = loadConfig({ HOP3_HOME: join(dir, 'own-home') }, 0);
    const server = ADDON_TYPES.postgres({ layout: layoutOf(own.home), log: pino({ level: 'silent' }), exec: recordingExec(calls), port: 1, account: null, system: systemServer(own, 'postgres') }).server;
    const login = server.adminLogin();
    expect(login.user).toBe('hop3');
    expect(login.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(server.paths.run).toBe(join(dir, 'own-home', 'addons', 'postgres', 'run'));
    expect(server.managed()).toBe(true);
  });

  it('a server that answers is observed live with no diff: a second pass plans nothing', () => {
    const provider = systemServerProvider(servers[0]!, 'postgres');
    expect(provider.diff({ server: 'postgres' }, { answering: true })).toBe('none');
    expect(provider.health!({ answering: true })).toBe('Healthy');
  });

  it('no addon of the type: no host resource, nothing looked at', async () => {
    const server = ADDON_TYPES.redis({ layout: layoutOf(config.home), log: pino({ level: 'silent' }), exec: recordingExec(calls), port: 1, account: null, wanted: () => false, system: systemServer(config, 'redis') }).server;
    const provider = systemServerProvider(server, 'redis');
    expect(provider.host!.desired()).toEqual([]);
    expect((await provider.observe('@host', [])).size).toBe(0);
  });
});
