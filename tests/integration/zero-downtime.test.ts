import { appendFileSync, cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Daemon, EXAMPLES, git, output, PROXIES, underLoad } from './harness.js';

const REDEPLOYS = 10;

const workDirs: string[] = [];

/** Each redeploy makes release v(i + 1) of the app; the first deploy was v1. */
type Redeploy = (d: Daemon, app: string, i: number) => Promise<void>;

const REDEPLOYS_BY: Record<string, { setup: (d: Daemon, app: string) => Promise<Redeploy> }> = {
  // A code change pushed over git: a new build, release and processes each time.
  'git pushes': {
    async setup(d, app) {
      const work = mkdtempSync(join(tmpdir(), 'hop3-zd-'));
      workDirs.push(work);
      cpSync(join(EXAMPLES, app), work, { recursive: true });
      const url = `http://hop3:${d.token()}@127.0.0.1:${d.apiPort}/git/${app}.git`;
      for (const args of [['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-q', '-m', 'base']]) {
        const r = await git(work, args);
        expect(r.exitCode, output(r)).toBe(0);
      }
      return async (_d, _app, i) => {
        appendFileSync(join(work, app === 'hello-wsgi' ? 'app.py' : 'server.py'), `# redeploy ${i}\n`);
        expect((await git(work, ['commit', '-q', '-am', `redeploy ${i}`])).exitCode).toBe(0);
        const r = await git(work, ['push', url, 'main']);
        expect(r.exitCode, output(r)).toBe(0);
        expect(String(r.stderr)).toContain(`${app} v${i + 1} is serving`);
      };
    },
  },
  // A config change: the same build with a new environment, in new processes.
  'config changes': {
    async setup() {
      return async (d, app, i) => {
        const c = await d.hop3(['config', 'set', app, `N=${i}`, '--json']);
        expect(c.exitCode, String(c.stderr)).toBe(0);
        expect(JSON.parse(String(c.stdout)).release).toBe(`v${i + 1}`);
      };
    },
  },
};

describe.each(PROXIES)('redeploys under load through %s drop no request', (proxy) => {
  const d = new Daemon({}, { proxy });
  beforeAll(() => d.start());
  afterAll(async () => {
    await d.cleanup();
    for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['hello-wsgi', 'git pushes'],
    ['web-command', 'git pushes'],
    ['hello-wsgi', 'config changes'],
    ['web-command', 'config changes'],
  ])('%s: 10 %s while 4 clients hammer it', async (app, kind) => {
    await d.hop3(['destroy', app, '--yes']);
    const redeploy = await REDEPLOYS_BY[kind]!.setup(d, app);
    const r = await d.hop3(['deploy', join(EXAMPLES, app)]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect((await d.get(`${app}.localhost`)).status).toBe(200);

    const load = await underLoad(d.httpPort, `${app}.localhost`, async () => {
      for (let i = 1; i <= REDEPLOYS; i++) await redeploy(d, app, i);
    });

    const seen = [...load.releases.entries()].map(([v, n]) => `${v}:${n}`).join(' ');
    console.log(`${proxy}: ${app}, ${kind}: ${load.ok} requests in ${load.ms} ms (${Math.round((load.ok * 1000) / load.ms)}/s), ${load.failures.length} failed; served ${seen}`);
    expect(load.failures.slice(0, 20)).toEqual([]);
    expect(load.ok).toBeGreaterThanOrEqual(1000);
    // Every release served some of the traffic, and the last one serves now.
    expect(load.releases.size).toBeGreaterThanOrEqual(REDEPLOYS);
    expect(load.releases.has(`v${REDEPLOYS + 1}`)).toBe(true);
    const status = await d.json(['status', app]);
    expect(status).toMatchObject({ release: `v${REDEPLOYS + 1}`, health: 'Healthy' });
    expect(JSON.parse((await d.get(`${app}.localhost`)).body).release).toBe(`v${REDEPLOYS + 1}`);
    const live = (await d.json<{ version: string; status: string }[]>(['releases', app])).filter((x) => x.status === 'live');
    expect(live.map((x) => x.version)).toEqual([`v${REDEPLOYS + 1}`]);
  });
});
