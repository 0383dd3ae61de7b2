import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, EXAMPLES } from './harness.js';

describe('release retention (HOP3_KEEP_RELEASES=2)', () => {
  const d = new Daemon({ HOP3_KEEP_RELEASES: '2' });
  const releasesDir = () => join(d.home, 'apps', 'hello-wsgi', 'releases');
  const broken = mkdtempSync(join(tmpdir(), 'hop3-broken-'));
  beforeAll(() => d.start());
  afterAll(async () => {
    await d.cleanup();
    rmSync(broken, { recursive: true, force: true });
  });

  it('keeps the newest builds that served, whatever failed after them, and refuses a rollback to a pruned one', async () => {
    const deploy = (dir: string) => d.hop3(['deploy', dir, '--app', 'hello-wsgi']);
    for (let i = 1; i <= 3; i++) expect((await deploy(join(EXAMPLES, 'hello-wsgi'))).exitCode).toBe(0); // v1-v3: builds
    for (const n of [1, 2]) expect((await d.hop3(['config', 'set', 'hello-wsgi', `N=${n}`])).exitCode).toBe(0); // v4, v5 run from v3's build
    cpSync(join(EXAMPLES, 'hello-wsgi'), broken, { recursive: true });
    writeFileSync(join(broken, 'hop3.toml'), '[run]\nstart = "app:application"\n\n[build]\nbefore-build = ["exit 3"]\n');
    for (let i = 0; i < 3; i++) expect((await deploy(broken)).exitCode).toBe(1); // v6-v8: failed builds

    const dirs = readdirSync(releasesDir()).filter((f) => !f.startsWith('.')).sort();
    // v3 and v2 are the two newest builds that served (v5 runs from v3); v5 is live; v7 and v8
    // are the newest failures, kept to look at. v1's build, v4 and v6 are gone.
    expect(dirs).toEqual(['v2', 'v3', 'v5', 'v7', 'v8']);
    expect(readdirSync(join(d.home, 'apps', 'hello-wsgi', 'venvs'))).toHaveLength(1);
    const releases = await d.json<{ version: string; status: string }[]>(['releases', 'hello-wsgi']);
    expect(releases.map((r) => `${r.version}:${r.status}`)).toEqual(
      ['v8:failed', 'v7:failed', 'v6:failed', 'v5:live', 'v4:retired', 'v3:retired', 'v2:retired', 'v1:retired'], // the history stays
    );

    const pruned = await d.hop3(['rollback', 'hello-wsgi', 'v1', '--json']);
    expect(pruned.exitCode).toBe(1);
    expect(JSON.parse(String(pruned.stdout)).error.code).toBe('ROLLBACK_NO_ARTIFACT');
    const failed = await d.hop3(['rollback', 'hello-wsgi', 'v8', '--json']);
    expect(failed.exitCode).toBe(1);
    expect(JSON.parse(String(failed.stdout)).error.code).toBe('ROLLBACK_NOT_GOOD');
    expect(existsSync(join(releasesDir(), 'v9'))).toBe(false);

    const back = await d.hop3(['rollback', 'hello-wsgi', 'v2', '--json']);
    expect(back.exitCode, String(back.stderr)).toBe(0);
    expect(JSON.parse((await d.get('hello-wsgi.localhost')).body).release).toBe('v9');
    // v2's configuration came back with its build.
    expect(await d.json(['config', 'get', 'hello-wsgi'])).toEqual({});
  });
});
