import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, Daemon, PROXIES, underLoad, within } from './harness.js';
import { SCALED_APP } from '../../bench/scaled-app.js';

type Ps = { process: string; index: number; pid: number | null; state: string; uptime: number | null; restarts: number; release: string; port: number | null };
type Drift = { resource: string; kind: string; action: string; observed: string; detectedAt: string };

const APP = 'scaled';

/** What `fn` gives once it gives something (within `ms`). */
const eventually = async <T>(ms: number, fn: () => Promise<T | null | undefined>): Promise<T> => (await within(ms, fn)).value!;

describe.each(PROXIES)('hop3 scale and hop3 ps (%s)', (proxy) => {
  const d = new Daemon({}, { proxy });
  const dir = appDir(SCALED_APP);
  const ps = () => d.json<Ps[]>(['ps', APP]);
  const count = (rows: Ps[], process: string) => rows.filter((r) => r.process === process).length;
  /** Which instances answered `n` requests through the proxy. */
  async function answering(n: number): Promise<Map<string, Set<number>>> {
    const seen = new Map<string, Set<number>>();
    for (let i = 0; i < n; i++) {
      const r = await d.get(`${APP}.localhost`);
      expect(r.status).toBe(200);
      const b = JSON.parse(r.body) as { instance: string; pid: number };
      seen.set(b.instance, (seen.get(b.instance) ?? new Set()).add(b.pid));
    }
    return seen;
  }

  beforeAll(async () => {
    await d.start();
    const r = await d.hop3(['deploy', dir, '--app', APP]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
  });
  afterAll(async () => {
    await d.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('ps shows one instance of each process type, as the supervisor reports it', async () => {
    const rows = await eventually(10_000, async () => {
      const rows = await ps();
      return rows.length === 2 && rows.every((r) => r.state === 'running') ? rows : null;
    });
    expect(rows.map((r) => [r.process, r.index, r.release])).toEqual([['web', 1, 'v1'], ['worker', 1, 'v1']]);
    expect(Object.keys(rows[0]!).sort()).toEqual(['index', 'pid', 'port', 'process', 'release', 'restarts', 'state', 'uptime']);
    const [web, worker] = rows as [Ps, Ps];
    expect(web.port).toBeGreaterThan(0);
    expect(worker.port).toBeNull();
    for (const r of rows) {
      expect(r.pid).toBeGreaterThan(1);
      expect(r.restarts).toBe(0);
      expect(r.uptime).toBeGreaterThanOrEqual(0);
    }
    expect([...(await answering(4)).keys()]).toEqual(['1']);
  });

  it('scales up under load with no failed request; the proxy spreads requests over every web instance', async () => {
    const load = await underLoad(d.httpPort, `${APP}.localhost`, async () => {
      const r = await d.hop3(['scale', APP, 'web=3', 'worker=2', '--json']);
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(JSON.parse(String(r.stdout))).toMatchObject({ app: APP, release: 'v2', counts: { web: 3, worker: 2 } });
    });
    console.log(`${proxy}: scale web=3 worker=2 under load: ${load.ok} requests in ${load.ms} ms, ${load.failures.length} failed; served ${[...load.releases].map(([v, n]) => `${v}:${n}`).join(' ')}`);
    expect(load.failures.slice(0, 20)).toEqual([]);
    expect(load.releases.has('v2')).toBe(true);

    // The old release's instances retire once the switch is done: only v2's remain.
    const rows = await eventually(10_000, async () => {
      const rows = await ps();
      return rows.length === 5 && rows.every((r) => r.release === 'v2' && r.state === 'running') ? rows : null;
    });
    expect(rows.map((r) => `${r.process}.${r.index}`)).toEqual(['web.1', 'web.2', 'web.3', 'worker.1', 'worker.2']);
    const webPorts = rows.filter((r) => r.process === 'web').map((r) => r.port);
    expect(new Set(webPorts).size).toBe(3);
    expect(new Set(rows.map((r) => r.pid)).size).toBe(5);

    const seen = await answering(30);
    expect([...seen.keys()].sort()).toEqual(['1', '2', '3']);
    // Three processes, not one answering under three names.
    expect(new Set([...seen.values()].flatMap((s) => [...s])).size).toBe(3);
  });

  it('a killed worker instance is restarted by its supervisor and reported as drift and in ps', async () => {
    await new Promise((r) => setTimeout(r, 1500)); // let the emperor settle the new vassals
    const before = (await ps()).find((r) => r.process === 'worker' && r.index === 2)!;
    expect(before.pid).toBeGreaterThan(1);
    const since = new Date().toISOString();
    process.kill(before.pid!, 'SIGKILL');
    const after = await eventually(15_000, async () => {
      const row = (await ps()).find((r) => r.process === 'worker' && r.index === 2);
      return row && row.pid !== before.pid && row.state === 'running' && row.restarts >= 1 ? row : null;
    });
    expect(after.release).toBe('v2');
    const drift = await d.json<Drift[]>(['drift', APP]);
    const finding = drift.find((f) => f.resource === `process:${APP}.v2.worker.2` && f.detectedAt > since);
    expect(finding).toMatchObject({ kind: 'missing', action: 'healed' });
    expect(finding!.observed).toContain(`pid ${before.pid} exited`);
    // The other instances were left alone.
    expect((await ps()).filter((r) => r.restarts > 0).map((r) => `${r.process}.${r.index}`)).toEqual(['worker.2']);
  });

  it('a later release (a config change) keeps the counts', async () => {
    const r = await d.hop3(['config', 'set', APP, 'N=1', '--json']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const rows = await eventually(10_000, async () => {
      const rows = await ps();
      return rows.every((x) => x.release === 'v3') && rows.length === 5 ? rows : null;
    });
    expect([count(rows, 'web'), count(rows, 'worker')]).toEqual([3, 2]);
  });

  it('refuses bad counts, naming what is wrong, and changes nothing', async () => {
    const releases = (await d.json<unknown[]>(['releases', APP])).length;
    for (const [arg, code] of [
      ['nope=2', 'SCALE_PROCESS_UNKNOWN'], ['web=0', 'SCALE_WEB_ZERO'], ['web=17', 'SCALE_COUNT_INVALID'], ['web=two', 'SCALE_COUNT_INVALID'],
    ] as const) {
      const r = await d.hop3(['scale', APP, arg, '--json']);
      expect(r.exitCode, arg).toBe(1);
      expect(JSON.parse(String(r.stdout)).error.code, arg).toBe(code);
    }
    // The daemon checks too, whatever the client sent.
    for (const counts of [{ web: 17 }, { web: 1.5 }, { 'bad name': 1 }]) {
      const res = await d.rpc('apps.scale', { app: APP, counts });
      expect(res.body.error?.data?.code, JSON.stringify(counts)).toBe('PARAMS_INVALID');
    }
    expect((await d.json<unknown[]>(['releases', APP])).length).toBe(releases);
    expect((await ps()).length).toBe(5);
  });

  it('scales down under load with no failed request; a worker scaled to 0 runs no instance', async () => {
    const load = await underLoad(d.httpPort, `${APP}.localhost`, async () => {
      const r = await d.hop3(['scale', APP, 'web=1', 'worker=0', '--json']);
      expect(r.exitCode, String(r.stderr)).toBe(0);
      expect(JSON.parse(String(r.stdout))).toMatchObject({ release: 'v4' });
    });
    console.log(`${proxy}: scale web=1 worker=0 under load: ${load.ok} requests in ${load.ms} ms, ${load.failures.length} failed; served ${[...load.releases].map(([v, n]) => `${v}:${n}`).join(' ')}`);
    expect(load.failures.slice(0, 20)).toEqual([]);
    expect(load.releases.has('v4')).toBe(true);
    const rows = await eventually(10_000, async () => {
      const rows = await ps();
      return rows.length === 1 ? rows : null;
    });
    expect(rows.map((r) => [r.process, r.index, r.release, r.state])).toEqual([['web', 1, 'v4', 'running']]);
    expect([...(await answering(6)).keys()]).toEqual(['1']);
    // The same counts again: already so, nothing recorded.
    const again = await d.json<{ release?: string }>(['scale', APP, 'web=1']);
    expect(again.release).toBeUndefined();
    expect((await d.json<unknown[]>(['releases', APP])).length).toBe(4);
  });
});
