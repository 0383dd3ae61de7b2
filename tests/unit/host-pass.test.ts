import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/lib/logger.js';
import { UNKNOWN, type Unknown } from '../../src/lib/unknown.js';
import type { Provider } from '../../src/plugins/provider.js';
import { HOST_OWNER, HostPass } from '../../src/reconcile/host-pass.js';
import { WorkQueue } from '../../src/reconcile/work-queue.js';

/**
 * The host pass over a plain host provider (the reconcile core is what is tested here; the real
 * servers are round-tripped in tests/integration/providers.test.ts): what is down is started, the
 * apps that need it see the outage once, and its end is healed drift of each.
 */
function server(initial: number | null | Unknown) {
  const s: { pid: number | null | Unknown; failures: number; applied: string[]; next: number } = {
    pid: initial,
    failures: 0,
    applied: [] as string[],
    next: 100,
  };
  const provider: Provider<{ server: string }, { pid: number }> = {
    kind: 'supervisor',
    phase: 'sync',
    async observe(_owner, desired) {
      const m = new Map<string, { pid: number } | null | Unknown>();
      if (desired.length === 0) return m;
      return m.set('one', typeof s.pid === 'number' ? { pid: s.pid } : s.pid);
    },
    diff: () => 'none',
    async apply(op, name, _d, _l, ctx) {
      expect(ctx.owner).toBe(HOST_OWNER);
      s.applied.push(`${op}:${name}`);
      if (s.failures > 0) {
        s.failures--;
        throw new Error('port taken');
      }
      s.pid = s.next++;
    },
    describe: (v) => ('pid' in v ? `pid ${v.pid}` : 'running'),
    host: { desired: () => [{ kind: 'supervisor', name: 'one', spec: { server: 'one' } }], neededBy: ['unit'], glance: () => String(s.pid) },
  };
  const effects = { down: [] as { kinds: readonly string[]; reason: string }[], healed: [] as { kind: string; apps: string[]; observed: string }[] };
  const pass = new HostPass([provider as Provider], createLogger('silent'), {
    down: (kinds, reason) => (effects.down.push({ kinds, reason }), ['web']),
    healed: (kind, apps, observed) => void effects.healed.push({ kind, apps, observed }),
  });
  return { s, pass, effects };
}

describe('the host pass', () => {
  it('a converged host plans nothing and applies nothing', async () => {
    const { s, pass, effects } = server(42);
    await pass.run();
    expect(pass.last).toEqual({ actions: [], findings: [], error: null });
    expect(s.applied).toEqual([]);
    expect(effects).toEqual({ down: [], healed: [] });
  });

  it('a server that died is started; the apps that need it see the outage, then healed drift naming the dead pid', async () => {
    const { s, pass, effects } = server(42);
    await pass.run();
    s.pid = null;
    await pass.run();
    expect(s.applied).toEqual(['create:one']);
    expect(pass.last?.findings).toEqual([{ resource: 'supervisor:one', kind: 'missing', desired: 'running', observed: 'absent', action: 'healed' }]);
    expect(effects.down).toEqual([{ kinds: ['unit'], reason: 'supervisor is down (pid 42 is gone); restarting it' }]);
    expect(effects.healed).toEqual([{ kind: 'supervisor', apps: ['web'], observed: 'pid 42 is gone; restarted' }]);
    // The restarted one's pid is what a later outage names.
    s.pid = null;
    await pass.run();
    expect(effects.healed.at(-1)?.observed).toBe('pid 100 is gone; restarted');
  });

  it('a failed start throws (the work queue retries it); the outage is shown once and healed once, when a start succeeds', async () => {
    const { s, pass, effects } = server(null);
    s.failures = 2;
    await expect(pass.run()).rejects.toThrow('port taken');
    await expect(pass.run()).rejects.toThrow('port taken');
    expect(pass.last?.error).toBe('port taken');
    expect(effects.healed).toEqual([]);
    await pass.run();
    expect(s.applied).toEqual(['create:one', 'create:one', 'create:one']);
    expect(effects.down).toHaveLength(1);
    expect(effects.healed).toEqual([{ kind: 'supervisor', apps: ['web'], observed: 'not running; restarted' }]);
  });

  it('through the work queue, a failed start is retried with backoff, with no trigger', async () => {
    const { s, pass } = server(null);
    s.failures = 2;
    const q = new WorkQueue(() => pass.run(), { concurrency: 1, baseDelayMs: 20, maxDelayMs: 100 });
    await q.trigger(HOST_OWNER);
    const deadline = Date.now() + 2000;
    while (s.pid === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(s.applied).toEqual(['create:one', 'create:one', 'create:one']);
    expect(s.pid).toBe(100);
    await q.close();
  });

  it('UNKNOWN (its pid file unreadable) is reported, never started over, and is no outage', async () => {
    const { s, pass, effects } = server(UNKNOWN);
    await pass.run();
    expect(s.applied).toEqual([]);
    expect(pass.last?.findings.map((f) => f.kind)).toEqual(['unknown']);
    expect(effects).toEqual({ down: [], healed: [] });
  });

  it('a server started by someone else while its start failed ends the outage as "running again"', async () => {
    const { s, pass, effects } = server(7);
    await pass.run();
    s.pid = null;
    s.failures = 1;
    await expect(pass.run()).rejects.toThrow();
    s.pid = 8;
    await pass.run();
    expect(effects.healed).toEqual([{ kind: 'supervisor', apps: ['web'], observed: 'pid 7 is gone; running again' }]);
  });
});
