import { describe, expect, it } from 'vitest';
import { ExecError, run } from '../../src/lib/exec.js';

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
});
