import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN, type Caller } from '../../src/commands/authorize.js';
import { listCerts, renewCert } from '../../src/commands/certs.js';
import { configSet, configUnset } from '../../src/commands/config.js';
import type { CommandContext } from '../../src/commands/context.js';
import { deploy } from '../../src/commands/deploy.js';
import { destroy } from '../../src/commands/destroy.js';
import { gitPrepare } from '../../src/commands/git.js';
import { pause, restart, resume, start, stop } from '../../src/commands/lifecycle.js';
import { reconcileNow } from '../../src/commands/reconcile-now.js';
import { cancel, rollback } from '../../src/commands/releases.js';
import { appStatus, configGet, gitInfo, listReleases } from '../../src/commands/queries.js';
import { configure } from '../../src/commands/settings.js';
import { repoPath } from '../../src/git/repo.js';
import { codeOf, commandContext, liveApp as liveAppOf } from './command-fixtures.js';
import { PROJECT_ROOT } from '../../src/lib/paths.js';
import { assertValidSpec, parseAppSpec } from '../../src/manifest/index.js';
import { Store } from '../../src/store/store.js';
import { addonsAttach, addonsDetach, addonsList } from '../../src/commands/addons.js';

const COMMANDS_DIR = join(PROJECT_ROOT, 'src', 'commands');
const SPEC = assertValidSpec(parseAppSpec({ 'hop3.toml': '[build]\nbuilder = "static"\n[run]\nstatic = "public"\n' }));

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0).reverse()) c();
});

const context = () => commandContext(cleanups);

/** An app whose v1 is built and live, desired `state`. */
const liveApp = (store: Store, name: string, state: 'running' | 'stopped' = 'running') => liveAppOf(store, name, SPEC, state);

/** What a command may change: the app's records, its releases, its env and the event log. */
const snapshot = (store: Store) => JSON.stringify({
  apps: store.db.prepare('SELECT * FROM apps').all(),
  releases: store.db.prepare('SELECT * FROM releases').all(),
  env: store.db.prepare('SELECT * FROM env').all(),
  events: store.db.prepare('SELECT COUNT(*) AS n FROM events').get(),
});

describe('lifecycle commands', () => {
  it('record the desired state with a new generation, then trigger a pass', async () => {
    const { ctx, store, triggers } = context();
    const before = liveApp(store, 'web', 'stopped');
    const status = await start(ctx, ADMIN, { app: 'web' });
    const after = store.getApp('web')!;
    expect(after.desiredState).toBe('running');
    expect(after.generation).toBe(before.generation + 1);
    expect(triggers).toEqual(['web']);
    expect(status).toMatchObject({ name: 'web', desiredState: 'running', release: 'v1' });

    await restart(ctx, ADMIN, { app: 'web' });
    expect(store.getApp('web')!.restartCount).toBe(before.restartCount + 1);
    await pause(ctx, ADMIN, { app: 'web', detach: true });
    expect(store.getApp('web')!.desiredState).toBe('paused');
    await resume(ctx, ADMIN, { app: 'web' });
    await stop(ctx, ADMIN, { app: 'web' });
    expect(store.getApp('web')!).toMatchObject({ desiredState: 'stopped', generation: before.generation + 5 });
  });

  it('refuse what the app cannot do, and record nothing', async () => {
    const { ctx, store, triggers } = context();
    liveApp(store, 'web', 'stopped');
    const before = snapshot(store);
    expect(await codeOf(() => pause(ctx, ADMIN, { app: 'web' }))).toBe('APP_NOT_RUNNING');
    expect(await codeOf(() => resume(ctx, ADMIN, { app: 'web' }))).toBe('APP_NOT_PAUSED');
    expect(await codeOf(() => start(ctx, ADMIN, { app: 'nope' }))).toBe('APP_NOT_FOUND');
    expect(snapshot(store)).toBe(before);
    expect(triggers).toEqual([]);
  });
});

describe('config and release commands', () => {
  it('config set records the env and a release from the same build in one step; a stopped app only records it', async () => {
    const { ctx, store } = context();
    liveApp(store, 'web', 'stopped');
    const r = await configSet(ctx, ADMIN, { app: 'web', values: { GREETING: 'hi' } });
    expect(r).toMatchObject({ app: 'web', release: 'v2', desiredState: 'stopped' });
    const v2 = store.getRelease('web', 2)!;
    expect(v2).toMatchObject({ source: 'config', status: 'built', env: { GREETING: 'hi' } });
    expect(v2.artifact).toEqual(store.getRelease('web', 1)!.artifact);
    expect(store.getEnv('web')).toEqual({ GREETING: 'hi' });
    expect(store.getApp('web')!.desiredRelease).toBe(2);

    // A repeat of the call with its request id answers with the release the first one made.
    const first = await configUnset(ctx, ADMIN, { app: 'web', keys: ['GREETING'], requestId: 'req-000001' });
    const again = await configUnset(ctx, ADMIN, { app: 'web', keys: ['GREETING'], requestId: 'req-000001' });
    expect(first).toMatchObject({ release: 'v3' });
    expect(again).toEqual(first);
    expect(store.listReleases('web')).toHaveLength(3);
  });

  it('config set on an app with no build records only the env', async () => {
    const { ctx, store } = context();
    store.createApp('fresh');
    expect(await configSet(ctx, ADMIN, { app: 'fresh', values: { A: '1' } })).toEqual({ app: 'fresh' });
    expect(store.getEnv('fresh')).toEqual({ A: '1' });
    expect(store.listReleases('fresh')).toEqual([]);
  });

  it('rollback and cancel name what is wrong, and change nothing', async () => {
    const { ctx, store } = context();
    liveApp(store, 'web', 'stopped');
    const before = snapshot(store);
    expect(await codeOf(() => rollback(ctx, ADMIN, { app: 'web' }))).toBe('ROLLBACK_NO_TARGET');
    expect(await codeOf(() => rollback(ctx, ADMIN, { app: 'web', version: 7 }))).toBe('ROLLBACK_NO_TARGET');
    // v1's build directory was never written: there is nothing to roll back to.
    expect(await codeOf(() => rollback(ctx, ADMIN, { app: 'web', version: 1 }))).toBe('ROLLBACK_NO_ARTIFACT');
    expect(await codeOf(() => cancel(ctx, ADMIN, { app: 'web' }))).toBe('NOTHING_TO_CANCEL');
    expect(snapshot(store)).toBe(before);
  });
});

/** Every command, called by `caller` on `app`. */
const everyCommand = (caller: Caller, app: string): [string, (ctx: CommandContext) => unknown][] => [
  ['deploy', (ctx) => deploy(ctx, caller, { app, archive: '' })],
  ['configure', (ctx) => configure(ctx, caller, { app, healPolicy: 'report' })],
  ['start', (ctx) => start(ctx, caller, { app })],
  ['stop', (ctx) => stop(ctx, caller, { app })],
  ['restart', (ctx) => restart(ctx, caller, { app })],
  ['pause', (ctx) => pause(ctx, caller, { app })],
  ['resume', (ctx) => resume(ctx, caller, { app })],
  ['destroy', (ctx) => destroy(ctx, caller, { app })],
  ['rollback', (ctx) => rollback(ctx, caller, { app, version: 1 })],
  ['cancel', (ctx) => cancel(ctx, caller, { app, version: 1 })],
  ['config set', (ctx) => configSet(ctx, caller, { app, values: { A: '1' } })],
  ['config unset', (ctx) => configUnset(ctx, caller, { app, keys: ['A'] })],
  ['git prepare', (ctx) => gitPrepare(ctx, caller, { app })],
  ['reconcile', (ctx) => reconcileNow(ctx, caller, { app })],
  ['status', (ctx) => appStatus(ctx, caller, app)],
  ['releases', (ctx) => listReleases(ctx, caller, app)],
  ['config get', (ctx) => configGet(ctx, caller, app)],
  ['git info', (ctx) => gitInfo(ctx, caller, app)],
  ['certs', (ctx) => listCerts(ctx, caller, { app })],
  ['certs renew', (ctx) => renewCert(ctx, caller, { app })],
  ['addons attach', (ctx) => addonsAttach(ctx, caller, { app, addon: 'blog-db' })],
  ['addons detach', (ctx) => addonsDetach(ctx, caller, { app, addon: 'blog-db' })],
  ['addons', (ctx) => addonsList(ctx, caller, { app })],
];

/** Runs `call` on a running app and checks it fails with `code` having changed nothing. */
async function refusedUntouched(call: (ctx: CommandContext) => unknown, code: string) {
  const { ctx, store, triggers } = context();
  liveApp(store, 'web');
  const before = snapshot(store);
  expect(await codeOf(() => call(ctx))).toBe(code);
  expect(snapshot(store)).toBe(before);
  expect(triggers).toEqual([]);
  expect(existsSync(repoPath(ctx.layout, 'web'))).toBe(false);
}

describe('every command authorizes its caller before it reads or records anything', () => {
  // A caller no role allows: each command must ask authorize() and stop there.
  const stranger = { kind: 'stranger' } as unknown as Caller;
  it.each(everyCommand(stranger, 'web'))('%s', (_name, call) => refusedUntouched(call, 'FORBIDDEN'));
});

describe('every command checks the app name itself, not only the RPC schema', () => {
  it.each(everyCommand(ADMIN, '../web'))('%s', (_name, call) => refusedUntouched(call, 'APP_NAME_INVALID'));
});

const TOOLS = /nginx|caddy|uwsgi|emperor|vassal|postgres|mariadb|mysql|redis/i;

describe('the command layer', () => {
  const sources = readdirSync(COMMANDS_DIR).map((f) => [f, readFileSync(join(COMMANDS_DIR, f), 'utf8')] as const);

  it('names no tool that runs the apps', () => {
    expect(sources.length).toBeGreaterThan(5);
    expect(sources.filter(([, s]) => TOOLS.test(s)).map(([f]) => f)).toEqual([]);
  });

  // The core knows resources, providers and phases only; tools live in plugin folders.
  it.each(['reconcile', 'server', 'commands'])('src/%s names no tool, comments included', (dir) => {
    const files = readdirSync(join(PROJECT_ROOT, 'src', dir)).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(3);
    const named = files.flatMap((f) => readFileSync(join(PROJECT_ROOT, 'src', dir, f), 'utf8').split('\n')
      .flatMap((line, i) => (TOOLS.test(line) ? [`${dir}/${f}:${i + 1}: ${line.trim()}`] : [])));
    expect(named).toEqual([]);
  });

  it('is what RPC calls: rpc.ts edits no record itself', () => {
    const rpc = readFileSync(join(PROJECT_ROOT, 'src', 'server', 'rpc.ts'), 'utf8');
    expect(rpc).not.toMatch(/\.store\b|\.reconciler\b|deployLocks/);
  });
});
