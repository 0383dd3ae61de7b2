import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, Daemon, git, GIT_ENV, output, sleep, within } from './harness.js';

/** A WSGI app that names its code version; its release command waits `releaseSleep` seconds. */
const files = (code: string, opts: { releaseSleep?: number; health?: number } = {}) => ({
  'app.py': `import json, os
def application(environ, start_response):
    status = "${opts.health ?? 200} X" if environ.get("PATH_INFO") == "/health" else "200 OK"
    start_response(status, [("Content-Type", "application/json")])
    return [json.dumps({"code": ${JSON.stringify(code)}, "release": os.environ.get("HOP3_RELEASE")}).encode()]
`,
  'hop3.toml': `[run]\nstart = "app:application"\nworkers = 1\n${opts.releaseSleep ? `before-run = ["echo release phase started; sleep ${opts.releaseSleep}"]\n` : ''}\n[healthcheck]\npath = "/health"\ntimeout = 3\n`,
});

type Release = { version: string; status: string; message: string; commit: string };

describe('deploys that do not finish never go live', () => {
  // One build at a time: a long build must still not hold up other apps' repairs.
  const d = new Daemon({ HOP3_DEPLOY_CONCURRENCY: '1' });
  const APP = 'unfinished';
  const work = appDir(files('one'));
  let url = '';
  const served = async () => JSON.parse((await d.get(`${APP}.localhost`)).body) as { code: string; release: string };
  const releases = () => d.json<Release[]>(['releases', APP]);
  const branch = async (name: string) => String((await git(work, ['ls-remote', url, `refs/heads/${name}`])).stdout).split('\t')[0] ?? '';
  const commit = async (code: string, opts: { releaseSleep?: number; health?: number } = {}) => {
    for (const [path, content] of Object.entries(files(code, opts))) writeFileSync(join(work, path), content);
    expect((await git(work, ['commit', '-q', '-am', code])).exitCode).toBe(0);
    return String((await git(work, ['rev-parse', 'HEAD'])).stdout).trim();
  };
  /** Start a push and resolve once its release phase runs (wrapped: awaiting it would wait for the push). */
  const pushUntilReleasePhase = async (opts: { detached?: boolean } = {}) => {
    const push = execa('git', ['push', url, 'HEAD:refs/heads/main'], { cwd: work, env: GIT_ENV, reject: false, timeout: 120_000, ...opts });
    let seen = '';
    push.stderr?.on('data', (c: Buffer) => (seen += c.toString()));
    await within(30_000, () => seen.includes('release phase started'));
    return { push };
  };
  /** The pushed code never serves: the release failed, the branch and the served code stayed. */
  const expectNotLive = async (before: { sha: string; code: string }, message: RegExp) => {
    const [newest] = await releases();
    expect(newest!.status).toBe('failed');
    expect(newest!.message).toMatch(message);
    await sleep(1500); // time for a rollout that should not happen
    expect(await served()).toMatchObject({ code: before.code });
    expect(await branch('main')).toBe(before.sha);
    expect((await releases())[0]!.status).toBe('failed');
  };

  /** The release command of a cancelled release (its `sleep 60`) was killed with it. */
  const releaseCommandGone = async () => (await execa('pgrep', ['-f', 'sleep 60'], { reject: false })).exitCode === 1;

  beforeAll(async () => {
    await d.start();
    url = `http://hop3:${d.token()}@127.0.0.1:${d.apiPort}/git/${APP}.git`;
    for (const args of [['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-q', '-m', 'one']]) expect((await git(work, args)).exitCode).toBe(0);
    const r = await git(work, ['push', url, 'main']);
    expect(r.exitCode, output(r)).toBe(0);
  });
  afterAll(async () => {
    await d.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('a push whose pusher hangs up is cancelled, and its release command is stopped', async () => {
    const before = { sha: await branch('main'), code: 'one' };
    await commit('hung-up', { releaseSleep: 60 });
    // Ctrl-C: the terminal signals git and its HTTP helper, which hang up.
    const { push } = await pushUntilReleasePhase({ detached: true });
    process.kill(-push.pid!, 'SIGINT');
    await push;
    await within(10_000, async () => (await releases())[0]!.status === 'failed');
    await expectNotLive(before, /cancelled: the push was interrupted/);
    await within(5000, releaseCommandGone);
  });

  it('hop3 cancel stops a push in its release phase; the push is rejected at once', async () => {
    const before = { sha: await branch('main'), code: 'one' };
    await commit('cancelled', { releaseSleep: 60 });
    const started = Date.now();
    const { push } = await pushUntilReleasePhase();
    const c = await d.hop3(['cancel', APP, '--json']);
    expect(c.exitCode, output(c)).toBe(0);
    expect(JSON.parse(String(c.stdout))).toMatchObject({ cancelled: true, status: 'failed' });
    const r = await push;
    expect(r.exitCode).not.toBe(0);
    expect(String(r.stderr)).toMatch(/remote: .*failed: cancelled: by request/);
    expect(String(r.stderr)).toContain('push rejected; the previous release keeps serving');
    expect(Date.now() - started).toBeLessThan(30_000);
    await expectNotLive(before, /cancelled: by request/);
    await within(5000, releaseCommandGone);
    const again = await d.hop3(['cancel', APP, '--json']);
    expect(again.exitCode).toBe(1);
    expect(JSON.parse(String(again.stdout)).error.code).toBe('NOTHING_TO_CANCEL');
  });

  it('a push that hop3-server restarts under is rejected and never goes live after the restart', async () => {
    const before = { sha: await branch('main'), code: 'one' };
    await commit('restarted', { releaseSleep: 4 });
    const { push } = await pushUntilReleasePhase();
    await d.stop('SIGKILL');
    await d.start();
    const r = await push;
    expect(r.exitCode).not.toBe(0);
    // Over HTTP the daemon carries the push, so the pusher may only see the connection drop.
    expect(String(r.stderr)).toMatch(/restarted during the push|cannot reach hop3-server|remote end hung up/);
    await expectNotLive(before, /cancelled: hop3-server restarted during the push/);
    await sleep(4000); // the orphaned release command has ended by now: still nothing goes live
    expect(await served()).toMatchObject({ code: 'one' });
  });

  it('refuses a push that updates two deploy branches, and deploys neither', async () => {
    const before = { sha: await branch('main'), code: 'one' };
    const count = (await releases()).length;
    const sha = await commit('both');
    const r = await git(work, ['push', url, `${sha}:refs/heads/main`, `${sha}:refs/heads/master`]);
    expect(r.exitCode).not.toBe(0);
    expect(String(r.stderr)).toMatch(/updates main and master, each of which deploys unfinished/);
    expect((await releases()).length).toBe(count);
    expect(await branch('main')).toBe(before.sha);
    expect(await branch('master')).toBe('');
    expect(await served()).toMatchObject({ code: 'one' });
  });

  it('a failed release is retired as part of the deploy, not reported as drift, even when drift is only reported', async () => {
    expect((await d.hop3(['set', APP, '--heal-policy', 'report'])).exitCode).toBe(0);
    await commit('unhealthy', { health: 500 });
    const r = await git(work, ['push', url, 'HEAD:refs/heads/main']);
    expect(r.exitCode).not.toBe(0);
    expect(String(r.stderr)).toMatch(/health check .* did not answer 200/);
    const failed = (await releases())[0]!.version;
    await within(5000, () => !readdirSync(join(d.home, 'uwsgi-enabled')).some((f) => f.startsWith(`${APP}.${failed}.`)));
    const drift = await d.json<{ resource: string }[]>(['drift', APP]);
    expect(drift.filter((f) => f.resource.includes(`.${failed}.`))).toEqual([]);
    const pass = await d.json<{ actions: unknown[] }>(['reconcile', APP]);
    expect(pass.actions).toEqual([]);
    expect(await served()).toMatchObject({ code: 'one' });
    expect((await d.hop3(['set', APP, '--heal-policy', 'heal'])).exitCode).toBe(0);
  });

  it('stopping an app during hop3 deploy cancels that deploy; starting it runs the release that was live', async () => {
    const live = (await served()).release;
    const dir = appDir(files('deployed', { releaseSleep: 60 }));
    try {
      const deploy = d.hop3(['deploy', dir, '--app', APP]);
      let seen = '';
      deploy.stderr?.on('data', (c: Buffer) => (seen += c.toString()));
      await within(30_000, () => seen.includes('release phase started'));
      const stop = await d.hop3(['stop', APP]);
      expect(stop.exitCode, output(stop)).toBe(0);
      const r = await deploy;
      expect(r.exitCode).toBe(1);
      expect(String(r.stderr)).toMatch(/failed: cancelled: unfinished was stopped during the deploy/);
      expect((await d.get(`${APP}.localhost`)).status).toBe(404);
      const start = await d.hop3(['start', APP]);
      expect(start.exitCode, output(start)).toBe(0);
      await within(10_000, async () => (await served()).release === live);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a long build holds up no other app: drift is still repaired at once', async () => {
    const dir = appDir({ ...files('slow'), 'hop3.toml': '[run]\nstart = "app:application"\n\n[build]\nbefore-build = ["echo slow build started; sleep 60"]\n' });
    try {
      const deploy = d.hop3(['deploy', dir, '--app', 'slow']);
      let seen = '';
      deploy.stderr?.on('data', (c: Buffer) => (seen += c.toString()));
      await within(30_000, () => seen.includes('slow build started'));
      const enabled = readdirSync(join(d.home, 'uwsgi-enabled')).find((f) => f.startsWith(`${APP}.`))!;
      rmSync(join(d.home, 'uwsgi-enabled', enabled));
      const { elapsedMs } = await within(2000, () => readdirSync(join(d.home, 'uwsgi-enabled')).includes(enabled));
      expect(elapsedMs).toBeLessThan(2000);
      expect((await d.hop3(['cancel', 'slow'])).exitCode).toBe(0);
      expect((await deploy).exitCode).toBe(1);
      expect((await d.hop3(['destroy', 'slow', '--yes'])).exitCode).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a config change to a stopped app records a release and leaves the app stopped until it starts', async () => {
    expect((await d.hop3(['stop', APP])).exitCode).toBe(0);
    const r = await d.hop3(['config', 'set', APP, 'WHILE_STOPPED=1', '--json']);
    expect(r.exitCode, output(r)).toBe(0);
    const recorded = JSON.parse(String(r.stdout)) as { release: string; desiredState: string };
    expect(recorded.desiredState).toBe('stopped');
    await sleep(1000);
    expect(await d.json(['status', APP])).toMatchObject({ desiredState: 'stopped', health: 'Missing' });
    expect((await d.get(`${APP}.localhost`)).status).toBe(404);
    expect((await d.hop3(['start', APP])).exitCode).toBe(0);
    await within(10_000, async () => (await served()).release === recorded.release);
  });
});
