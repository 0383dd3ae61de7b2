import { describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { childEnv, ExecError, ExecInputError, createExec } from '../../src/lib/exec.js';

const { run, runPiped, runFed } = createExec();

describe('run', () => {
  it('returns when a shell command exits even if it left a background process, and kills that process', async () => {
    const marker = `hop3-bg-${process.pid}-${Date.now()}`;
    const start = Date.now();
    const r = await run(['/bin/sh', '-c', `exec -a ${marker} sleep 30 & echo started`], { killGroup: true, timeoutMs: 10_000 });
    expect(r.stdout).toBe('started');
    expect(Date.now() - start).toBeLessThan(5000);
    const left = await run(['pgrep', '-f', marker]).then(() => true, () => false);
    expect(left).toBe(false);
  });

  it('reports a failing command with its exit code and output', async () => {
    const err = await run(['/bin/sh', '-c', 'echo oops >&2; exit 3']).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecError);
    expect((err as ExecError).exitCode).toBe(3);
    expect((err as ExecError).output).toContain('oops');
  });

  it('passes only the allowlisted variables of the daemon, plus what the call gives', async () => {
    process.env.SOME_DAEMON_SECRET = 'leak-me';
    process.env.HOP3_TOKEN = 'leak-me-too';
    process.env.LC_TIME = 'C.UTF-8';
    try {
      const env = JSON.parse((await run(['/usr/bin/python3', '-c', 'import json, os; print(json.dumps(dict(os.environ)))'], { env: { GIVEN: '1' } })).stdout) as Record<string, string>;
      expect(env.SOME_DAEMON_SECRET).toBeUndefined();
      expect(env.HOP3_TOKEN).toBeUndefined();
      expect(env.GIVEN).toBe('1');
      expect(env.PATH).toBe(process.env.PATH);
      expect(env.LC_TIME).toBe('C.UTF-8');
      const clean = JSON.parse((await run(['/usr/bin/python3', '-c', 'import json, os; print(json.dumps(dict(os.environ)))'], { env: { ONLY: 'x' }, cleanEnv: true })).stdout) as Record<string, string>;
      expect(Object.keys(clean).filter((k) => k !== 'LC_CTYPE')).toEqual(['ONLY']);
    } finally {
      delete process.env.SOME_DAEMON_SECRET;
      delete process.env.HOP3_TOKEN;
      delete process.env.LC_TIME;
    }
  });

  it('childEnv keeps PATH, HOME, LANG, LC_*, TZ and TMPDIR only', () => {
    const from = { PATH: '/bin', HOME: '/root', LANG: 'C', LC_ALL: 'C', TZ: 'UTC', TMPDIR: '/tmp', AWS_SECRET_ACCESS_KEY: 'x', HOP3_TOKEN: 'y', SSH_AUTH_SOCK: '/s' };
    expect(childEnv({ DEBIAN_FRONTEND: 'noninteractive' }, from)).toEqual({
      PATH: '/bin', HOME: '/root', LANG: 'C', LC_ALL: 'C', TZ: 'UTC', TMPDIR: '/tmp', DEBIAN_FRONTEND: 'noninteractive',
    });
  });
});

describe('runPiped', () => {
  const count = async (stdout: Readable) => {
    let n = 0;
    for await (const chunk of stdout) n += (chunk as Buffer).length;
    return n;
  };

  it('streams a program\'s output to the consumer', async () => {
    expect(await runPiped(['head', '-c', '5000000', '/dev/zero'], count)).toBe(5_000_000);
  });

  it('kills the program when the consumer gives up, and throws the consumer\'s error', async () => {
    const start = Date.now();
    const err = await runPiped(['cat', '/dev/zero'], async (stdout) => {
      for await (const _chunk of stdout) throw new Error('enough');
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('enough');
    expect(Date.now() - start).toBeLessThan(5000);
  });

  it('throws the program\'s failure with its stderr', async () => {
    const err = await runPiped(['/bin/sh', '-c', 'echo bad commit >&2; exit 128'], count).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecError);
    expect(err).toMatchObject({ exitCode: 128, output: expect.stringContaining('bad commit') });
  });
});

describe('runFed', () => {
  /** `n` bytes in 64 KB chunks, then (when given) a failure. */
  const source = (n: number, failure?: Error) => Readable.from((function* () {
    for (let left = n; left > 0; left -= 65536) yield Buffer.alloc(Math.min(65536, left), 0x61);
    if (failure) throw failure;
  })());

  it('streams its input into the program\'s stdin and returns its output', async () => {
    expect((await runFed(['wc', '-c'], source(5_000_000))).stdout.trim()).toBe('5000000');
  });

  it('an input that fails is an ExecInputError, and the program is killed', async () => {
    const start = Date.now();
    const err = await runFed(['sleep', '30'], source(1000, new Error('checksum wrong')), { readToEnd: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecInputError);
    expect((err as ExecInputError).inputError).toMatchObject({ message: 'checksum wrong' });
    expect(Date.now() - start).toBeLessThan(5000);
  });

  it('a program that stops reading succeeds; with readToEnd, a failure later in the input still fails it', async () => {
    expect((await runFed(['head', '-c', '10'], source(5_000_000, new Error('late')))).stdout).toBe('aaaaaaaaaa');
    const err = await runFed(['head', '-c', '10'], source(5_000_000, new Error('late')), { readToEnd: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecInputError);
    expect(await runFed(['head', '-c', '10'], source(5_000_000), { readToEnd: true })).toMatchObject({ stdout: 'aaaaaaaaaa', exitCode: 0 });
  });

  it('times out (program killed, input given up) on a program that never ends, and an input destroyed before its end is a failure', async () => {
    const endless = new Readable({ read() { this.push(Buffer.alloc(65536)); } });
    const start = Date.now();
    await expect(runFed(['sleep', '30'], endless, { timeoutMs: 300 })).rejects.toMatchObject({ message: expect.stringContaining('timed out after 300 ms') });
    expect(Date.now() - start).toBeLessThan(5000);
    expect(endless.destroyed).toBe(true);
    const cut = new Readable({ read() { this.push(Buffer.alloc(1024)); setImmediate(() => this.destroy()); } });
    await expect(runFed(['cat'], cut, { timeoutMs: 5000 })).rejects.toBeInstanceOf(ExecInputError);
  });

  it('throws the program\'s failure with its output, not the broken pipe', async () => {
    const err = await runFed(['/bin/sh', '-c', 'echo not a dump >&2; exit 1'], source(5_000_000)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecError);
    expect(err).not.toBeInstanceOf(ExecInputError);
    expect(err).toMatchObject({ exitCode: 1, output: expect.stringContaining('not a dump') });
  });
});

describe('run with onLine', () => {
  it('streams more output than execa would buffer, holds no endless line whole, and keeps the tail for the error', async () => {
    let lines = 0;
    let longest = 0;
    // 150 MB, past execa's 100 MB maxBuffer, half of it one line without a newline.
    const script = 'import sys\nw = sys.stdout.write\nfor i in range(1000000): w("%075d\\n" % i)\nfor i in range(1000): w("z" * 75000)\nw("\\nlast\\n"); sys.exit(4)';
    const err = await run(['/usr/bin/python3', '-c', script], { onLine: (l) => { lines++; longest = Math.max(longest, l.length); }, timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExecError);
    expect((err as ExecError).exitCode).toBe(4);
    expect((err as ExecError).output.endsWith('last')).toBe(true);
    expect(lines).toBeGreaterThan(1_000_000);
    expect(longest).toBeLessThan(200_000);
  }, 60_000);
});
