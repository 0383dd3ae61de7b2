import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/store/types.js';
import type { ScheduledEntry } from '../../src/plugins/types.js';
import { appDir, daemonForTests, sleep } from './harness.js';

type CronRan = Extract<EventRecord, { kind: 'cron.ran' }>;

const APP = 'ticker';

/** A generic app whose cron job stamps its start and end (ns) and release in the app's HOME. */
function app(version: string, cron: boolean): Record<string, string> {
  return {
    Procfile: `web: exec python3 -m http.server $PORT --bind 127.0.0.1\n${cron ? 'cron: * * * * * sh job.sh\n' : ''}`,
    'index.html': `<p>${version}</p>\n`,
    'job.sh': [
      `echo "start $(date +%s%N) ${version}" >> "$HOME/stamps"`,
      `echo "hello from ${version} as $HOP3_APP $HOP3_RELEASE in $(pwd)"`,
      'sleep 4',
      `echo "end $(date +%s%N) ${version}" >> "$HOME/stamps"`,
      '',
    ].join('\n'),
  };
}

interface Run { start: number; end: number; version: string }

/** Intervals from the stamps the jobs wrote (end NaN: still running). */
function runs(home: string): Run[] {
  const file = join(home, 'apps', APP, 'data', 'stamps');
  const out: Run[] = [];
  for (const line of existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : []) {
    const [what, t, version] = line.split(' ');
    if (what === 'start') out.push({ start: Number(t) / 1e6, end: NaN, version: version! });
    else if (what === 'end') out.at(-1)!.end = Number(t) / 1e6;
  }
  return out;
}

describe('cron entries run by hop3-server', () => {
  const { d, removeAfter } = daemonForTests();

  const deploy = async (files: Record<string, string>) => {
    const dir = removeAfter(appDir(files));
    const r = await d.hop3(['deploy', dir, '--app', APP]);
    expect(r.exitCode, `${String(r.stderr).slice(-3000)}`).toBe(0);
    return Date.now();
  };
  const cronEvents = async () => (await d.json<EventRecord[]>(['events', APP, '--limit', '1000'])).filter((e): e is CronRan => e.kind === 'cron.ran');
  /** Poll until `ok` holds of the cron events (a generous bound: minutes are real minutes). */
  const until = async (ok: (e: CronRan[]) => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    for (;;) {
      const e = await cronEvents();
      if (ok(e)) return e;
      if (Date.now() > deadline) throw new Error(`cron events never got there: ${JSON.stringify(e.map((x) => x.data))}`);
      await sleep(1000);
    }
  };

  it('every minute: runs at least twice, never overlapping, output and exit status in events; a new release runs its own command; a removed entry stops', async () => {
    await deploy(app('v1', true));
    const listed = await d.json<ScheduledEntry[]>(['cron', APP]);
    expect(listed).toEqual([expect.objectContaining({ process: 'cron', schedule: '* * * * *', release: 1, command: 'sh job.sh' })]);
    const next = Date.parse(listed[0]!.nextRun!);
    expect(next).toBeGreaterThan(Date.now() - 1000);
    expect(next).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(new Date(next).getUTCSeconds()).toBe(0);

    const first = await until((e) => e.filter((x) => x.data.release === 1).length >= 2, 200_000);
    for (const e of first) {
      expect(e.data).toMatchObject({ process: 'cron', release: 1, schedule: '* * * * *', outcome: 'succeeded', exitCode: 0, dropped: 0 });
      expect(e.data.output).toEqual([expect.stringMatching(new RegExp(`^hello from v1 as ${APP} v1 in /.*/apps/${APP}/releases/v1/src$`))]);
    }
    const human = await d.hop3(['events', APP]);
    expect(String(human.stdout)).toMatch(/cron cron of v1 \(\* \* \* \* \*\) ran [\d.]+ s: succeeded, exit 0\n {4}hello from v1/);
    const status = await d.json<ScheduledEntry[]>(['cron', APP]);
    expect(status[0]!.lastRun).toMatchObject({ outcome: 'succeeded', exitCode: 0 });

    const v2At = await deploy(app('v2', true));
    await until((e) => e.some((x) => x.data.release === 2), 150_000);
    const v2 = (await cronEvents()).find((x) => x.data.release === 2)!;
    expect(v2.data.output).toEqual([expect.stringMatching(/^hello from v2 as ticker v2 in .*\/releases\/v2\/src$/)]);
    // Once v2 is live, every run is v2's command.
    expect(runs(d.home).filter((r) => r.start > v2At).map((r) => r.version)).not.toContain('v1');
    expect((await d.json<ScheduledEntry[]>(['cron', APP]))[0]!.release).toBe(2);

    const v3At = await deploy(app('v3', false));
    expect(await d.json<ScheduledEntry[]>(['cron', APP])).toEqual([]);
    expect(readdirSync(join(d.home, 'cron')).filter((f) => f.startsWith(`${APP}.`) && f.endsWith('.json'))).toEqual([]);
    // A whole minute boundary passes (and some): nothing starts.
    await sleep(75_000);
    expect(runs(d.home).filter((r) => r.start > v3At)).toEqual([]);

    // Never two at once, across all of it.
    const all = runs(d.home);
    expect(all.length).toBeGreaterThanOrEqual(3);
    for (const r of all) expect(r.end, `a run that never ended: ${JSON.stringify(r)}`).toBeGreaterThan(r.start);
    for (let i = 1; i < all.length; i++) expect(all[i]!.start, `run ${i + 1} started before run ${i} ended`).toBeGreaterThanOrEqual(all[i - 1]!.end);
  }, 600_000);

  it('hop3 cron names an app that does not exist', async () => {
    const r = await d.hop3(['cron', 'nosuchapp', '--json']);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(String(r.stdout)).error.code).toBe('APP_NOT_FOUND');
  });
});
