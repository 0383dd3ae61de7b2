import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseCron } from '../../src/lib/cron.js';
import { createLogger } from '../../src/lib/logger.js';
import type { BackupEntry } from '../../src/plugins/addons/backups/catalogue.js';
import { BackupScheduler } from '../../src/plugins/addons/backups/scheduler.js';
import { dueRun, ScheduleStore } from '../../src/plugins/addons/backups/schedules.js';

const at = (s: string) => new Date(s);

describe('which run a schedule owes (pure)', () => {
  const hourly = parseCron('0 * * * *');
  it('owes nothing before the first due time, and the due time once it passed', () => {
    expect(dueRun(hourly, at('2026-12-01T10:05:00Z'), at('2026-12-01T10:59:59Z'), 60_000)).toBeNull();
    expect(dueRun(hourly, at('2026-12-01T10:05:00Z'), at('2026-12-01T11:00:20Z'), 60_000)).toEqual({ due: at('2026-12-01T11:00:00Z'), missed: false });
  });
  it('owes one run, marked missed, however many due times passed while nothing ran', () => {
    expect(dueRun(hourly, at('2026-12-01T10:05:00Z'), at('2026-12-01T15:30:00Z'), 60_000)).toEqual({ due: at('2026-12-01T15:00:00Z'), missed: true });
    // One due time, but found long after it.
    expect(dueRun(hourly, at('2026-12-01T10:05:00Z'), at('2026-12-01T11:10:00Z'), 60_000)).toEqual({ due: at('2026-12-01T11:00:00Z'), missed: true });
  });
});

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const backupOf = (addon: string, n: number, verified = true): BackupEntry => ({
  id: `20261201T100000000Z-0000000${n}`, addon, type: 'redis', createdAt: '', bytes: 1, files: [], verified, verifiedAt: null, trigger: 'schedule', status: 'ok',
});

describe('the backup scheduler (fake clock)', () => {
  let root: string;
  let store: ScheduleStore;
  let now: Date;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'hop3-sched-'));
    store = new ScheduleStore(join(root, 'backups'));
    now = at('2026-12-01T10:05:00Z');
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  const scheduler = (backup: (addon: string) => Promise<BackupEntry>, pruned: string[] = []) => new BackupScheduler({
    clock: () => now, tickMs: 60_000, graceMs: 60_000, log: createLogger('silent'), schedules: store, backup,
    prune: async (addon, keep) => {
      pruned.push(`${addon}:${keep}`);
      return [];
    },
  });

  it('stores the schedule 0600 and refuses a bad cron or keep without writing anything', () => {
    store.set('blog', '0 * * * *', 3, now);
    expect(statSync(join(root, 'backups', 'blog', 'schedule.json')).mode & 0o777).toBe(0o600);
    expect(() => store.set('shop', '0 * * *', 3, now)).toThrow(/4 fields/);
    expect(() => store.set('shop', '0 * * * *', 0, now)).toThrow(/--keep 0 is not a whole number/);
    expect(store.list()).toEqual(['blog']);
    expect(store.status('blog', now)).toMatchObject({ cron: '0 * * * *', keep: 3, lastRun: null, nextRun: '2026-12-01T11:00:00.000Z', missed: false });
  });

  it('runs a due backup once, then prunes with its keep, and shows the next run', async () => {
    store.set('blog', '0 * * * *', 3, now);
    const runs: string[] = [];
    const pruned: string[] = [];
    const s = scheduler(async (a) => {
      runs.push(a);
      return backupOf(a, runs.length);
    }, pruned);
    await s.tick();
    expect(runs).toEqual([]);
    now = at('2026-12-01T11:00:10Z');
    await s.tick();
    await s.tick();
    expect(runs).toEqual(['blog']);
    expect(pruned).toEqual(['blog:3']);
    expect(store.status('blog', now)).toMatchObject({ lastRun: '2026-12-01T11:00:10.000Z', lastResult: 'verified', lastBackupId: backupOf('blog', 1).id, missed: false, nextRun: '2026-12-01T12:00:00.000Z' });
  });

  it('runs a run missed while it was down once at start, and says it was missed', async () => {
    store.set('blog', '0 * * * *', 3, now);
    now = at('2026-12-01T16:20:00Z');
    const runs: string[] = [];
    const s = scheduler(async (a) => {
      runs.push(a);
      return backupOf(a, runs.length);
    });
    s.start();
    await s.stop();
    expect(runs).toEqual(['blog']);
    await s.tick();
    expect(runs).toEqual(['blog']);
    expect(store.status('blog', now)).toMatchObject({ missed: true, lastResult: 'verified', nextRun: '2026-12-01T17:00:00.000Z' });
  });

  it('never runs two backups of one addon at once', async () => {
    store.set('blog', '* * * * *', 3, now);
    const gate = deferred();
    let concurrent = 0;
    let most = 0;
    let runs = 0;
    const s = scheduler(async (a) => {
      runs++;
      most = Math.max(most, ++concurrent);
      await gate.promise;
      concurrent--;
      return backupOf(a, runs);
    });
    now = at('2026-12-01T10:06:01Z');
    const first = s.tick();
    now = at('2026-12-01T10:07:01Z');
    await s.tick();
    now = at('2026-12-01T10:08:01Z');
    await s.tick();
    expect(runs).toBe(1);
    gate.resolve();
    await first;
    await s.tick();
    expect(runs).toBe(2);
    expect(most).toBe(1);
  });

  it('keeps a failed run\'s error in the status, and clears it after a good run', async () => {
    store.set('blog', '0 * * * *', 3, now);
    let fail = true;
    const s = scheduler(async (a) => {
      if (fail) throw new Error('the postgres server does not answer');
      return backupOf(a, 2, false);
    });
    now = at('2026-12-01T11:00:05Z');
    await s.tick();
    expect(store.status('blog', now)).toMatchObject({ lastResult: 'failed', lastError: 'the postgres server does not answer', lastBackupId: null });
    fail = false;
    now = at('2026-12-01T12:00:05Z');
    await s.tick();
    expect(store.status('blog', now)).toMatchObject({ lastResult: 'unverified', lastError: null });
  });
});
