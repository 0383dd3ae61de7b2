import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, Daemon, git, output, PROXIES } from './harness.js';

/** A WSGI app whose body names its code version; 404 on anything but / and /health. */
const appPy = (code: string) => `import json, os
CODE = ${JSON.stringify(code)}
def application(environ, start_response):
    path = environ.get("PATH_INFO")
    if path == "/health":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\\n"]
    if path != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\\n"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"code": CODE, "release": os.environ.get("HOP3_RELEASE")}).encode() + b"\\n"]
`;
const HOP3_TOML = '[run]\nstart = "app:application"\nworkers = 1\n\n[healthcheck]\npath = "/health"\ntimeout = 10\n';

type Release = { version: string; commit: string; source: string; status: string; current: boolean; message?: string };
type Event = { id: number; kind: string; data: { release?: number } };

describe.each(PROXIES)('git push over smart HTTP (%s)', (proxy) => {
  const d = new Daemon({}, { proxy });
  const APP = 'pushed';
  let work = '';
  let url = '';
  const shas: Record<string, string> = {};

  const served = async () => {
    const r = await d.get(`${APP}.localhost`);
    return { status: r.status, ...(r.status === 200 ? (JSON.parse(r.body) as { code: string; release: string }) : {}) };
  };
  const lsRemote = async (branch: string) => {
    const r = await git(work, ['ls-remote', url, `refs/heads/${branch}`]);
    expect(r.exitCode, output(r)).toBe(0);
    return String(r.stdout).split('\t')[0] ?? '';
  };
  /** Write `files` into the work tree and commit them; returns the new commit. */
  const commit = async (files: Record<string, string>, message: string) => {
    for (const [path, content] of Object.entries(files)) writeFileSync(join(work, path), content);
    expect((await git(work, ['add', '-A'])).exitCode).toBe(0);
    const c = await git(work, ['commit', '-q', '-m', message]);
    expect(c.exitCode, output(c)).toBe(0);
    return String((await git(work, ['rev-parse', 'HEAD'])).stdout).trim();
  };
  const releases = () => d.json<Release[]>(['releases', APP]);

  beforeAll(async () => {
    await d.start();
    url = `http://hop3:${d.token()}@127.0.0.1:${d.apiPort}/git/${APP}.git`;
    work = appDir({ 'app.py': appPy('one'), 'hop3.toml': HOP3_TOML });
    expect((await git(work, ['init', '-q', '-b', 'main'])).exitCode).toBe(0);
  });
  afterAll(async () => {
    await d.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('creates the app on the first push and serves the pushed code', async () => {
    shas.one = await commit({}, 'one');
    const r = await git(work, ['push', url, 'main']);
    expect(r.exitCode, output(r)).toBe(0);
    expect(String(r.stderr)).toMatch(/remote: .*release v1 is live/);
    expect(String(r.stderr)).toContain(`http://${APP}.localhost`);
    expect(await served()).toEqual({ status: 200, code: 'one', release: 'v1' });
    expect(await lsRemote('main')).toBe(shas.one);
    expect(await releases()).toMatchObject([{ version: 'v1', source: 'push', commit: shas.one, status: 'live', current: true }]);
  });

  it('deploys a code change as v2 and records the commit', async () => {
    shas.two = await commit({ 'app.py': appPy('two') }, 'two');
    const r = await git(work, ['push', url, 'main']);
    expect(r.exitCode, output(r)).toBe(0);
    expect(String(r.stderr)).toMatch(/remote: .*release v2 is live/);
    expect(await served()).toEqual({ status: 200, code: 'two', release: 'v2' });
    const list = await releases();
    expect(list.map((x) => [x.version, x.source, x.commit, x.status, x.current])).toEqual([
      ['v2', 'push', shas.two, 'live', true],
      ['v1', 'push', shas.one, 'retired', false],
    ]);
  });

  it('stores a push to another branch without deploying it', async () => {
    expect((await git(work, ['checkout', '-q', '-b', 'feature'])).exitCode).toBe(0);
    shas.feature = await commit({ 'app.py': appPy('feature') }, 'feature');
    const r = await git(work, ['push', url, 'feature']);
    expect(r.exitCode, output(r)).toBe(0);
    expect(String(r.stderr)).toMatch(/remote: .*refs\/heads\/feature stored/);
    expect(String(r.stderr)).not.toContain('is live');
    expect(await lsRemote('feature')).toBe(shas.feature);
    expect(await lsRemote('main')).toBe(shas.two);
    expect(await served()).toEqual({ status: 200, code: 'two', release: 'v2' });
    expect((await releases()).length).toBe(2);
    expect((await git(work, ['checkout', '-q', 'main'])).exitCode).toBe(0);
  });

  it('destroys a repository that only ever received branches that do not deploy', async () => {
    const other = `http://hop3:${d.token()}@127.0.0.1:${d.apiPort}/git/stored-only.git`;
    const r = await git(work, ['push', other, `${shas.feature}:refs/heads/feature`]);
    expect(r.exitCode, output(r)).toBe(0);
    expect(existsSync(join(d.home, 'apps', 'stored-only', 'git'))).toBe(true);
    const destroyed = await d.hop3(['destroy', 'stored-only', '--yes']);
    expect(destroyed.exitCode, output(destroyed)).toBe(0);
    expect(existsSync(join(d.home, 'apps', 'stored-only'))).toBe(false);
  });

  const broken: { what: string; files: Record<string, string>; reason: RegExp }[] = [
    {
      what: 'the build fails',
      files: { 'hop3.toml': `${HOP3_TOML}\n[build]\nbefore-build = ["exit 3"]\n` },
      reason: /remote: .*exited with code 3/,
    },
    {
      what: 'the release command fails',
      files: { Procfile: 'release: exit 4\n' },
      reason: /remote: .*exited with code 4/,
    },
    {
      what: 'the health check fails',
      files: { 'hop3.toml': HOP3_TOML.replace('path = "/health"', 'path = "/missing"').replace('timeout = 10', 'timeout = 3'), 'app.py': appPy('unhealthy') },
      reason: /remote: .*health check .*\/missing did not answer 200 within 3 s \(last: status 404\)/,
    },
  ];
  describe.each(broken)('a push where $what', ({ files, reason }) => {
    it('is rejected with the reason, leaves the branch alone and keeps the previous release serving', async () => {
      const before = (await releases()).length;
      expect((await git(work, ['reset', '-q', '--hard', shas.two!])).exitCode).toBe(0);
      const sha = await commit(files, 'broken');
      const r = await git(work, ['push', url, 'main']);
      expect(r.exitCode, output(r)).not.toBe(0);
      expect(String(r.stderr)).toContain('! [remote rejected] main -> main (pre-receive hook declined)');
      expect(String(r.stderr)).toMatch(reason);
      expect(String(r.stderr)).toMatch(/remote: .*push rejected; the previous release keeps serving/);
      expect(await lsRemote('main')).toBe(shas.two);
      expect(await served()).toEqual({ status: 200, code: 'two', release: 'v2' });
      const list = await releases();
      expect(list.length).toBe(before + 1);
      expect(list[0]).toMatchObject({ commit: sha, source: 'push', status: 'failed', current: false });
      expect(list.find((x) => x.current)).toMatchObject({ version: 'v2', status: 'live' });
      expect((await git(work, ['reset', '-q', '--hard', shas.two!])).exitCode).toBe(0);
    });
  });

  it('refuses a push with a wrong token (401) and moves nothing', async () => {
    const bad = `http://hop3:not-the-token@127.0.0.1:${d.apiPort}/git/${APP}.git`;
    shas.unauthorized = await commit({ 'app.py': appPy('intruder') }, 'intruder');
    const r = await git(work, ['push', bad, 'main']);
    expect(r.exitCode).not.toBe(0);
    expect(String(r.stderr)).toMatch(/Authentication failed/);
    for (const auth of [`Basic ${Buffer.from('hop3:not-the-token').toString('base64')}`, undefined]) {
      const res = await fetch(`http://127.0.0.1:${d.apiPort}/git/${APP}.git/info/refs?service=git-receive-pack`, { headers: auth ? { authorization: auth } : {} });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic/);
    }
    expect(await lsRemote('main')).toBe(shas.two);
    expect(await served()).toEqual({ status: 200, code: 'two', release: 'v2' });
    expect((await git(work, ['reset', '-q', '--hard', shas.two!])).exitCode).toBe(0);
  });

  it('clones the deployed commit back over HTTP', async () => {
    const dir = join(tmpdir(), `hop3-clone-${process.pid}-${Date.now()}`);
    try {
      const r = await git(tmpdir(), ['clone', '-q', url, dir]);
      expect(r.exitCode, output(r)).toBe(0);
      expect(String((await git(dir, ['rev-parse', 'HEAD'])).stdout).trim()).toBe(shas.two);
      expect(String((await git(dir, ['rev-parse', '--abbrev-ref', 'HEAD'])).stdout).trim()).toBe('main');
      expect(readFileSync(join(dir, 'app.py'), 'utf8')).toBe(appPy('two'));
      expect(String((await git(dir, ['rev-parse', 'origin/feature'])).stdout).trim()).toBe(shas.feature);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** Roll back and check the new release serves `code`, came from `from`'s build with no build step. */
  async function rollback(args: string[], from: string, code: string) {
    const before = await releases();
    const next = `v${Math.max(...before.map((x) => Number(x.version.slice(1)))) + 1}`;
    const r = await d.hop3(['rollback', APP, ...args]);
    expect(r.exitCode, output(r)).toBe(0);
    expect(String(r.stderr)).toContain(`Rolling back ${APP} to ${from} as ${next}`);
    expect(String(r.stderr)).toContain(`release ${next} is live`);
    expect(await served()).toEqual({ status: 200, code, release: next });
    const list = await releases();
    expect(list[0]).toMatchObject({ version: next, source: 'rollback', status: 'live', current: true, commit: before.find((x) => x.version === from)!.commit });
    expect(list.filter((x) => x.status === 'live').map((x) => x.version)).toEqual([next]);
    const events = (await d.json<Event[]>(['events', APP, '--limit', '1000'])).filter((e) => e.data.release === Number(next.slice(1)));
    expect(events.map((e) => e.kind)).toContain('release.live');
    expect(events.map((e) => e.kind)).not.toContain('build.started');
  }

  it('rolls back to an explicit version (v1) without building', async () => {
    await rollback(['v1'], 'v1', 'one');
  });

  it('rolls back by default to the release live before the current one', async () => {
    await rollback([], 'v2', 'two');
    // The branch is not moved by a rollback.
    expect(await lsRemote('main')).toBe(shas.two);
  });

  it('serializes two concurrent pushes to one app: the second waits, then deploys on top', async () => {
    expect((await git(work, ['reset', '-q', '--hard', shas.two!])).exitCode).toBe(0);
    const before = (await releases())[0]!.version;
    const next = (n: number) => `v${Number(before.slice(1)) + n}`;
    const c1 = await commit({ 'app.py': appPy('c1') }, 'c1');
    const c2 = await commit({ 'app.py': appPy('c2') }, 'c2');
    const first = git(work, ['push', url, `${c1}:refs/heads/main`]);
    let seen = '';
    first.stderr?.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    const started = Date.now();
    while (!seen.includes('Deploying') && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toContain('Deploying');
    // The first push is deploying; the second one asks for the refs now and is answered once
    // the first has landed, so it pushes on top of c1.
    const second = git(work, ['push', url, `${c2}:refs/heads/main`]);
    const [r1, r2] = await Promise.all([first, second]);
    expect(r1.exitCode, output(r1)).toBe(0);
    expect(r2.exitCode, output(r2)).toBe(0);
    expect(String(r1.stderr)).toContain(`${APP} ${next(1)} is serving`);
    expect(String(r2.stderr)).toContain(`${APP} ${next(2)} is serving`);
    expect(await lsRemote('main')).toBe(c2);
    expect(await served()).toEqual({ status: 200, code: 'c2', release: next(2) });
    const list = await releases();
    expect(list.slice(0, 2).map((x) => [x.version, x.source, x.commit, x.current])).toEqual([[next(2), 'push', c2, true], [next(1), 'push', c1, false]]);
  });

  it('refuses to deploy a push whose branch moved after the pusher read it', async () => {
    // Two HTTP pushes that both read the refs before either landed: the later one names an
    // old tip. The daemon refuses it before recording anything.
    const head = await lsRemote('main');
    const count = (await releases()).length;
    const r = await d.rpc('apps.deploy', { app: APP, commit: head, ref: 'refs/heads/main', old: shas.two });
    expect(r.body.error?.data?.code).toBe('BRANCH_MOVED');
    expect(r.body.error?.message).toMatch(/refs\/heads\/main moved to [0-9a-f]{12} while this push was prepared/);
    expect((await releases()).length).toBe(count);
    expect(await lsRemote('main')).toBe(head);
  });

  it('deploys from another branch once it is the deploy branch', async () => {
    const set = await d.hop3(['set', APP, '--deploy-branch', 'feature']);
    expect(set.exitCode, output(set)).toBe(0);
    const onMain = await commit({ 'app.py': appPy('main-only') }, 'main-only');
    const stored = await git(work, ['push', url, 'main']);
    expect(stored.exitCode, output(stored)).toBe(0);
    expect(String(stored.stderr)).toMatch(/remote: .*refs\/heads\/main stored \(deploys happen from feature\)/);
    expect(await lsRemote('main')).toBe(onMain);
    expect((await served()).code).toBe('c2');

    expect((await git(work, ['checkout', '-q', 'feature'])).exitCode).toBe(0);
    const next = await commit({ 'app.py': appPy('feature-2') }, 'feature-2');
    const deployed = await git(work, ['push', url, 'feature']);
    expect(deployed.exitCode, output(deployed)).toBe(0);
    expect(String(deployed.stderr)).toMatch(/remote: .*release v\d+ is live/);
    expect((await served()).code).toBe('feature-2');
    expect((await releases())[0]).toMatchObject({ source: 'push', commit: next, status: 'live', current: true });
    expect((await git(work, ['checkout', '-q', 'main'])).exitCode).toBe(0);
    expect((await d.hop3(['set', APP, '--deploy-branch', 'main'])).exitCode).toBe(0);
  });
});
