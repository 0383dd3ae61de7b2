import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { addKey, authorizedKeysPath, listKeys, removeKey } from '../../src/git/authorized-keys.js';
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
