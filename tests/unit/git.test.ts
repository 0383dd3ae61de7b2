import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import {
  addKey, authorizedKeysPath, forcedCommand, listKeys, removeKey, renderKeyLine, rewriteKeyLines, rewriteKeys, sshEntryPoint, type SshEntryPoint,
} from '../../src/git/authorized-keys.js';
import { renderSudoers, sudoersPath } from '../../src/git/ssh-account.js';
import { parseSshArgs } from '../../src/git/ssh-command.js';
import { preReceiveHook, splitPush } from '../../src/git/repo.js';
import { layoutOf } from '../../src/lib/layout.js';
import { KeyedMutex } from '../../src/lib/keyed-mutex.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFjqyMw3m7/Pfin/Aw5HXbuTjl52xRpI+pVq0xR/RfCa alice@laptop';
const KEY2 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb bob';

describe('authorized keys', () => {
  let home = '';
  const setup = () => {
    home = mkdtempSync(join(tmpdir(), 'hop3-keys-'));
    const config = loadConfig({ HOP3_HOME: home, HOP3_LISTEN: '127.0.0.1:8123' }, 0);
    return { config, layout: layoutOf(home) };
  };
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('writes a forced-command line with no shell, forwarding or pty, mode 0600', () => {
    const { config, layout } = setup();
    expect(addKey(config, layout, KEY)).toEqual({ name: 'alice@laptop', type: 'ssh-ed25519' });
    const text = readFileSync(authorizedKeysPath(layout), 'utf8');
    expect(text).toMatch(/^command="[^"]+ssh-entry\.js --home \S+ --api 127\.0\.0\.1:8123 --key alice@laptop",restrict,no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty ssh-ed25519 \S+ hop3:alice@laptop\n$/);
    expect(statSync(authorizedKeysPath(layout)).mode & 0o777).toBe(0o600);
  });

  it('lists, refuses duplicates and removes by name', () => {
    const { config, layout } = setup();
    addKey(config, layout, KEY, 'alice');
    addKey(config, layout, KEY2, 'bob');
    expect(listKeys(layout)).toEqual([{ name: 'alice', type: 'ssh-ed25519' }, { name: 'bob', type: 'ssh-ed25519' }]);
    expect(() => addKey(config, layout, KEY, 'alice2')).toThrow(/already authorized/);
    expect(() => addKey(config, layout, KEY2, 'alice')).toThrow(/already authorized/);
    removeKey(layout, 'alice');
    expect(listKeys(layout).map((k) => k.name)).toEqual(['bob']);
    expect(() => removeKey(layout, 'alice')).toThrow(/no key named alice/);
  });

  it.each([
    ['not a key', 'hello world'],
    ['an option prefix', `command="sh" ${KEY}`],
    ['two lines', `${KEY}\n${KEY2}`],
    ['a quote in the key', 'ssh-ed25519 AAAA"x" c'],
  ])('refuses %s and writes nothing', (_n, text) => {
    const { config, layout } = setup();
    expect(() => addKey(config, layout, text, 'x')).toThrow(/not an OpenSSH public key/);
    expect(listKeys(layout)).toEqual([]);
  });

  it.each(['a b', 'x"y', 'a,b', 'n\nm', ''])('refuses the key name %j', (name) => {
    const { config, layout } = setup();
    expect(() => addKey(config, layout, KEY, name)).toThrow(/key name/);
  });
});

const EP: SshEntryPoint = { node: '/usr/bin/node', entry: '/opt/hop3/dist/src/git/ssh-entry.js', home: '/var/lib/hop3', api: '127.0.0.1:8000' };
const OPTIONS = 'restrict,no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty';
const [TYPE, B64] = KEY.split(' ') as [string, string];

describe('authorized keys: the two forms of the forced command', () => {
  it("renders the direct form (the daemon's own account) and the sudo form (HOP3_SSH_USER)", () => {
    const key = { type: TYPE, key: B64, name: 'alice' };
    expect(renderKeyLine(EP, 'direct', key)).toBe(
      `command="/usr/bin/node /opt/hop3/dist/src/git/ssh-entry.js --home /var/lib/hop3 --api 127.0.0.1:8000 --key alice",${OPTIONS} ${TYPE} ${B64} hop3:alice`,
    );
    expect(renderKeyLine(EP, 'sudo', key)).toBe(
      `command="sudo -n /usr/bin/node /opt/hop3/dist/src/git/ssh-entry.js --home /var/lib/hop3 --api 127.0.0.1:8000 --key alice",${OPTIONS} ${TYPE} ${B64} hop3:alice`,
    );
  });

  it.each([
    ['a node path with a space', { ...EP, node: '/opt/my node/bin/node' }, 'alice'],
    ['a node path with a quote', { ...EP, node: '/opt/x"/node' }, 'alice'],
    ['an entry path with a comma', { ...EP, entry: '/opt/a,b/ssh-entry.js' }, 'alice'],
    ['a key name with a space', EP, 'a b'],
  ])('refuses %s', (_n, ep, name) => {
    expect(() => forcedCommand(ep, name, 'sudo')).toThrow(/cannot write a forced command/);
  });

  it('rewrites the lines hop3 wrote in the other form, keeps other lines, and is a no-op the second time', () => {
    const other = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther admin@elsewhere';
    const text = [
      renderKeyLine(EP, 'direct', { type: TYPE, key: B64, name: 'alice' }),
      other,
      renderKeyLine({ ...EP, node: '/old/node' }, 'sudo', { type: 'ssh-rsa', key: 'AAAAB3NzaC1yc2E=', name: 'bob' }),
      '',
    ].join('\n');
    const r = rewriteKeyLines(text, EP, 'sudo');
    expect(r).toMatchObject({ keys: 2, changed: 2 });
    expect(r.text.split('\n')).toEqual([
      renderKeyLine(EP, 'sudo', { type: TYPE, key: B64, name: 'alice' }),
      other,
      renderKeyLine(EP, 'sudo', { type: 'ssh-rsa', key: 'AAAAB3NzaC1yc2E=', name: 'bob' }),
      '',
    ]);
    expect(rewriteKeyLines(r.text, EP, 'sudo')).toEqual({ text: r.text, keys: 2, changed: 0 });
    expect(rewriteKeyLines(r.text, EP, 'direct').text.split('\n')).toEqual([
      renderKeyLine(EP, 'direct', { type: TYPE, key: B64, name: 'alice' }),
      other,
      renderKeyLine(EP, 'direct', { type: 'ssh-rsa', key: 'AAAAB3NzaC1yc2E=', name: 'bob' }),
      '',
    ]);
    expect(rewriteKeyLines('', EP, 'sudo')).toEqual({ text: '', keys: 0, changed: 0 });
  });

  it('writes the file 0644 and .ssh 0755 in the sudo form (sshd reads it as the account), and keeps that mode', () => {
    const home = mkdtempSync(join(tmpdir(), 'hop3-keys-'));
    try {
      const config = loadConfig({ HOP3_HOME: home, HOP3_LISTEN: '0.0.0.0:8123' }, 0);
      const layout = layoutOf(home);
      addKey(config, layout, KEY, 'alice');
      expect(statSync(authorizedKeysPath(layout)).mode & 0o777).toBe(0o600);
      expect(rewriteKeys(config, layout, 'sudo')).toEqual({ keys: 1, changed: 1 });
      expect(statSync(authorizedKeysPath(layout)).mode & 0o777).toBe(0o644);
      expect(statSync(join(home, '.ssh')).mode & 0o777).toBe(0o755);
      const line = readFileSync(authorizedKeysPath(layout), 'utf8');
      expect(line).toBe(`${renderKeyLine(sshEntryPoint(config), 'sudo', { type: TYPE, key: B64, name: 'alice' })}\n`);
      expect(line).toContain('--api 127.0.0.1:8123 '); // a wildcard listen address is reached on loopback
      addKey(config, layout, KEY2, 'bob', 'sudo');
      removeKey(layout, 'alice', 'sudo');
      expect(statSync(authorizedKeysPath(layout)).mode & 0o777).toBe(0o644);
      expect(readFileSync(authorizedKeysPath(layout), 'utf8')).toMatch(/^command="sudo -n \S+ \S+ --home \S+ --api \S+ --key bob",/);
      writeFileSync(authorizedKeysPath(layout), '');
      expect(rewriteKeys(config, layout, 'sudo')).toEqual({ keys: 0, changed: 0 });
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe("the forced command's arguments", () => {
  it('takes exactly --home, --api and --key in that order', () => {
    expect(parseSshArgs(['--home', '/var/lib/hop3', '--api', '127.0.0.1:8000', '--key', 'alice@laptop'])).toEqual({ home: '/var/lib/hop3', api: '127.0.0.1:8000', key: 'alice@laptop' });
    expect(parseSshArgs(['--home', '/h', '--api', '[::1]:8000', '--key', 'k']).api).toBe('[::1]:8000');
  });

  it.each([
    ['nothing', []],
    ['a missing value', ['--home', '/h', '--api', '127.0.0.1:8000', '--key']],
    ['an argument after the key (what the sudo rule\'s glob lets through)', ['--home', '/h', '--api', '127.0.0.1:8000', '--key', 'k', '--home', '/tmp']],
    ['another order', ['--api', '127.0.0.1:8000', '--home', '/h', '--key', 'k']],
    ['a relative home', ['--home', 'h', '--api', '127.0.0.1:8000', '--key', 'k']],
    ['an API URL', ['--home', '/h', '--api', 'http://evil/', '--key', 'k']],
    ['a key name with a space', ['--home', '/h', '--api', '127.0.0.1:8000', '--key', 'a b']],
  ])('refuses %s', (_n, argv) => {
    expect(() => parseSshArgs(argv)).toThrow(/arguments are not --home HOME --api HOST:PORT --key NAME/);
  });
});

describe('sudo rule of the SSH account', () => {
  it('lets exactly the account run exactly the entry point as root, keeping SSH_ORIGINAL_COMMAND', () => {
    const text = renderSudoers('hop3', EP);
    expect(text.split('\n').filter((l) => l && !l.startsWith('#'))).toEqual([
      'Defaults:hop3 env_keep += "SSH_ORIGINAL_COMMAND"',
      'hop3 ALL=(root) NOPASSWD: /usr/bin/node /opt/hop3/dist/src/git/ssh-entry.js --home /var/lib/hop3 --api 127.0.0.1\\:8000 --key *',
    ]);
    expect(text.endsWith('\n')).toBe(true);
    // sudo skips files of /etc/sudoers.d whose name holds a '.'.
    expect(sudoersPath('hop3')).toBe('/etc/sudoers.d/hop3-hop3');
  });

  it.each([
    ['an account name sudoers would read otherwise', 'ALL', EP],
    ['an account name with a comma', 'a,b', EP],
    ['a relative node', 'hop3', { ...EP, node: 'node' }],
    ['a node path with a space', 'hop3', { ...EP, node: '/opt/my node' }],
    ['a node path with a glob', 'hop3', { ...EP, node: '/opt/*/node' }],
    ['an entry path with a comma', 'hop3', { ...EP, entry: '/opt/a,b/ssh-entry.js' }],
    ['an entry path with ..', 'hop3', { ...EP, entry: '/opt/hop3/../x.js' }],
    ['a home with a colon', 'hop3', { ...EP, home: '/srv/a:b' }],
    ['an IPv6 API address (brackets are sudo globs)', 'hop3', { ...EP, api: '[::1]:8000' }],
    ['an API address with a comma', 'hop3', { ...EP, api: 'a,b:80' }],
  ])('refuses %s', (_n, user, ep) => {
    expect(() => renderSudoers(user, ep)).toThrow(/cannot write .* into a sudo rule/);
  });
});

describe('pre-receive hook', () => {
  it('quotes every value and names the app', () => {
    const hook = preReceiveHook(loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_LISTEN: '0.0.0.0:8000' }, 0), 'my-app');
    expect(hook.startsWith('#!/bin/sh\n')).toBe(true);
    expect(hook).toContain("HOP3_HOME='/srv/hop3' HOP3_API_URL='http://127.0.0.1:8000' exec '");
    expect(hook.trimEnd().endsWith("/dist/src/git/pre-receive.js' 'my-app'")).toBe(true);
  });

  it('refuses a value a shell would read', () => {
    expect(() => preReceiveHook(loadConfig({ HOP3_HOME: '/srv/hop3' }, 0), "x'; rm -rf /")).toThrow(/refusing/);
  });

  it('splits the pushed refs into deploy branches and refs that are only stored', () => {
    const [a, b, z] = ['a'.repeat(40), 'b'.repeat(40), '0'.repeat(40)];
    const input = `${z} ${a} refs/heads/main\n${a} ${b} refs/heads/feature\n${z} ${a} refs/tags/v1\n${a} ${b} refs/heads/master\n`;
    const { stored, deploys } = splitPush(input, ['main', 'master']);
    expect(deploys.map((u) => [u.old, u.sha, u.branch])).toEqual([[z, a, 'main'], [a, b, 'master']]);
    expect(stored.map((u) => u.ref)).toEqual(['refs/heads/feature', 'refs/tags/v1']);
    // A branch named like a deploy branch outside refs/heads/ does not deploy.
    expect(splitPush(`${z} ${a} refs/tags/main\n`, ['main']).deploys).toEqual([]);
  });
});

describe('KeyedMutex', () => {
  it('runs one holder per key at a time, in arrival order, and other keys in parallel', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const step = (key: string, id: string, ms: number) =>
      m.run(key, async () => {
        log.push(`${id}+`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`${id}-`);
      });
    await Promise.all([step('a', 'a1', 30), step('a', 'a2', 1), step('b', 'b1', 5)]);
    expect(log.indexOf('a1-')).toBeLessThan(log.indexOf('a2+'));
    expect(log.indexOf('b1+')).toBeLessThan(log.indexOf('a1-'));
  });

  it('releases the lock when the holder throws', async () => {
    const m = new KeyedMutex();
    await expect(m.run('k', async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    await expect(m.run('k', async () => 'next')).resolves.toBe('next');
  });
});
