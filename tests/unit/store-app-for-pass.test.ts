import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { assertValidSpec, parseAppSpec } from '../../src/manifest/index.js';
import { Store } from '../../src/store/store.js';

const SPEC = assertValidSpec(parseAppSpec({ 'hop3.toml': '[build]\nbuilder = "static"\n[run]\nstatic = "public"\n' }));
const dirs: string[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempStore(): Store {
  const dir = mkdtempSync(join(tmpdir(), 'hop3-store-'));
  dirs.push(dir);
  const store = new Store(join(dir, 'hop3.db'));
  stores.push(store);
  return store;
}

const release = (store: Store, app: string) =>
  store.createRelease({ app, source: 'rpc', commit: null, spec: SPEC, env: {}, ports: {}, artifact: { kind: 'static', dir: `apps/${app}/releases/x`, metadata: {} } });

describe('Store.getAppForPass', () => {
  it('is the app record with its desired release status, following each change of either', () => {
    const store = tempStore();
    expect(store.getAppForPass('web')).toBeNull();
    store.createApp('web');
    expect(store.getAppForPass('web')).toEqual({ app: store.getApp('web'), desiredStatus: null });

    const v1 = release(store, 'web');
    store.updateDesired('web', { desiredRelease: v1.version });
    expect(store.getAppForPass('web')?.desiredStatus).toBe(v1.status);
    store.markLive('web', v1.version);
    expect(store.getAppForPass('web')?.desiredStatus).toBe('live');

    const v2 = release(store, 'web');
    store.updateDesired('web', { desiredRelease: v2.version });
    store.failRelease('web', v2.version, 'broken');
    const read = store.getAppForPass('web')!;
    expect(read.desiredStatus).toBe('failed');
    expect(read.app).toEqual(store.getApp('web'));
    expect(read.app.desiredRelease).toBe(v2.version);
  });

  it('reads only its own app release (another app with the same version is not it)', () => {
    const store = tempStore();
    store.createApp('a');
    store.createApp('b');
    const a1 = release(store, 'a');
    store.markLive('a', a1.version);
    store.updateDesired('b', { desiredRelease: a1.version });
    expect(store.getAppForPass('b')?.desiredStatus).toBeNull();
  });
});

describe('Store.readAheadForPasses', () => {
  it('gives the rows read ahead until a row changes, then reads again', () => {
    const store = tempStore();
    store.createApp('a');
    store.createApp('b');
    const a1 = release(store, 'a');
    store.updateDesired('a', { desiredRelease: a1.version });
    const first = store.readAheadForPasses();
    expect(store.getAppForPass('a')).toEqual({ app: store.getApp('a'), desiredStatus: a1.status });
    // Any write since the read-ahead: what it changed is seen at once.
    store.markLive('a', a1.version);
    expect(store.getAppForPass('a')?.desiredStatus).toBe('live');
    store.updateDesired('b', { desiredState: 'paused' });
    expect(store.getAppForPass('b')?.app.desiredState).toBe('paused');
    // Read ahead again: an app made since is there, one deleted is gone.
    store.endReadAhead(first);
    store.createApp('c');
    const second = store.readAheadForPasses();
    expect(store.getAppForPass('c')?.app.name).toBe('c');
    expect(store.getAppForPass('nope')).toBeNull();
    store.deleteApp('c');
    expect(store.getAppForPass('c')).toBeNull();
    store.endReadAhead(second);
  });
});
