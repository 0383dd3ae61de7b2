import { createExec } from '../../src/lib/exec.js';
import { execa } from 'execa';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installSudoers } from '../../src/git/ssh-account.js';
import { Hop3Error } from '../../src/lib/errors.js';
import { appDir, Daemon, git as gitIn, output, ROOT } from './harness.js';
import { Sshd } from './sshd.js';

// The documented install: hop3-server runs as root, `hop3-server setup` makes the HOP3_SSH_USER
// account (home HOP3_HOME) and its sudo rule, and a system-like sshd (default
// AuthorizedKeysFile, StrictModes yes, no PAM) logs keys in as that account. Needs root, as on
// the test machines and in CI; the account and the sudo rule are removed afterwards.
const isRoot = process.getuid?.() === 0;
const USER = `h3t${randomBytes(4).toString('hex')}`;
const SUDOERS = `/etc/sudoers.d/hop3-${USER}`;

const APP_PY = `def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"pushed as ${USER}\\n"]
`;
const HOP3_TOML = '[run]\nstart = "app:application"\nworkers = 1\n\n[healthcheck]\npath = "/"\ntimeout = 10\n';

describe.runIf(isRoot)('git push over SSH to the account hop3-server setup makes', () => {
  const d = new Daemon({ HOP3_SSH_USER: USER });
  const sshd = new Sshd(d.home, { account: USER });
  const keysFile = join(d.home, '.ssh', 'authorized_keys');
  let work = '';

  const admin = (args: string[], env: Record<string, string> = {}) =>
    execa(join(ROOT, 'bin', 'hop3-server'), args, { env: { ...d.env, ...env }, reject: false, timeout: 60_000 });
  const git = (args: string[], key?: string) => gitIn(work, args, sshd.gitEnv(key));
  const asUser = (argv: string[]) => execa('runuser', ['-u', USER, '--', ...argv], { reject: false, timeout: 30_000 });
  const mode = (path: string) => statSync(path).mode & 0o7777;

  beforeAll(async () => {
    await d.start();
    await sshd.start();
    work = appDir({ 'app.py': APP_PY, 'hop3.toml': HOP3_TOML });
    expect((await git(['init', '-q', '-b', 'main'])).exitCode).toBe(0);
    expect((await git(['add', '-A'])).exitCode).toBe(0);
    expect((await git(['commit', '-q', '-m', 'base'])).exitCode).toBe(0);
  });
  afterAll(async () => {
    // Everything is undone even when a step fails; the account goes before its home.
    await sshd.stop().catch(() => undefined);
    if ((await execa('userdel', [USER], { reject: false })).exitCode !== 0) await execa('userdel', ['-f', USER], { reject: false });
    rmSync(SUDOERS, { force: true });
    await d.cleanup();
    if (work) rmSync(work, { recursive: true, force: true });
    expect((await execa('getent', ['passwd', USER], { reject: false })).exitCode).toBe(2);
    expect(existsSync(SUDOERS)).toBe(false);
  });

  it('a key added before setup runs as the daemon itself (no sudo)', async () => {
    const add = await admin(['ssh-key', 'add', `${sshd.clientKey}.pub`, '--name', 'early']);
    expect(add.exitCode, output(add)).toBe(0);
    expect(String(add.stdout)).toContain(`run hop3-server setup to push to ${USER}@HOST:APP`);
    expect(readFileSync(keysFile, 'utf8')).toMatch(/^command="\/\S+\/node \S+\/ssh-entry\.js --home /);
  });

  it('setup makes the account, the permissions sshd wants and the sudo rule, and rewrites the key', async () => {
    chmodSync(d.home, 0o700); // as mkdtemp made it: the account could not read its keys
    const r = await admin(['setup', '--skip-packages']);
    expect(r.exitCode, output(r)).toBe(0);
    const said = String(r.stderr);
    expect(said).toContain(`created the account ${USER}: home ${d.home}, shell /bin/sh, no password`);
    expect(said).toContain(`wrote ${SUDOERS} (checked with visudo)`);
    expect(said).toContain('1 key(s) authorized, 1 rewritten to run through sudo');
    expect(said).toContain(`${USER}@HOST:APP`);

    const passwd = String((await execa('getent', ['passwd', USER])).stdout).split(':');
    expect([passwd[5], passwd[6]]).toEqual([d.home, '/bin/sh']);
    for (const [path, m] of [[d.home, 0o751], [join(d.home, '.ssh'), 0o755], [keysFile, 0o644], [SUDOERS, 0o440]] as const) {
      expect([path, mode(path), statSync(path).uid]).toEqual([path, m, 0]);
    }
    const rule = readFileSync(SUDOERS, 'utf8');
    expect(rule).toContain(`Defaults:${USER} env_keep += "SSH_ORIGINAL_COMMAND"`);
    expect(rule).toMatch(new RegExp(`^${USER} ALL=\\(root\\) NOPASSWD: /\\S+/node \\S+/ssh-entry\\.js --home ${d.home} --api 127\\.0\\.0\\.1\\\\:${d.apiPort} --key \\*$`, 'm'));
    expect((await execa('visudo', ['-cf', SUDOERS], { reject: false })).exitCode).toBe(0);
    expect(readdirSync('/etc/sudoers.d').filter((f) => f.includes(USER))).toEqual([`hop3-${USER}`]);
    expect(readFileSync(keysFile, 'utf8')).toMatch(/^command="sudo -n \/\S+\/node \S+\/ssh-entry\.js --home \S+ --api \S+ --key early",restrict,.*no-pty ssh-ed25519 \S+ hop3:early\n$/);

    // Idempotent: a second run changes nothing and says so.
    const again = await admin(['setup', '--skip-packages']);
    expect(again.exitCode, output(again)).toBe(0);
    expect(String(again.stderr)).toContain(`account ${USER} (home ${d.home}) already exists`);
    expect(String(again.stderr)).toContain(`${SUDOERS} is up to date`);
    expect(String(again.stderr)).toContain('1 key(s) authorized, 0 rewritten');
  });

  it(`pushes to ${USER}@127.0.0.1:APP: the app deploys and serves`, async () => {
    const r = await git(['push', sshd.remote('acct-app'), 'main']);
    expect(r.exitCode, `${output(r)}\n${sshd.log()}`).toBe(0);
    expect(String(r.stderr)).toMatch(/remote: .*release v1 is live/);
    const served = await d.get('acct-app.localhost');
    expect(served).toEqual({ status: 200, body: `pushed as ${USER}\n` });
    const head = String((await git(['rev-parse', 'HEAD'])).stdout).trim();
    const ls = await git(['ls-remote', sshd.remote('acct-app'), 'refs/heads/main']);
    expect(ls.exitCode, output(ls)).toBe(0);
    expect(String(ls.stdout)).toContain(head);
  });

  it('refuses a shell or any command but git', async () => {
    for (const command of ['id', 'cat /etc/shadow', 'sudo -n /bin/sh -c id']) {
      const r = await sshd.ssh(command);
      expect(r.exitCode, output(r)).not.toBe(0);
      expect(String(r.stdout)).not.toMatch(/uid=|root:/);
      expect(String(r.stderr)).toContain('this key may only run git push');
    }
  });

  it('the sudo rule lets the account run the entry point as root and nothing else', async () => {
    const [, node, entry] = /^command="sudo -n (\S+) (\S+) /.exec(readFileSync(keysFile, 'utf8'))!;
    const shell = await asUser(['sudo', '-n', '/bin/sh', '-c', 'id']);
    expect(shell.exitCode).not.toBe(0);
    expect(String(shell.stderr)).toContain('a password is required');
    const otherHome = await asUser(['sudo', '-n', node!, entry!, '--home', '/tmp', '--api', `127.0.0.1:${d.apiPort}`, '--key', 'x']);
    expect(otherHome.exitCode).not.toBe(0);
    expect(String(otherHome.stderr)).toContain('a password is required');
    // The key name is the rule's only glob; more arguments after it pass sudo, the entry point refuses them.
    const smuggled = await asUser(['sudo', '-n', node!, entry!, '--home', d.home, '--api', `127.0.0.1:${d.apiPort}`, '--key', 'x', '--home', '/tmp']);
    expect(smuggled.exitCode).not.toBe(0);
    expect(String(smuggled.stderr)).toContain('error: the forced command\'s arguments are not --home HOME --api HOST:PORT --key NAME');

    // Pushes need the rule: without it the key is turned away; setup puts it back.
    rmSync(SUDOERS);
    const without = await git(['ls-remote', sshd.remote('acct-app')]);
    expect(without.exitCode).not.toBe(0);
    expect(String(without.stderr)).toContain('sudo: a password is required');
    expect((await admin(['setup', '--skip-packages'])).exitCode).toBe(0);
    expect((await git(['ls-remote', sshd.remote('acct-app')])).exitCode).toBe(0);
  });

  it('keys added and removed after setup use sudo and keep the file readable by the account', async () => {
    const late = await sshd.newKey('late');
    const add = await admin(['ssh-key', 'add', `${late}.pub`, '--name', 'late']);
    expect(add.exitCode, output(add)).toBe(0);
    expect(String(add.stdout)).toContain(`push to ${USER}@HOST:APP`);
    expect(String(add.stderr)).not.toContain('warning');
    expect(readFileSync(keysFile, 'utf8')).toMatch(/\ncommand="sudo -n \S+ \S+ --home \S+ --api \S+ --key late",.* hop3:late\n$/);
    expect(mode(keysFile)).toBe(0o644);
    expect((await git(['ls-remote', sshd.remote('acct-app')], late)).exitCode).toBe(0);

    const remove = await admin(['ssh-key', 'remove', 'late']);
    expect(remove.exitCode, output(remove)).toBe(0);
    expect(mode(keysFile)).toBe(0o644);
    expect((await git(['ls-remote', sshd.remote('acct-app')], late)).exitCode).not.toBe(0);
    expect((await git(['ls-remote', sshd.remote('acct-app')])).exitCode).toBe(0);
  });

  it('refuses an existing account whose home is not HOP3_HOME, installing nothing', async () => {
    // `daemon` is in every Debian base system, with the home /usr/sbin.
    const r = await admin(['setup', '--skip-packages'], { HOP3_SSH_USER: 'daemon' });
    expect(r.exitCode, output(r)).toBe(1);
    expect(String(r.stderr)).toContain(`error: the account daemon exists with the home /usr/sbin, not HOP3_HOME (${d.home})`);
    expect(String(r.stderr)).toContain('hint: set HOP3_SSH_USER to another name');
    expect(existsSync('/etc/sudoers.d/hop3-daemon')).toBe(false);
  });

  it('installs no sudo rule that visudo refuses', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hop3-sudoers-'));
    try {
      const err = await installSudoers(createExec(), USER, `${USER} ALL=(root) NOPASSWD: /bin/true,,\n`, dir).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Hop3Error);
      expect((err as Hop3Error).code).toBe('SUDOERS_INVALID');
      expect((err as Hop3Error).message).toContain('nothing was installed');
      expect(readdirSync(dir)).toEqual([]);
      // A good one is installed in one step, mode 0440, and left alone when unchanged.
      writeFileSync(join(dir, 'other'), 'x');
      const text = `${USER} ALL=(root) NOPASSWD: /bin/true\n`;
      expect(await installSudoers(createExec(), USER, text, dir)).toBe('written');
      expect(await installSudoers(createExec(), USER, text, dir)).toBe('unchanged');
      expect(readdirSync(dir).sort()).toEqual([`hop3-${USER}`, 'other']);
      expect(mode(join(dir, `hop3-${USER}`))).toBe(0o440);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
