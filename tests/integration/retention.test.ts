import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, EXAMPLES } from './harness.js';

describe('release retention (HOP3_KEEP_RELEASES=2)', () => {
  const d = new Daemon({ HOP3_KEEP_RELEASES: '2' });
  const releasesDir = () => join(d.home, 'apps', 'hello-wsgi', 'releases');
  beforeAll(() => d.start());
  afterAll(() => d.cleanup());

  it('keeps the newest builds and the ones they run from, and refuses a rollback to a pruned one', async () => {
    expect((await d.hop3(['deploy', join(EXAMPLES, 'hello-wsgi')])).exitCode).toBe(0); // v1 (build)
    expect((await d.hop3(['deploy', join(EXAMPLES, 'hello-wsgi')])).exitCode).toBe(0); // v2 (build)
    for (const n of [1, 2, 3]) expect((await d.hop3(['config', 'set', 'hello-wsgi', `N=${n}`])).exitCode).toBe(0); // v3-v5 run from v2's build
    const dirs = readdirSync(releasesDir()).filter((f) => !f.startsWith('.')).sort();
    // v4 and v5 are the newest; v2 holds the build they run from; v1 and v3 are gone.
    expect(dirs).toEqual(['v2', 'v4', 'v5']);
    expect(readdirSync(join(d.home, 'apps', 'hello-wsgi', 'venvs'))).toHaveLength(1);
    const releases = await d.json<{ version: string; status: string }[]>(['releases', 'hello-wsgi']);
    expect(releases.map((r) => r.version)).toEqual(['v5', 'v4', 'v3', 'v2', 'v1']); // the history stays
    const r = await d.hop3(['rollback', 'hello-wsgi', 'v1', '--json']);
    expect(r.exitCode).toBe(1);
    expect(JSON.parse(String(r.stdout)).error.code).toBe('ROLLBACK_NO_ARTIFACT');
    expect(existsSync(join(releasesDir(), 'v6'))).toBe(false);
  });
});
