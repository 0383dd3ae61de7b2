import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createExec } from '../../src/lib/exec.js';
import { createLogger } from '../../src/lib/logger.js';
import { recordGroup, stopGroup } from '../../src/lib/process-group.js';
import { entryFiles, renderEntry, type CronEntry } from '../../src/plugins/schedulers/cron/entry-files.js';
import { CronScheduler, readLastRun, type CronRan } from '../../src/plugins/schedulers/cron/scheduler.js';
import { sleep } from './harness.js';

/**
 * The scheduler against real processes (/bin/sh, sleep, process groups), with a clock the test
 * moves a minute at a time so that minutes come faster than a run ends.
 */
const root = mkdtempSync(join(tmpdir(), 'hop3-cron-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
function setup(command: string, opts: { timeoutMs?: number; env?: Record<string, string> } = {}) {
  const base = join(root, `t${++n}`);
  const dir = join(base, 'cron');
  const cwd = join(base, 'release', 'src');
  mkdirSync(dir, { recursive: true });
  mkdirSync(cwd, { recursive: true });
  const entry: CronEntry = {
    app: 'blog', process: 'cron', release: 1, schedule: '* * * * *', command, cwd,
    env: { PATH: '/usr/bin:/bin', HOME: join(base, 'data'), HOP3_APP: 'blog', ...opts.env },
  };
  const files = entryFiles(dir, 'blog.cron');
  writeFileSync(files.entry, renderEntry(entry), { mode: 0o600 });
  let now = Date.parse('2026-12-01T10:00:30Z');
  const events: CronRan['data'][] = [];
  const make = () => new CronScheduler({
    dir, exec: createExec(), log: createLogger('silent'), clock: () => new Date(now), timeoutMs: opts.timeoutMs ?? 60_000,
    record: (app, e) => {
      expect(app).toBe('blog');
      events.push(e.data);
    },
  });
  /** The next minute comes: the scheduler looks. */
  const minute = (s: CronScheduler) => {
    now += 60_000;
    s.tick();
  };
  return { base, cwd, files, events, make, minute };
}

/** [start, end] pairs (ns) from the lines a job wrote. */
function intervals(file: string): Array<[number, number]> {
  const lines = existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [];
  const out: Array<[number, number]> = [];
  for (const l of lines) {
    const [what, t] = l.split(' ');
    if (what === 'start') out.push([Number(t), NaN]);
    else if (what === 'end') out.at(-1)![1] = Number(t);
  }
  return out;
}

/**
 * What a killed daemon leaves mid-run: a live process group (a shell and its backgrounded child),
 * recorded, and the last-run record it wrote at the start (10:00, a minute before the test clock).
 */
function leftBehind(t: ReturnType<typeof setup>) {
  const leftover = spawn('/bin/sh', ['-c', 'sleep 300 & wait'], { detached: true, stdio: 'ignore' });
  recordGroup(t.files.pgid, leftover.pid!, 'cron run of blog.cron');
  const startedAt = new Date(Date.parse('2026-12-01T10:00:00Z')).toISOString();
  writeFileSync(t.files.last, `${JSON.stringify({ due: startedAt, release: 1, startedAt, endedAt: null, outcome: null, exitCode: null })}\n`);
  /** No member of the group runs (its shell is a zombie until this process reaps it). */
  const gone = () => execFileSync('sh', ['-c', `ps -o stat= -s ${leftover.pid} || true`]).toString().trim().split('\n').filter((st) => st && !st.startsWith('Z')).length === 0;
  return { pid: leftover.pid!, startedAt, gone, stop: () => stopGroup(leftover.pid!, 1000) };
}

const STAMPED = 'echo "start $(date +%s%N)" >> stamps; sleep 1.5; echo "end $(date +%s%N)" >> stamps';

describe('cron scheduler', () => {
  it('runs an entry due every minute, never two runs at once: minutes that come while one runs are skipped', async () => {
    const t = setup(STAMPED);
    const s = t.make();
    for (let i = 0; i < 12; i++) {
      t.minute(s);
      await sleep(400);
    }
    await s.idle();
    const runs = intervals(join(t.cwd, 'stamps'));
    expect(runs.length).toBeGreaterThanOrEqual(2);
    // Twelve minutes came; a run outlasts several of them, so some were skipped.
    expect(runs.length).toBeLessThan(12);
    for (const [start, end] of runs) expect(end).toBeGreaterThan(start);
    for (let i = 1; i < runs.length; i++) expect(runs[i]![0], `run ${i + 1} started before run ${i} ended`).toBeGreaterThan(runs[i - 1]![1]);
    expect(t.events.map((e) => e.outcome)).toEqual(runs.map(() => 'succeeded'));
    expect(t.events.every((e) => e.exitCode === 0 && e.release === 1 && e.schedule === '* * * * *')).toBe(true);
    expect(readLastRun(t.files.last)).toMatchObject({ outcome: 'succeeded', exitCode: 0 });
    expect(existsSync(t.files.pgid)).toBe(false);
  }, 60_000);

  it('a minute runs once, even when the scheduler looks many times within it or a new one starts in it', async () => {
    const t = setup('echo "start $(date +%s%N)" >> stamps');
    const s = t.make();
    t.minute(s);
    for (let i = 0; i < 5; i++) s.tick();
    await s.idle();
    // A daemon started within the same minute reads the minute the last run was for.
    const again = t.make();
    again.tick();
    await again.idle();
    expect(intervals(join(t.cwd, 'stamps'))).toHaveLength(1);
  });

  it('after a restart, a run still under way (started by the daemon before) is found by its group and not started twice', async () => {
    // Its clock moves a minute a look: a time limit of minutes keeps the first run from being past it.
    const t = setup(STAMPED.replace('sleep 1.5', 'sleep 3'), { timeoutMs: 600_000 });
    const before = t.make();
    t.minute(before);
    await sleep(500);
    expect(existsSync(t.files.pgid)).toBe(true);
    // A new daemon (nothing in memory) while the first one's run still goes.
    const after = t.make();
    t.minute(after);
    await sleep(200);
    expect(after.inFlight('blog.cron')).toBe(true);
    await before.idle();
    await after.idle();
    expect(intervals(join(t.cwd, 'stamps'))).toHaveLength(1);
    t.minute(after);
    await after.idle();
    expect(intervals(join(t.cwd, 'stamps'))).toHaveLength(2);
  }, 30_000);

  it('a run left by a daemon that was killed: none starts beside it, and once it ends it is recorded as unobserved', async () => {
    const t = setup('echo "start $(date +%s%N)" >> stamps');
    // What a killed daemon leaves: a live process group, recorded.
    const leftover = spawn('/bin/sh', ['-c', 'sleep 30'], { detached: true, stdio: 'ignore' });
    recordGroup(t.files.pgid, leftover.pid!, 'cron run of blog.cron');
    const s = t.make();
    try {
      t.minute(s);
      await s.idle();
      expect(intervals(join(t.cwd, 'stamps'))).toHaveLength(0);
      expect(t.events).toEqual([]);
    } finally {
      await stopGroup(leftover.pid!, 1000);
    }
    t.minute(s);
    await s.idle();
    expect(t.events.map((e) => e.outcome)).toEqual(['unobserved', 'succeeded']);
    expect(intervals(join(t.cwd, 'stamps'))).toHaveLength(1);
  }, 30_000);

  it('a run left by a daemon that was killed is held to the time limit: stopped with its group once past it, and recorded as timed out', async () => {
    const t = setup('echo "start $(date +%s%N)" >> stamps', { timeoutMs: 120_000 });
    const run = leftBehind(t);
    try {
      const s = t.make();
      t.minute(s); // 10:01:30, 90 s after its start: not yet past the limit
      await s.idle();
      expect(run.gone()).toBe(false);
      expect(t.events).toEqual([]);
      t.minute(s); // 10:02:30: past it
      await s.idle();
      expect(t.events).toMatchObject([{ outcome: 'timed-out', startedAt: run.startedAt, seconds: 150 }]);
      expect(readLastRun(t.files.last)).toMatchObject({ outcome: 'timed-out', endedAt: '2026-12-01T10:02:30.000Z' });
      expect(existsSync(t.files.pgid)).toBe(false);
      expect(run.gone()).toBe(true); // the whole group, the backgrounded sleep too
      // Nothing ran beside it; the next minute runs as usual.
      expect(intervals(join(t.cwd, 'stamps'))).toHaveLength(0);
      t.minute(s);
      await s.idle();
      expect(t.events.map((e) => e.outcome)).toEqual(['timed-out', 'succeeded']);
    } finally {
      await run.stop();
    }
  }, 30_000);

  it('a run left behind whose recorded start is in the future (a clock set back) is timed from when it was found', async () => {
    const t = setup('true', { timeoutMs: 120_000 });
    const run = leftBehind(t);
    try {
      const future = '2027-06-01T00:00:00.000Z';
      writeFileSync(t.files.last, `${JSON.stringify({ due: future, release: 1, startedAt: future, endedAt: null, outcome: null, exitCode: null })}\n`);
      const s = t.make();
      t.minute(s); // 10:01:30: found
      t.minute(s); // 10:02:30: 60 s since
      await s.idle();
      expect(run.gone()).toBe(false);
      t.minute(s); // 10:03:30: 120 s since
      await s.idle();
      expect(run.gone()).toBe(true);
      expect(t.events).toMatchObject([{ outcome: 'timed-out', startedAt: '2026-12-01T10:01:30.000Z' }]);
    } finally {
      await run.stop();
    }
  }, 30_000);

  it('a run left behind whose entry was removed since is stopped at the time limit too', async () => {
    const t = setup('true', { timeoutMs: 120_000 });
    const run = leftBehind(t);
    try {
      rmSync(t.files.entry);
      const s = t.make();
      t.minute(s);
      await s.idle();
      expect(run.gone()).toBe(false);
      t.minute(s);
      await s.idle();
      expect(run.gone()).toBe(true);
      expect(existsSync(t.files.pgid)).toBe(false);
    } finally {
      await run.stop();
    }
  }, 30_000);

  it('a run gets the entry\'s environment and directory only, nothing of the daemon\'s', async () => {
    process.env.HOP3_TEST_DAEMON_SECRET = 'must-not-leak';
    try {
      const t = setup('env > env.txt; pwd > pwd.txt', { env: { SECRET_KEY: 's3cret' } });
      const s = t.make();
      t.minute(s);
      await s.idle();
      const env = Object.fromEntries(readFileSync(join(t.cwd, 'env.txt'), 'utf8').trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
      // What /bin/sh itself sets (PWD, SHLVL, _) and the entry's own, nothing more.
      expect(Object.keys(env).filter((k) => !['PWD', 'SHLVL', '_', 'OLDPWD'].includes(k)).sort()).toEqual(['HOME', 'HOP3_APP', 'PATH', 'SECRET_KEY']);
      expect(env.SECRET_KEY).toBe('s3cret');
      expect(readFileSync(join(t.cwd, 'pwd.txt'), 'utf8').trim()).toBe(t.cwd);
      // Its HOME is made for it, owner-only.
      expect(existsSync(join(t.base, 'data'))).toBe(true);
    } finally {
      delete process.env.HOP3_TEST_DAEMON_SECRET;
    }
  });

  it('output is bounded and made printable; a failing run records its exit status', async () => {
    const t = setup("seq 1 5000; printf 'bad\\033]0;title\\007\\n'; exit 3");
    const s = t.make();
    t.minute(s);
    await s.idle();
    const [e] = t.events;
    expect(e).toMatchObject({ outcome: 'failed', exitCode: 3 });
    expect(e!.output).toHaveLength(100);
    expect(e!.output.at(-1)).toBe('bad\uFFFD]0;title\uFFFD');
    expect(e!.output.at(-2)).toBe('5000');
    expect(e!.dropped).toBe(4901);
  });

  it('a run past its time limit is stopped with everything it started', async () => {
    const t = setup('sleep 60 & echo $! > bg.pid; wait', { timeoutMs: 1000 });
    const s = t.make();
    t.minute(s);
    await s.idle();
    expect(t.events.map((e) => [e.outcome, e.exitCode])).toEqual([['timed-out', null]]);
    const bg = Number(readFileSync(join(t.cwd, 'bg.pid'), 'utf8'));
    await sleep(200);
    const state = existsSync(`/proc/${bg}/stat`) ? readFileSync(`/proc/${bg}/stat`, 'utf8').split(') ')[1]?.[0] : 'gone';
    expect(['gone', 'Z']).toContain(state);
  }, 30_000);

  it('stop() stops a run under way and records it as stopped', async () => {
    const t = setup('sleep 60');
    const s = t.make();
    t.minute(s);
    await sleep(300);
    await s.stop();
    expect(t.events.map((e) => e.outcome)).toEqual(['stopped']);
    expect(existsSync(t.files.pgid)).toBe(false);
  }, 30_000);

  it('an entry file hop3 did not write is not run', async () => {
    const t = setup('echo ran > ran.txt');
    writeFileSync(t.files.entry, '{"command": "echo ran > /tmp/x"}');
    const s = t.make();
    t.minute(s);
    await s.idle();
    expect(t.events).toEqual([]);
    expect(existsSync(join(t.cwd, 'ran.txt'))).toBe(false);
  });
});
