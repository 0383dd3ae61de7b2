import { appendFileSync, mkdtempSync, renameSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generationsOf, lastLines, LogFollower, MAX_LINE_BYTES, tailOfLog } from '../../src/lib/log-files.js';
import { carryStamps, formatLogLine, isoSeconds, mergeByTime, splitStamp, visible } from '../../src/lib/process-log.js';
import { runExitCode } from '../../src/cli/run-output.js';
import { userError } from '../../src/lib/errors.js';

const T = 1_796_170_572_309_390; // 2026-12-02T00:16:12Z, in microseconds

describe('process log lines', () => {
  it('splits the stamp off and turns it into UTC seconds', () => {
    expect(splitStamp(`${T} hello world`)).toEqual({ micros: T, text: 'hello world' });
    expect(isoSeconds(T)).toBe('2026-12-02T00:16:12Z');
    expect(splitStamp('no stamp here')).toEqual({ micros: null, text: 'no stamp here' });
  });

  it('drops the stamp a later write left inside the line (print writes the text, then the newline)', () => {
    expect(splitStamp(`${T} said first${T + 37} `).text).toBe('said first');
    expect(splitStamp(`${T} part${T + 5} rest`).text).toBe('partrest');
    expect(splitStamp(`${T} said m1796170867852${T + 9} `).text).toBe('said m1796170867852');
    // Digits of the app's own are kept: too many, or not a time just after the line's.
    expect(splitStamp(`${T} id 12345678901234567 x`).text).toBe('id 12345678901234567 x');
    expect(splitStamp(`${T} n=1000000000000000 x`).text).toBe('n=1000000000000000 x');
  });

  it('a line without a stamp of its own takes the one before it', () => {
    const lines = carryStamps(['two', `${T} three`, 'four'].map(splitStamp), T - 1);
    expect(lines.map((l) => l.micros)).toEqual([T - 1, T, T]);
  });

  it('shows control characters, escapes and bidi overrides as text; keeps tabs and other Unicode', () => {
    expect(visible('a\u001b[31mred\u0007\r\u009b\u007f\u202e\tok é 日本')).toBe('a\\x1b[31mred\\x07\\x0d\\x9b\\x7f\\u202e\tok é 日本');
  });

  it('merges processes in time order, stably', () => {
    const web = [{ micros: 1, p: 'w1' }, { micros: 5, p: 'w5' }, { micros: 5, p: 'w5b' }];
    const worker = [{ micros: 2, p: 'k2' }, { micros: 5, p: 'k5' }, { micros: 9, p: 'k9' }];
    expect(mergeByTime([web, worker]).map((l) => l.p)).toEqual(['w1', 'k2', 'w5', 'w5b', 'k5', 'k9']);
    expect(formatLogLine({ time: '2026-12-01T10:00:00Z', process: 'web', text: 'hi' })).toBe('2026-12-01T10:00:00Z web: hi');
  });
});

describe('reading the end of a log', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const log = () => {
    dir = mkdtempSync(join(tmpdir(), 'hop3-log-'));
    return join(dir, 'web.log');
  };

  it('reads the last lines backwards within its budget, and the rotated generations when the file holds fewer', () => {
    const path = log();
    writeFileSync(`${path}.100`, 'a1\na2\n');
    writeFileSync(`${path}.200`, 'b1\nb2\n');
    writeFileSync(path, 'c1\nc2\n');
    writeFileSync(join(dir, 'worker.log.300'), 'other\n');
    expect(generationsOf(path)).toEqual([`${path}.200`, `${path}.100`]);
    expect(tailOfLog(path, 3)).toEqual(['b2', 'c1', 'c2']);
    expect(tailOfLog(path, 10)).toEqual(['a1', 'a2', 'b1', 'b2', 'c1', 'c2']);
    // A tiny budget reads only the end: the line begun before it is left out.
    const budget = { bytes: 4 };
    expect(lastLines(path, 5, budget)).toEqual(['c2']);
    expect(budget.bytes).toBe(0);
  });

  it('cuts a huge line, and reads no more of a huge file than its budget', () => {
    const path = log();
    writeFileSync(path, `${'x'.repeat(5_000_000)}\nlast\n`);
    const budget = { bytes: 1_000_000 };
    // The huge line began before what the budget let it read: left out.
    expect(lastLines(path, 2, budget)).toEqual(['last']);
    expect(budget.bytes).toBe(0);
    // A log that is one endless line still shows its end, cut.
    writeFileSync(path, 'x'.repeat(5_000_000));
    const only = lastLines(path, 2, { bytes: 1_000_000 });
    expect(only).toHaveLength(1);
    expect(only[0]!.startsWith('x'.repeat(MAX_LINE_BYTES))).toBe(true);
    expect(only[0]).toContain(`[line cut at ${MAX_LINE_BYTES} bytes]`);
  });

  it('turns invalid UTF-8 into U+FFFD', () => {
    const path = log();
    writeFileSync(path, Buffer.from([0x61, 0xff, 0xfe, 0x62, 0x0a]));
    expect(lastLines(path, 1, { bytes: 1000 })).toEqual(['a\uFFFD\uFFFDb']);
  });

  it('follows from the end: complete lines only, across a rotation and a truncation, cutting an endless line', () => {
    const path = log();
    writeFileSync(path, 'old\n');
    const f = new LogFollower(path);
    expect(f.startedAt).toBe(4);
    expect(f.read()).toEqual([]);
    appendFileSync(path, 'one\ntw');
    expect(f.read()).toEqual(['one']);
    appendFileSync(path, 'o\n');
    expect(f.read()).toEqual(['two']);
    // Rotated: the old file's last lines come first, then the new file's.
    appendFileSync(path, 'three\n');
    renameSync(path, `${path}.1`);
    writeFileSync(path, 'four\n');
    expect(f.read()).toEqual(['three', 'four']);
    // Truncated (copy and truncate): seen when it is shorter than what was read of it.
    truncateSync(path, 0);
    appendFileSync(path, 'v\n');
    expect(f.read()).toEqual(['v']);
    appendFileSync(path, 'z'.repeat(MAX_LINE_BYTES * 3));
    const cut = f.read();
    expect(cut).toHaveLength(1);
    expect(cut[0]).toContain('[line cut at');
    appendFileSync(path, 'zzz\nsix\n');
    expect(f.read()).toEqual(['six']);
    f.close();
  });

  it('reads a flood in bounded steps', () => {
    const path = log();
    writeFileSync(path, '');
    const f = new LogFollower(path);
    appendFileSync(path, 'line\n'.repeat(100_000));
    const first = f.read(64 * 1024);
    expect(first.length).toBeLessThanOrEqual(64 * 1024 / 5);
    let total = first.length;
    for (let i = 0; i < 100 && total < 100_000; i++) total += f.read(64 * 1024).length;
    expect(total).toBe(100_000);
    f.close();
  });

  it('waits for a log that does not exist yet', () => {
    const path = log();
    const f = new LogFollower(path);
    expect(f.read()).toEqual([]);
    writeFileSync(path, 'born\n');
    expect(f.read()).toEqual(['born']);
    f.close();
  });
});

describe('hop3 run exit status', () => {
  const done = (over: object) => ({ app: 'a', release: 'v1', exitCode: 0, signal: null, timedOut: false, ...over });
  it("is the command's, 128 + a signal, 124 on the time limit, 127/126 when it could not start, 125 when hop3 failed", () => {
    expect(runExitCode(done({ exitCode: 3 }), null)).toBe(3);
    expect(runExitCode(done({ exitCode: null, signal: 'SIGTERM' }), null)).toBe(143);
    expect(runExitCode(done({ exitCode: null, signal: 'SIGKILL', timedOut: true }), null)).toBe(124);
    expect(runExitCode(null, userError('RUN_START_FAILED', 'x', { details: { errno: 'ENOENT' } }))).toBe(127);
    expect(runExitCode(null, userError('RUN_START_FAILED', 'x', { details: { errno: 'EACCES' } }))).toBe(126);
    expect(runExitCode(null, userError('APP_NOT_FOUND', 'x'))).toBe(125);
  });
});
