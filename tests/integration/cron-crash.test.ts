import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventRecord } from '../../src/store/types.js';
import { appDir, Daemon, within } from './harness.js';

const APP = 'crashy';

/** Start and end stamps (ms) of the job's runs. */
function runs(home: string): Array<{ start: number; end: number }> {
  const file = join(home, 'apps', APP, 'data', 'stamps');
  const out: Array<{ start: number; end: number }> = [];
  for (const line of existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : []) {
    const [what, t] = line.split(' ');
    if (what === 'start') out.push({ start: Number(t) / 1e6, end: NaN });
    else if (what === 'end') out.at(-1)!.end = Number(t) / 1e6;
  }
  return out;
}

describe('cron across a daemon killed during a run', () => {
  const d = new Daemon();
  let dir = '';
  beforeAll(() => d.start());
  afterAll(async () => {
    // SIGTERM first: the daemon stops its cron run under way (halt leaves cron runs alone).
    await d.stop().catch(() => undefined);
    await d.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the run a killed daemon left is found by its group: the next daemon starts none beside it, records it as unobserved once it ends, then runs on schedule', async () => {
    // A run outlasts the next minute: a daemon that did not look would start a second one in it.
    dir = appDir({
      Procfile: 'web: exec python3 -m http.server $PORT --bind 127.0.0.1\ncron: * * * * * sh job.sh\n',
      'index.html': 'ok\n',
      'job.sh': 'echo "start $(date +%s%N)" >> "$HOME/stamps"\nsleep 75\necho "end $(date +%s%N)" >> "$HOME/stamps"\n',
    });
    const r = await d.hop3(['deploy', dir, '--app', APP]);
    expect(r.exitCode, String(r.stderr).slice(-3000)).toBe(0);
    const pgid = join(d.home, 'cron', `${APP}.cron.pgid`);
    await within(90_000, () => existsSync(pgid));
    await d.stop('SIGKILL');
    await d.start();

    // The second run starts once the first has ended (the minute after it), never beside it.
    await within(200_000, () => runs(d.home).length >= 2);
    const [first, second] = runs(d.home);
    expect(first!.end).toBeGreaterThan(first!.start);
    expect(second!.start).toBeGreaterThanOrEqual(first!.end);
    const events = (await d.json<EventRecord[]>(['events', APP, '--limit', '1000'])).filter((e) => e.kind === 'cron.ran');
    expect(events.map((e) => e.kind === 'cron.ran' && e.data.outcome)).toEqual(['unobserved']);
  }, 400_000);
});
