import { afterEach, describe, expect, it } from 'vitest';
import { addonsAttach, addonsCreate, addonsDestroy, addonsDetach, addonsInfo, maskUrlPassword } from '../../src/commands/addons.js';
import { ADMIN, type Caller } from '../../src/commands/authorize.js';
import { appStatus, configGet } from '../../src/commands/queries.js';
import { assertValidSpec, parseAppSpec } from '../../src/manifest/index.js';
import { newInstanceSpec } from '../../src/plugins/addons/instance-provider.js';
import { codeOf, commandContext, liveApp } from './command-fixtures.js';

const SPEC = assertValidSpec(parseAppSpec({ 'hop3.toml': '[build]\nbuilder = "static"\n[run]\nstatic = "public"\n' }));
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

/** Commands over a real store; the addon record made directly (no server is started here). */
function withAddon() {
  const c = commandContext(cleanups, { HOP3_POSTGRES_PORT: '15432' });
  liveApp(c.store, 'web', SPEC);
  const spec = newInstanceSpec('blog-db');
  c.store.createAddon({ name: 'blog-db', type: 'postgres', credentials: c.ctx.plugins.addons.credentials().seal('pg-database', spec) });
  return { ...c, spec };
}

const tables = (c: ReturnType<typeof withAddon>) => JSON.stringify({
  addons: c.store.db.prepare('SELECT * FROM addons').all(), attachments: c.store.db.prepare('SELECT * FROM attachments').all(),
  releases: c.store.db.prepare('SELECT COUNT(*) AS n FROM releases').get(),
});

describe('addon commands', () => {
  it.each([['x; DROP DATABASE postgres'], ["it's"], ['a'.repeat(200)], ['Blog'], ['template1'], ['']])('refuse the name %j before reading or recording anything', async (name) => {
    const c = withAddon();
    const before = tables(c);
    for (const call of [
      () => addonsCreate(c.ctx, ADMIN, { type: 'postgres', name }),
      () => addonsAttach(c.ctx, ADMIN, { app: 'web', addon: name }),
      () => addonsDetach(c.ctx, ADMIN, { app: 'web', addon: name }),
      () => addonsInfo(c.ctx, ADMIN, { addon: name }),
      () => addonsDestroy(c.ctx, ADMIN, { addon: name, yes: true }),
    ]) expect(await codeOf(call)).toBe('ADDON_NAME_INVALID');
    expect(tables(c)).toBe(before);
    expect(c.triggers).toEqual([]);
  });

  it('ask authorize first', async () => {
    const c = withAddon();
    const stranger = { kind: 'stranger' } as unknown as Caller;
    expect(await codeOf(() => addonsCreate(c.ctx, stranger, { type: 'postgres', name: 'x' }))).toBe('FORBIDDEN');
    expect(await codeOf(() => addonsDestroy(c.ctx, stranger, { addon: 'blog-db', yes: true }))).toBe('FORBIDDEN');
    expect(await codeOf(() => addonsInfo(c.ctx, stranger, { addon: 'blog-db' }))).toBe('FORBIDDEN');
  });

  it('attach records the attachment with a new release; the URL is in no record or event, and config get masks it', async () => {
    const c = withAddon();
    const r = await addonsAttach(c.ctx, ADMIN, { app: 'web', addon: 'blog-db' });
    expect(r).toMatchObject({ app: 'web', addon: 'blog-db', env: 'DATABASE_URL', attached: true, release: 'v2' });
    expect(c.store.attachments({ app: 'web' })).toMatchObject([{ addon: 'blog-db', env: 'DATABASE_URL' }]);
    expect(c.triggers).toContain('@host');
    const login = c.ctx.plugins.addons.openLogin('postgres', c.store.attachments({ app: 'web' })[0]!)!;
    expect(login).toMatchObject({ addon: 'blog-db', user: 'blog-db_web' });
    const dump = JSON.stringify(['releases', 'events', 'addons', 'attachments'].map((t) => c.store.db.prepare(`SELECT * FROM ${t}`).all()));
    for (const secret of [c.spec.password, login.password]) expect(dump).not.toContain(secret);
    // The app's own login, not the addon's role.
    expect(configGet(c.ctx, ADMIN, 'web')).toEqual({ DATABASE_URL: 'postgres://blog-db_web:****@127.0.0.1:15432/blog-db' });
    expect(configGet(c.ctx, ADMIN, 'web', true)).toEqual({ DATABASE_URL: `postgres://blog-db_web:${login.password}@127.0.0.1:15432/blog-db` });
    // Attached again the same way: nothing new.
    expect(await addonsAttach(c.ctx, ADMIN, { app: 'web', addon: 'blog-db' })).not.toHaveProperty('release');
  });

  it('bad input changes nothing: an unknown addon or type, a variable name, a variable taken, a second variable', async () => {
    const c = withAddon();
    await addonsAttach(c.ctx, ADMIN, { app: 'web', addon: 'blog-db' });
    c.store.createAddon({ name: 'other-db', type: 'postgres', credentials: c.ctx.plugins.addons.credentials().seal('pg-database', newInstanceSpec('other-db')) });
    const before = tables(c);
    expect(await codeOf(() => addonsAttach(c.ctx, ADMIN, { app: 'web', addon: 'nope' }))).toBe('ADDON_NOT_FOUND');
    expect(await codeOf(() => addonsCreate(c.ctx, ADMIN, { type: 'oracle', name: 'x' }))).toBe('ADDON_TYPE_UNKNOWN');
    expect(await codeOf(() => addonsCreate(c.ctx, ADMIN, { type: 'redis', name: 'blog-db' }))).toBe('ADDON_EXISTS');
    expect(await codeOf(() => addonsAttach(c.ctx, ADMIN, { app: 'web', addon: 'other-db', as: 'A-B' }))).toBe('ENV_INVALID');
    expect(await codeOf(() => addonsAttach(c.ctx, ADMIN, { app: 'web', addon: 'other-db' }))).toBe('ADDON_ATTACHED');
    expect(await codeOf(() => addonsAttach(c.ctx, ADMIN, { app: 'web', addon: 'blog-db', as: 'PG_URL' }))).toBe('ADDON_ATTACHED');
    expect(await codeOf(() => addonsDetach(c.ctx, ADMIN, { app: 'web', addon: 'other-db' }))).toBe('ADDON_NOT_ATTACHED');
    expect(await codeOf(() => addonsDestroy(c.ctx, ADMIN, { addon: 'blog-db' }))).toBe('CONFIRM');
    expect(await codeOf(() => addonsDestroy(c.ctx, ADMIN, { addon: 'blog-db', yes: true }))).toBe('ADDON_ATTACHED');
    expect(tables(c)).toBe(before);
  });

  it('a detach leaves its login as a tombstone (sealed), which a re-attach removes and the app\'s destroy keeps', () => {
    const c = withAddon();
    const sealed = c.ctx.plugins.addons.sealLogin('postgres', 'blog-db', 'web');
    c.store.attach('blog-db', 'web', 'DATABASE_URL', sealed);
    expect(c.store.loginTombstones()).toEqual([]);
    const id = c.store.detach('blog-db', 'web');
    expect(c.store.attachments({ app: 'web' })).toEqual([]);
    expect(c.store.loginTombstones({ app: 'web' })).toMatchObject([{ id, addon: 'blog-db', type: 'postgres', app: 'web', credentials: sealed }]);
    // Attached again before the drop: the login is desired again, no tombstone may drop it.
    c.store.attach('blog-db', 'web', 'DATABASE_URL', c.ctx.plugins.addons.sealLogin('postgres', 'blog-db', 'web'));
    expect(c.store.loginTombstones()).toEqual([]);
    const again = c.store.detach('blog-db', 'web')!;
    expect(again).not.toBe(id);
    // The app's record goes; its tombstone stays for the passes of its (recordless) owner.
    c.store.deleteApp('web');
    expect(c.store.loginTombstones({ app: 'web' })).toMatchObject([{ id: again }]);
    c.store.forgetLoginTombstone(id!);
    expect(c.store.loginTombstones()).toHaveLength(1);
    c.store.forgetLoginTombstone(again);
    expect(c.store.loginTombstones()).toEqual([]);
    // An attachment recorded before apps had their own logins leaves none.
    liveApp(c.store, 'old', SPEC);
    c.store.db.prepare("INSERT INTO attachments (addon, app, env, credentials, created_at) VALUES ('blog-db', 'old', 'DATABASE_URL', NULL, '')").run();
    expect(c.store.detach('blog-db', 'old')).toBeNull();
    expect(c.store.loginTombstones()).toEqual([]);
  });

  it('masks only the password of a URL', () => {
    expect(maskUrlPassword('redis://cache:s3cr3t-_x@127.0.0.1:6379/0')).toBe('redis://cache:****@127.0.0.1:6379/0');
    expect(maskUrlPassword('postgres://127.0.0.1/x')).toBe('postgres://127.0.0.1/x');
  });
});

describe('hop3 status shows the app\'s backup schedules', () => {
  it('a failed, unverified or missed last run of an attached addon\'s (or the app\'s own) schedule is its problem; another app\'s is not shown', async () => {
    const c = withAddon();
    await addonsAttach(c.ctx, ADMIN, { app: 'web', addon: 'blog-db' });
    liveApp(c.store, 'other', SPEC);
    const schedules = c.ctx.backups.schedules;
    const now = new Date();
    expect(appStatus(c.ctx, ADMIN, 'web').backups).toEqual([]);
    schedules.set('blog-db', '0 3 * * *', 7, now);
    schedules.set('_app-web', '0 4 * * *', 3, now);
    schedules.set('_app-other', '0 5 * * *', 3, now);
    const run = { lastDue: now.toISOString(), lastRun: now.toISOString(), lastBackupId: null };
    schedules.writeRun('blog-db', { ...run, lastResult: 'failed', lastError: "hop3's postgres server cannot be reached", missed: false });
    expect(appStatus(c.ctx, ADMIN, 'web').backups).toMatchObject([
      { name: 'web', cron: '0 4 * * *', lastRun: null, problem: null },
      { name: 'blog-db', cron: '0 3 * * *', lastResult: 'failed', lastError: "hop3's postgres server cannot be reached", problem: 'failed' },
    ]);
    schedules.writeRun('blog-db', { ...run, lastResult: 'verified', lastError: null, missed: true });
    expect(appStatus(c.ctx, ADMIN, 'web').backups[1]).toMatchObject({ lastResult: 'verified', missed: true, problem: 'missed' });
    schedules.writeRun('blog-db', { ...run, lastResult: 'unverified', lastError: 'the scratch restore lost a table', missed: false });
    expect(appStatus(c.ctx, ADMIN, 'web').backups[1]).toMatchObject({ problem: 'unverified' });
    schedules.writeRun('blog-db', { ...run, lastResult: 'verified', lastError: null, missed: false });
    expect(appStatus(c.ctx, ADMIN, 'web').backups[1]).toMatchObject({ problem: null });
    expect(appStatus(c.ctx, ADMIN, 'other').backups).toMatchObject([{ name: 'other' }]);
  });
});
