import { chmodSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';

const DAY = 86_400_000;
const dirs: string[] = [];
const stores: Store[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempStore(): { store: Store; path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'hop3-store-'));
  dirs.push(dir);
  const path = join(dir, 'hop3.db');
  const store = new Store(path);
  stores.push(store);
  return { store, path };
}

const mode = (path: string) => statSync(path).mode & 0o777;

/** `n` output events for `app`, `ageDays` old. */
function addEvents(store: Store, app: string, n: number, ageDays: number): void {
  for (let i = 0; i < n; i++) store.addEvent(app, 'output', { release: 1, phase: 'build', line: `${app} ${i}` });
  store.db.prepare('UPDATE events SET at = ? WHERE app = ?').run(new Date(Date.now() - ageDays * DAY).toISOString(), app);
}

describe('Store.pruneEvents', () => {
  it('deletes events older than the age limit and keeps the rest', () => {
    const { store } = tempStore();
    addEvents(store, 'old', 30, 40);
    addEvents(store, 'new', 20, 1);
    expect(store.pruneEvents(1000, 30)).toBe(30);
    const left = store.listEvents({ limit: 1000 });
    expect(left.map((e) => e.app)).toEqual(Array(20).fill('new'));
  });

  it('keeps only the newest events over the count', () => {
    const { store } = tempStore();
    addEvents(store, 'a', 250, 0);
    expect(store.pruneEvents(100, 90)).toBe(150);
    const left = store.listEvents({ limit: 1000 });
    expect(left).toHaveLength(100);
    expect((left[0]!.data as { line: string }).line).toBe('a 150');
    expect((left.at(-1)!.data as { line: string }).line).toBe('a 249');
  });

  it('writes nothing when there is nothing to prune', () => {
    const { store } = tempStore();
    addEvents(store, 'a', 50, 1);
    const changes = () => store.db.prepare('SELECT total_changes()').pluck().get() as number;
    const before = changes();
    expect(store.pruneEvents(100, 90)).toBe(0);
    expect(store.pruneEvents(50, 2)).toBe(0);
    expect(changes()).toBe(before);
    expect(store.listEvents({ limit: 1000 })).toHaveLength(50);
  });
});

describe('database file modes', () => {
  it('creates the database, its WAL and shared-memory files owner-only', () => {
    const { store, path } = tempStore();
    store.addEvent(null, 'app.destroyed', {}); // a write: the WAL exists now
    for (const f of [path, `${path}-wal`, `${path}-shm`]) expect([f, mode(f)]).toEqual([f, 0o600]);
  });

  it('makes an older, world-readable database owner-only when it opens it', () => {
    // As a killed daemon of an older version leaves them: WAL and shared memory still there.
    const { store, path } = tempStore();
    store.addEvent(null, 'app.destroyed', {});
    for (const f of [path, `${path}-wal`, `${path}-shm`]) chmodSync(f, 0o644);
    stores.push(new Store(path));
    for (const f of [path, `${path}-wal`, `${path}-shm`]) expect([f, mode(f)]).toEqual([f, 0o600]);
  });

  it('fixes an empty world-readable database file before SQLite adds its WAL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hop3-store-'));
    dirs.push(dir);
    const path = join(dir, 'hop3.db');
    writeFileSync(path, '', { mode: 0o644 }); // an empty database file left by an old version
    const store = new Store(path);
    stores.push(store);
    store.addEvent(null, 'app.destroyed', {});
    for (const f of [path, `${path}-wal`, `${path}-shm`]) expect([f, mode(f)]).toEqual([f, 0o600]);
  });
});
