import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, Daemon, git, GIT_ENV, output, sleep, within } from './harness.js';

/**
 * A WSGI app naming its code; its release command (a script, so it can trap SIGTERM) takes a
 * `mkdir` lock in the app's data dir, records start and end marks with timestamps, and fails
 * loudly (a CONCURRENT mark) if another run holds the lock.
 */
/** The release (or build) command: `mkdir` lock, start/end/killed marks, CONCURRENT if locked. */
const command = (seconds: number) => `m="$HOME/marks"
# The daemon that read this command's output may be gone: a write must not end it before its trap.
trap '' PIPE
now() { date +%s.%N; }
if ! mkdir "$HOME/lock" 2>/dev/null; then echo "CONCURRENT $(now) $HOP3_RELEASE" >> "$m"; echo "another command holds $HOME/lock" >&2; exit 1; fi
trap 'echo "killed $(now) $HOP3_RELEASE" >> "$m"; rmdir "$HOME/lock"; exit 143' TERM
echo "start $(now) $HOP3_RELEASE" >> "$m"
echo "phase started $$"
sleep ${seconds} & wait $!
echo "end $(now) $HOP3_RELEASE" >> "$m"
rmdir "$HOME/lock"
`;

const files = (code: string, releaseSleep = 0, buildSleep = 0) => ({
  'app.py': `import json, os
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"code": ${JSON.stringify(code)}, "release": os.environ.get("HOP3_RELEASE")}).encode()]
`,
  'release.sh': command(releaseSleep),
  'build.sh': command(buildSleep),
  'hop3.toml': `[run]\nstart = "app:application"\nworkers = 1\n${releaseSleep ? 'before-run = ["sh release.sh"]\n' : ''}${buildSleep ? '[build]\nbefore-build = ["sh build.sh"]\n' : ''}`,
});

type Release = { version: string; status: string; message: string };
type Status = { release: string | null; desiredRelease: string | null };

/** Live processes (not zombies) whose environment holds `entry`. */
function processesWithEnv(entry: string): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p))) {
    try {
      if (/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) continue;
      if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(entry)) found.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Live (not zombie) members of a process group. */
function groupMembers(pgid: number): number[] {
  const found: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^[0-9]+$/.test(p))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (f[0] !== 'Z' && Number(f[2]) === pgid) found.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe('crashes and clients that give up: git and the client say what went live', () => {
  const d = new Daemon();
  const dirs: string[] = [];
  const releases = (app: string) => d.json<Release[]>(['releases', app]);
  const served = async (app: string) => JSON.parse((await d.get(`${app}.localhost`)).body) as { code: string; release: string };
  const marks = (app: string) => (readFileSync(join(d.home, 'apps', app, 'data', 'marks'), 'utf8')).trim().split('\n').map((l) => l.split(' ') as [string, string, string]);
  const newDir = (code: string, releaseSleep = 0, buildSleep = 0) => {
    const dir = appDir(files(code, releaseSleep, buildSleep));
    dirs.push(dir);
    return dir;
  };
  /** Deploy and wait until `code` serves. */
  const deployed = async (app: string, code: string) => {
    const r = await d.hop3(['deploy', newDir(code), '--app', app]);
    expect(r.exitCode, output(r)).toBe(0);
    expect((await served(app)).code).toBe(code);
  };
  /** A client run whose stderr is watched; resolves once `text` appears (wrapped: awaiting it would wait for the client). */
  const started = async (args: string[], text: string) => {
    const client = d.hop3(args);
    let seen = '';
    client.stderr?.on('data', (c: Buffer) => (seen += c.toString()));
    await within(60_000, () => seen.includes(text));
    return { client };
  };
  /** The release does not go live, also once its release command would have finished. */
  const neverLive = async (app: string, version: string, before: string, waitMs: number) => {
    await sleep(waitMs);
    const r = (await releases(app)).find((x) => x.version === version)!;
    expect(r.status).toBe('failed');
    expect((await d.json<Status>(['status', app])).release).not.toBe(version);
    expect((await served(app)).code).toBe(before);
    return r;
  };

  beforeAll(async () => {
    await d.start();
  });
  afterAll(async () => {
    await d.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('a push that went live while the daemon died before git heard is rolled back at restart: what serves is what git says', async () => {
    // Its own daemon, so the failpoint (SIGKILL right after a release is recorded live) hits only this test.
    const own = new Daemon();
    try {
      await own.start();
      const APP = 'unlanded';
      const work = newDir('one');
      const url = `http://hop3:${own.token()}@127.0.0.1:${own.apiPort}/git/${APP}.git`;
      for (const args of [['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-q', '-m', 'one']]) expect((await git(work, args)).exitCode).toBe(0);
      expect((await git(work, ['push', url, 'main'])).exitCode).toBe(0);
      const ref = async () => String((await git(work, ['ls-remote', url, 'refs/heads/main'])).stdout).split('\t')[0];
      const before = await ref();
      // A push that landed is left alone at start, even once the app deploys from another branch.
      expect((await own.hop3(['set', APP, '--deploy-branch', 'prod'])).exitCode).toBe(0);
      await own.stop();
      await own.start();
      await sleep(1500);
      expect((await own.json<{ kind: string }[]>(['events', APP, '--limit', '1000'])).filter((e) => e.kind === 'push.unlanded')).toEqual([]);
      expect((await own.hop3(['set', APP, '--deploy-branch', 'main'])).exitCode).toBe(0);

      await own.stop();
      own.extraEnv.HOP3_FAILPOINT = 'after-mark-live';
      await own.start();
      for (const [path, content] of Object.entries(files('two'))) writeFileSync(join(work, path), content);
      expect((await git(work, ['commit', '-q', '-am', 'two'])).exitCode).toBe(0);
      const push = await git(work, ['push', url, 'HEAD:refs/heads/main']);
      expect(push.exitCode, output(push)).not.toBe(0);
      await own.stop();
      delete own.extraEnv.HOP3_FAILPOINT;
      await own.start();
      // Recorded before the API answered: no reader ever sees the unlanded push as settled.
      const first = await own.json<{ source: string; status: string }[]>(['releases', APP]);
      expect(first[0]).toMatchObject({ source: 'rollback' });

      const { value: rolledBack } = await within(30_000, async () => {
        const rs = await own.json<(Release & { source: string; current: boolean })[]>(['releases', APP]);
        return rs.find((r) => r.current && r.source === 'rollback') ? rs : null;
      }).catch(async (err: unknown) => {
        throw new Error(`${String(err)}\n${JSON.stringify(await own.json(['releases', APP]))}\n${readFileSync(join(own.home, 'daemon.log'), 'utf8').split('\n').filter((l) => /unlanded|push|roll|failpoint|error/i.test(l)).slice(-15).join('\n')}`);
      });
      // v2 did go live (the failpoint fired after it), and git never recorded it.
      expect(rolledBack!.find((r) => r.version === 'v2')!.status).toBe('retired');
      expect(await ref()).toBe(before);
      const events = await own.json<{ kind: string; data: { release?: number } }[]>(['events', APP, '--limit', '1000']);
      expect(events.filter((e) => e.kind === 'push.unlanded').map((e) => e.data.release)).toEqual([2]);
      const body = JSON.parse((await own.get(`${APP}.localhost`)).body) as { code: string };
      expect(body.code).toBe('one');
      // Rolled back once: the next start finds nothing more to do.
      await own.stop();
      await own.start();
      await sleep(1500);
      const again = await own.json<{ kind: string }[]>(['events', APP, '--limit', '1000']);
      expect(again.filter((e) => e.kind === 'push.unlanded')).toHaveLength(1);
    } finally {
      await own.cleanup();
    }
  });

  it('a change sent again with its request id (a client that lost the daemon) records one release, and a client started while the daemon is down lands its change once it is back', async () => {
    const APP = 'repeat';
    await deployed(APP, 'one');
    const requestId = 'chaos-0123456789';
    const first = await d.rpc('config.set', { app: APP, values: { A: '1' }, requestId });
    const again = await d.rpc('config.set', { app: APP, values: { A: '1' }, requestId });
    expect(first.body.result.release).toBe('v2');
    expect(again.body.result.release).toBe('v2');
    expect((await releases(APP)).map((r) => r.version)).toEqual(['v2', 'v1']);
    const unset = await d.rpc('config.unset', { app: APP, keys: ['A'], requestId: 'unset-0123456789' });
    const unsetAgain = await d.rpc('config.unset', { app: APP, keys: ['A'], requestId: 'unset-0123456789' });
    expect(unsetAgain.body.result.release).toBe(unset.body.result.release);

    await d.stop();
    const client = d.hop3(['config', 'set', APP, 'B=2']);
    await sleep(3000);
    await d.start();
    const r = await client;
    expect(r.exitCode, output(r)).toBe(0);
    const rs = await releases(APP);
    expect(rs.filter((x) => !['v1', 'v2', unset.body.result.release].includes(x.version)).map((x) => x.status)).toEqual(['live']);
    expect((await d.json(['config', 'get', APP])).B).toBe('2');
  });

  it('kill -9 of the daemon during an HTTP push: the push fails, its processes die with the daemon, the ref stays, nothing goes live', async () => {
    const APP = 'crashpush';
    const work = newDir('one');
    const url = `http://hop3:${d.token()}@127.0.0.1:${d.apiPort}/git/${APP}.git`;
    for (const args of [['init', '-q', '-b', 'main'], ['add', '-A'], ['commit', '-q', '-m', 'one']]) expect((await git(work, args)).exitCode).toBe(0);
    const first = await git(work, ['push', url, 'main']);
    expect(first.exitCode, output(first)).toBe(0);
    const ref = async () => String((await git(work, ['ls-remote', url, 'refs/heads/main'])).stdout).split('\t')[0];
    const before = await ref();

    for (const [path, content] of Object.entries(files('two', 30))) writeFileSync(join(work, path), content);
    expect((await git(work, ['commit', '-q', '-am', 'two'])).exitCode).toBe(0);
    const push = execa('git', ['push', url, 'HEAD:refs/heads/main'], { cwd: work, env: GIT_ENV, reject: false, timeout: 120_000 });
    let seen = '';
    push.stderr?.on('data', (c: Buffer) => (seen += c.toString()));
    await within(60_000, () => seen.includes('phase started'));
    // http-backend, receive-pack and the hook all carry the backend's CGI environment.
    const chain = `GIT_PROJECT_ROOT=${join(d.home, 'apps')}`;
    expect(processesWithEnv(chain).length).toBeGreaterThanOrEqual(3);

    await d.stop('SIGKILL');
    const r = await push;
    expect(r.exitCode).not.toBe(0);
    // They die with the daemon, not once a restarted one answers the hook.
    await within(3000, () => processesWithEnv(chain).length === 0);

    await d.start();
    expect(await ref()).toBe(before);
    const [newest] = await releases(APP);
    expect(newest!.message).toMatch(/cancelled: hop3-server restarted during the push/);
    await neverLive(APP, newest!.version, 'one', 1500);
    expect(await ref()).toBe(before);
    expect(processesWithEnv(chain)).toEqual([]);
    // Its release command (sleep 30) was stopped by the restarted daemon.
    expect(marks(APP).map((m) => m[0])).toEqual(['start', 'killed']);
  });

  it('kill -9 during a release command: the leftover group is stopped before the command runs again, never two at once; the client rides out the restart', async () => {
    const APP = 'crashrelease';
    await deployed(APP, 'one');
    const { client: deploy } = await started(['deploy', newDir('two', 5), '--app', APP], 'phase started');
    const recorded = JSON.parse(readFileSync(join(d.home, 'run', `release-${APP}.pgid`), 'utf8')) as { pgid: number };
    expect(groupMembers(recorded.pgid).length).toBeGreaterThan(0);
    await d.stop('SIGKILL');
    await sleep(500);
    // A daemon that is killed leaves the command running (that is what the restart must handle).
    expect(groupMembers(recorded.pgid).length).toBeGreaterThan(0);
    await d.start();
    expect(groupMembers(recorded.pgid)).toEqual([]);

    const r = await deploy;
    expect(r.exitCode, output(r)).toBe(0);
    expect(String(r.stderr)).toContain('hop3-server is back; reading the release record');
    expect(String(r.stdout)).toMatch(/crashrelease v\d+ is serving/);
    const [newest] = await releases(APP);
    expect(newest!.status).toBe('live');
    expect((await served(APP)).code).toBe('two');

    const m = marks(APP);
    expect(m.map((x) => x[0])).toEqual(['start', 'killed', 'start', 'end']);
    expect(m.filter((x) => x[0] === 'CONCURRENT')).toEqual([]);
    // Each run ends before the next starts.
    for (let i = 1; i < m.length; i++) expect(Number(m[i]![1])).toBeGreaterThanOrEqual(Number(m[i - 1]![1]));
  });

  it('kill -9 during a build command: the leftover group is stopped before the build runs again, never two at once', async () => {
    const APP = 'crashbuild';
    await deployed(APP, 'one');
    const { client: deploy } = await started(['deploy', newDir('two', 0, 5), '--app', APP], 'phase started');
    const recorded = JSON.parse(readFileSync(join(d.home, 'run', `build-${APP}.pgid`), 'utf8')) as { pgid: number };
    await d.stop('SIGKILL');
    await sleep(500);
    expect(groupMembers(recorded.pgid).length).toBeGreaterThan(0);
    await d.start();
    expect(groupMembers(recorded.pgid)).toEqual([]);
    const r = await deploy;
    expect(r.exitCode, output(r)).toBe(0);
    expect((await served(APP)).code).toBe('two');
    const [newest] = await releases(APP);
    // A build runs with HOME in its release directory.
    const m = readFileSync(join(d.home, 'apps', APP, 'releases', newest!.version, 'marks'), 'utf8').trim().split('\n').map((l) => l.split(' '));
    expect(m.map((x) => x[0])).toEqual(['start', 'killed', 'start', 'end']);
    for (let i = 1; i < m.length; i++) expect(Number(m[i]![1])).toBeGreaterThanOrEqual(Number(m[i - 1]![1]));
  });

  it('a deploy across a restart whose release then fails: the client reports the failure recorded, and exits 1', async () => {
    const APP = 'crashfail';
    await deployed(APP, 'one');
    const dir = newDir('two', 5);
    // A second run of this release command fails (its first run left a mark).
    writeFileSync(join(dir, 'release.sh'), `if [ -e "$HOME/ran" ]; then echo "refusing to run a second time" >&2; exit 3; fi\ntouch "$HOME/ran"\n${readFileSync(join(dir, 'release.sh'), 'utf8')}`);
    const { client: deploy } = await started(['deploy', dir, '--app', APP], 'phase started');
    await d.stop('SIGKILL');
    await d.start();
    const r = await deploy;
    expect(r.exitCode, output(r)).toBe(1);
    const [newest] = await releases(APP);
    expect(newest!.status).toBe('failed');
    expect(String(r.stderr)).toContain(`error: release ${newest!.version} of ${APP} failed: ${newest!.message.split('\n')[0]}`);
    expect((await served(APP)).code).toBe('one');
  });

  it('hop3 deploy --timeout 3 against an 8 s release command exits 1, and that release never goes live', async () => {
    const APP = 'crashtimeout';
    await deployed(APP, 'one');
    const t0 = Date.now();
    const r = await d.hop3(['deploy', newDir('two', 8), '--app', APP, '--timeout', '3']);
    expect(r.exitCode, output(r)).toBe(1);
    expect(Date.now() - t0).toBeLessThan(8000);
    expect(String(r.stderr)).toMatch(/was cancelled: the client gave up after 3 s \(--timeout\)/);
    const [newest] = await releases(APP);
    const failed = await neverLive(APP, newest!.version, 'one', 8000);
    expect(failed.message).toMatch(/gave up after 3 s/);
  });

  it('Ctrl-C of hop3 deploy cancels its release: exit 1, never live', async () => {
    const APP = 'crashctrlc';
    await deployed(APP, 'one');
    const { client: deploy } = await started(['deploy', newDir('two', 8), '--app', APP], 'phase started');
    deploy.kill('SIGINT');
    const r = await deploy;
    expect(r.exitCode, output(r)).toBe(1);
    expect(String(r.stderr)).toMatch(/was cancelled: the client was interrupted \(SIGINT\)/);
    const [newest] = await releases(APP);
    await neverLive(APP, newest!.version, 'one', 8000);
    expect(marks(APP).map((m) => m[0])).toEqual(['start', 'killed']);
  });

  it('hop3 deploy --detach returns at once, says how to follow, and the release then goes live', async () => {
    const APP = 'crashdetach';
    await deployed(APP, 'one');
    const t0 = Date.now();
    const r = await d.hop3(['deploy', newDir('two', 4), '--app', APP, '--detach']);
    expect(r.exitCode, output(r)).toBe(0);
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(String(r.stdout)).toContain(`rolls out on its own; follow it with \`hop3 events ${APP}\` or \`hop3 status ${APP}\``);
    const version = /v\d+/.exec(String(r.stdout))![0];
    expect((await releases(APP)).find((x) => x.version === version)!.status).not.toBe('live');
    await within(30_000, async () => (await d.json<Status>(['status', APP])).release === version);
    expect((await served(APP)).code).toBe('two');
  });

  it('config set --timeout cancels the config release it started; start --timeout cancels the release it would roll out', async () => {
    const APP = 'crashconfig';
    const dir = newDir('one', 4);
    const first = await d.hop3(['deploy', dir, '--app', APP]);
    expect(first.exitCode, output(first)).toBe(0);
    const live = (await d.json<Status>(['status', APP])).release;

    const set = await d.hop3(['config', 'set', APP, 'A=1', '--timeout', '1']);
    expect(set.exitCode, output(set)).toBe(1);
    expect(String(set.stderr)).toMatch(/was cancelled: the client gave up after 1 s/);
    await sleep(5000);
    expect((await releases(APP))[0]!.status).toBe('failed');
    expect((await d.json<Status>(['status', APP])).release).toBe(live);

    // Recorded while stopped, rolled out by start: a start that gives up takes it back.
    expect((await d.hop3(['stop', APP])).exitCode).toBe(0);
    const recorded = await d.json<{ release: string }>(['config', 'set', APP, 'B=1']);
    const start = await d.hop3(['start', APP, '--timeout', '1']);
    expect(start.exitCode, output(start)).toBe(1);
    expect(String(start.stderr)).toMatch(new RegExp(`release ${recorded.release} of ${APP} was cancelled: the client gave up after 1 s`));
    await sleep(5000);
    expect((await releases(APP)).find((x) => x.version === recorded.release)!.status).toBe('failed');
    expect((await d.json<Status>(['status', APP])).release).toBe(live);
    expect((await served(APP)).release).toBe(live);
  });

  it('start, stop, pause and resume --detach answer once recorded and say how to follow; a bad --timeout is refused', async () => {
    const APP = 'crashdetach';
    const stop = await d.hop3(['stop', APP, '--detach']);
    expect(stop.exitCode, output(stop)).toBe(0);
    expect(String(stop.stdout)).toContain(`stop is recorded and applied on its own; follow it with \`hop3 events ${APP}\``);
    await within(10_000, async () => (await d.get(`${APP}.localhost`)).status === 404);
    const start = await d.hop3(['start', APP, '--detach', '--json']);
    expect(start.exitCode, output(start)).toBe(0);
    expect(JSON.parse(String(start.stdout))).toMatchObject({ detached: true, desiredState: 'running' });
    await within(15_000, async () => (await served(APP)).code === 'two');
    for (const [verb, status] of [['pause', 503], ['resume', 200]] as const) {
      const r = await d.hop3([verb, APP, '--detach']);
      expect(r.exitCode, output(r)).toBe(0);
      await within(15_000, async () => (await d.get(`${APP}.localhost`)).status === status);
    }
    const bad = await d.hop3(['restart', APP, '--timeout', '0']);
    expect(bad.exitCode).toBe(1);
    expect(String(bad.stderr)).toMatch(/--timeout.*whole number of seconds from 1 to 86400/);
  });
});
