import { execa } from 'execa';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { appDir, Daemon, git as gitIn, GIT_ENV, output, ROOT, sleep, within } from './harness.js';
import { Sshd } from './sshd.js';


const appPy = (code: string) => `import json, os
CODE = ${JSON.stringify(code)}
def application(environ, start_response):
    if environ.get("PATH_INFO") == "/health":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\\n"]
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps({"code": CODE, "release": os.environ.get("HOP3_RELEASE")}).encode() + b"\\n"]
`;
const HOP3_TOML = '[run]\nstart = "app:application"\nworkers = 1\n\n[healthcheck]\npath = "/health"\ntimeout = 10\n';

type Release = { version: string; commit: string; source: string; status: string; current: boolean };

describe('git push over SSH', () => {
  const d = new Daemon();
  const sshd = new Sshd(d.home);
  let work = '';

  const admin = (args: string[]) => execa(join(ROOT, 'bin', 'hop3-server'), args, { env: d.env, reject: false, timeout: 30_000 });
  const git = (args: string[], key?: string) => gitIn(work, args, sshd.gitEnv(key));
  const commit = async (code: string) => {
    writeFileSync(join(work, 'app.py'), appPy(code));
    expect((await git(['commit', '-q', '-am', code])).exitCode).toBe(0);
    return String((await git(['rev-parse', 'HEAD'])).stdout).trim();
  };
  const served = async (app: string) => {
    const r = await d.get(`${app}.localhost`);
    return { status: r.status, ...(r.status === 200 ? (JSON.parse(r.body) as { code: string; release: string }) : {}) };
  };

  beforeAll(async () => {
    await d.start();
    await sshd.start();
    work = appDir({ 'app.py': appPy('base'), 'hop3.toml': HOP3_TOML });
    expect((await git(['init', '-q', '-b', 'main'])).exitCode).toBe(0);
    expect((await git(['add', '-A'])).exitCode).toBe(0);
    expect((await git(['commit', '-q', '-m', 'base'])).exitCode).toBe(0);
  });
  afterAll(async () => {
    await sshd.stop();
    await d.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('authorizes, lists and refuses keys', async () => {
    const add = await admin(['ssh-key', 'add', `${sshd.clientKey}.pub`, '--name', 'alice']);
    expect(add.exitCode, output(add)).toBe(0);
    expect(String(add.stdout)).toContain('authorized alice (ssh-ed25519)');
    const line = readFileSync(join(d.home, '.ssh', 'authorized_keys'), 'utf8').trim();
    expect(line).toMatch(/^command="[^"]*\/ssh-entry\.js --home [^"]*",restrict,.*no-pty ssh-ed25519 \S+ hop3:alice$/);
    const list = await admin(['ssh-key', 'list', '--json']);
    expect(JSON.parse(String(list.stdout))).toEqual([{ name: 'alice', type: 'ssh-ed25519' }]);

    const again = await admin(['ssh-key', 'add', `${sshd.clientKey}.pub`, '--name', 'alice2']);
    expect(again.exitCode).toBe(1);
    expect(String(again.stderr)).toContain('already authorized');

    const bad = join(sshd.dir, 'bad.pub');
    writeFileSync(bad, 'this is not a key\n');
    const refused = await admin(['ssh-key', 'add', bad, '--name', 'bad']);
    expect(refused.exitCode).toBe(1);
    expect(String(refused.stderr)).toMatch(/error: not an OpenSSH public key line/);
    expect(String(refused.stderr)).toMatch(/hint: /);
    // A key line smuggling options or a second line is refused too.
    const pub = readFileSync(`${sshd.clientKey}.pub`, 'utf8').trim();
    writeFileSync(bad, `command="sh" ${pub}\n`);
    expect((await admin(['ssh-key', 'add', bad, '--name', 'evil'])).exitCode).toBe(1);
    expect(JSON.parse(String((await admin(['ssh-key', 'list', '--json'])).stdout))).toEqual([{ name: 'alice', type: 'ssh-ed25519' }]);
  });

  it('creates and serves an app on the first push', async () => {
    const r = await git(['push', sshd.remote('ssh-one'), 'main']);
    expect(r.exitCode, `${output(r)}\n${sshd.log()}`).toBe(0);
    expect(String(r.stderr)).toMatch(/remote: .*release v1 is live/);
    expect(String(r.stderr)).toContain('* [new branch]      main -> main');
    expect(await served('ssh-one')).toEqual({ status: 200, code: 'base', release: 'v1' });
    const head = String((await git(['rev-parse', 'HEAD'])).stdout).trim();
    expect(await d.json<Release[]>(['releases', 'ssh-one'])).toMatchObject([{ version: 'v1', source: 'push', commit: head, current: true }]);
    // Fetching back over SSH works too.
    const ls = await git(['ls-remote', sshd.remote('ssh-one'), 'refs/heads/main']);
    expect(ls.exitCode, output(ls)).toBe(0);
    expect(String(ls.stdout)).toContain(head);
  });

  it('refuses anything but git (no shell)', async () => {
    const results = await Promise.all(['cat /etc/passwd', "git-receive-pack '../../etc'", "git-upload-pack 'ssh-one; id'"].map((c) => sshd.ssh(c)));
    for (const r of results) {
      expect(r.exitCode, output(r)).not.toBe(0);
      expect(String(r.stdout)).not.toContain('root:');
    }
    expect(String(results[0]!.stderr)).toContain('this key may only run git push');
  });

  it('serializes two concurrent pushes to one app: both deploy, the later commit serves', async () => {
    const c1 = await commit('c1');
    const c2 = await commit('c2');
    const first = git(['push', sshd.remote('ssh-one'), `${c1}:refs/heads/main`]);
    // Start the second push once the first holds the app (its deploy has begun).
    const started = Date.now();
    let seen = '';
    first.stderr?.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    while (!seen.includes('Deploying') && Date.now() - started < 30_000) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toContain('Deploying');
    const second = git(['push', sshd.remote('ssh-one'), `${c2}:refs/heads/main`]);
    const [r1, r2] = await Promise.all([first, second]);
    expect(r1.exitCode, output(r1)).toBe(0);
    expect(r2.exitCode, output(r2)).toBe(0);
    expect(String(r1.stderr)).toMatch(/release v2 is live/);
    expect(String(r2.stderr)).toMatch(/release v3 is live/);
    expect(await served('ssh-one')).toEqual({ status: 200, code: 'c2', release: 'v3' });
    const releases = await d.json<Release[]>(['releases', 'ssh-one']);
    expect(releases.slice(0, 2).map((x) => [x.version, x.source, x.commit, x.current])).toEqual([
      ['v3', 'push', c2, true],
      ['v2', 'push', c1, false],
    ]);
    const ls = await git(['ls-remote', sshd.remote('ssh-one'), 'refs/heads/main']);
    expect(String(ls.stdout)).toContain(c2);
  });

  it('pushes to two different apps at the same time, both succeed', async () => {
    const head = String((await git(['rev-parse', 'HEAD'])).stdout).trim();
    const t0 = Date.now();
    const [a, b] = await Promise.all([git(['push', sshd.remote('ssh-a'), 'main']), git(['push', sshd.remote('ssh-b'), 'main'])]);
    const both = Date.now() - t0;
    expect(a.exitCode, output(a)).toBe(0);
    expect(b.exitCode, output(b)).toBe(0);
    for (const app of ['ssh-a', 'ssh-b']) {
      expect(await served(app)).toEqual({ status: 200, code: 'c2', release: 'v1' });
      expect(await d.json<Release[]>(['releases', app])).toMatchObject([{ version: 'v1', commit: head, current: true }]);
    }
    expect(both).toBeLessThan(60_000);
  });

  it('a push that hop3-server restarts under is rejected, its branch stays and its release never goes live', async () => {
    // Over SSH the hook outlives the daemon and reaches the restarted one: its verdict must still be the record's.
    const first = await git(['push', sshd.remote('ssh-crash'), 'main']);
    expect(first.exitCode, output(first)).toBe(0);
    const ref = async () => String((await git(['ls-remote', sshd.remote('ssh-crash'), 'refs/heads/main'])).stdout).split('\t')[0];
    const before = await ref();
    writeFileSync(join(work, 'hop3.toml'), HOP3_TOML.replace('workers = 1\n', 'workers = 1\nbefore-run = ["echo release phase started; sleep 5"]\n'));
    await commit('restarted');
    const push = execa('git', ['push', sshd.remote('ssh-crash'), 'HEAD:refs/heads/main'], { cwd: work, env: { ...GIT_ENV, ...sshd.gitEnv() }, reject: false, timeout: 120_000 });
    let seen = '';
    push.stderr?.on('data', (c: Buffer) => (seen += c.toString()));
    await within(60_000, () => seen.includes('release phase started'));
    await d.stop('SIGKILL');
    await d.start();
    const r = await push;
    expect(r.exitCode, output(r)).not.toBe(0);
    expect(String(r.stderr)).toMatch(/cancelled: hop3-server restarted during the push/);
    expect(String(r.stderr)).toContain('push rejected; the previous release keeps serving');
    expect(await ref()).toBe(before);
    await sleep(6000); // past the release command's own end
    const [newest] = await d.json<Release[]>(['releases', 'ssh-crash']);
    expect(newest).toMatchObject({ status: 'failed', current: false });
    expect((await served('ssh-crash')).code).toBe('c2');
    writeFileSync(join(work, 'hop3.toml'), HOP3_TOML);
    expect((await git(['commit', '-q', '-am', 'no release command'])).exitCode).toBe(0);
  });

  it('removes a key, after which it can no longer push', async () => {
    const r = await admin(['ssh-key', 'remove', 'alice']);
    expect(r.exitCode, output(r)).toBe(0);
    expect(JSON.parse(String((await admin(['ssh-key', 'list', '--json'])).stdout))).toEqual([]);
    const missing = await admin(['ssh-key', 'remove', 'alice']);
    expect(missing.exitCode).toBe(1);
    expect(String(missing.stderr)).toContain('no key named alice');
    await commit('after-removal');
    const push = await git(['push', sshd.remote('ssh-one'), 'main']);
    expect(push.exitCode).not.toBe(0);
    expect(String(push.stderr)).toMatch(/Permission denied/);
    expect((await served('ssh-one')).code).toBe('c2');
  });
});
