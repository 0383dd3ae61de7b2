import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createExec } from '../../src/lib/exec.js';

const { run } = createExec();
import { recordGroup, stopRecordedGroup } from '../../src/lib/process-group.js';
import { startTimeOf } from '../../src/lib/procfs.js';

const dir = mkdtempSync(join(tmpdir(), 'hop3-pgroup-'));
const alive = (pid: number) => {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};
/** Resolves once `file` exists: the script under test has set its traps. */
const ready = async (file: string) => {
  for (let i = 0; i < 200 && !existsSync(file); i++) await new Promise((r) => setTimeout(r, 25));
  expect(existsSync(file)).toBe(true);
};
/** A shell in a group of its own, as a daemon that was killed leaves it: not our child to wait for. */
const group = (script: string) => {
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
  child.unref();
  return child.pid!;
};

describe('recorded process groups', () => {
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('stops a recorded group with SIGTERM first (its trap runs), and waits until it is gone', async () => {
    const file = join(dir, 'a.pgid');
    const mark = join(dir, 'a.mark');
    const pgid = group(`trap 'echo trapped > ${mark}; exit 143' TERM; touch ${mark}.ready; sleep 30 & wait $!`);
    await ready(`${mark}.ready`);
    recordGroup(file, pgid, 'test');
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ pgid, startTime: startTimeOf(pgid) });
    expect(await stopRecordedGroup(file, 5000)).toMatchObject({ pgid });
    expect(alive(pgid)).toBe(false);
    expect(readFileSync(mark, 'utf8')).toBe('trapped\n');
    expect(existsSync(file)).toBe(false);
  });

  it('kills what ignores SIGTERM once the grace is over', async () => {
    const file = join(dir, 'b.pgid');
    const pgid = group(`trap '' TERM; touch ${file}.ready; sleep 30 & wait $!; sleep 30`);
    await ready(`${file}.ready`);
    recordGroup(file, pgid, 'test');
    const t0 = Date.now();
    await stopRecordedGroup(file, 300);
    expect(alive(pgid)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('never signals a process whose pid was recycled (another start time)', async () => {
    const file = join(dir, 'c.pgid');
    const pgid = group('sleep 30');
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(file, JSON.stringify({ pgid, startTime: '1', what: 'an older process with the same pid' }));
    expect(await stopRecordedGroup(file, 300)).toBeNull();
    expect(alive(pgid)).toBe(true);
    expect(existsSync(file)).toBe(false);
    process.kill(-pgid, 'SIGKILL');
  });

  it('a cancelled command gets SIGTERM as a whole group, so a trap in a child shell still runs', async () => {
    const mark = join(dir, 'd.mark');
    const ac = new AbortController();
    let pid = 0;
    const cmd = run(['/bin/sh', '-c', `sh -c "trap 'echo trapped > ${mark}; exit 143' TERM; touch ${mark}.ready; sleep 30 & wait \\$!"`], {
      killGroup: true, signal: ac.signal, onSpawn: (p) => (pid = p),
    });
    await ready(`${mark}.ready`);
    expect(pid).toBeGreaterThan(0);
    ac.abort();
    await expect(cmd).rejects.toThrow('was cancelled');
    expect(readFileSync(mark, 'utf8')).toBe('trapped\n');
  });
});
