import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { KEY_BYTES, loadOrCreateKey, secretBox } from '../../src/lib/secret-box.js';

const dir = mkdtempSync(join(tmpdir(), 'hop3-secret-box-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('secret box (AES-256-GCM)', () => {
  const box = secretBox(randomBytes(KEY_BYTES));

  it('round-trips a value, and two seals of one value differ (fresh nonce)', () => {
    const a = box.seal('s3cr3t-pässword', 'pg-database:blog');
    const b = box.seal('s3cr3t-pässword', 'pg-database:blog');
    expect(a).not.toBe(b);
    expect(a).not.toContain('s3cr3t');
    expect(box.open(a, 'pg-database:blog')).toBe('s3cr3t-pässword');
    expect(box.open(b, 'pg-database:blog')).toBe('s3cr3t-pässword');
  });

  it('refuses a tampered ciphertext, tag or nonce', () => {
    const sealed = box.seal('password-one');
    const parts = sealed.split('.');
    for (const i of [1, 2, 3]) {
      const p = [...parts];
      const bytes = Buffer.from(p[i]!, 'base64url');
      bytes[0] = bytes[0]! ^ 1;
      p[i] = bytes.toString('base64url');
      expect(() => box.open(p.join('.')), `part ${i}`).toThrow(expect.objectContaining({ code: 'SECRET_UNREADABLE' }));
    }
    expect(() => box.open('not sealed')).toThrow(expect.objectContaining({ code: 'SECRET_UNREADABLE' }));
  });

  it('refuses a value opened with another key, or under another context (moved to another record)', () => {
    const sealed = box.seal('password-two', 'redis-user:a');
    expect(() => secretBox(randomBytes(KEY_BYTES)).open(sealed, 'redis-user:a')).toThrow(expect.objectContaining({ code: 'SECRET_UNREADABLE', category: 'operational' }));
    expect(() => box.open(sealed, 'redis-user:b')).toThrow(expect.objectContaining({ code: 'SECRET_UNREADABLE' }));
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => secretBox(randomBytes(16))).toThrow(expect.objectContaining({ code: 'SECRET_KEY_INVALID' }));
  });
});

describe('the key file', () => {
  it('is created once, 0600, 32 bytes, and read back the same afterwards', () => {
    const path = join(dir, 'secrets', 'addons.key');
    const key = loadOrCreateKey(path);
    expect(key.length).toBe(32);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadOrCreateKey(path).equals(key)).toBe(true);
    expect(readFileSync(path).equals(key)).toBe(true);
    // What was sealed with it opens with the key read again (a daemon restart).
    const sealed = secretBox(key).seal('kept');
    expect(secretBox(loadOrCreateKey(path)).open(sealed)).toBe('kept');
  });

  it('is made 0600 again when found readable by others', () => {
    const path = join(dir, 'loose.key');
    writeFileSync(path, randomBytes(32));
    chmodSync(path, 0o644);
    loadOrCreateKey(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('is never replaced when it has the wrong size (the records sealed with it would be lost)', () => {
    const path = join(dir, 'short.key');
    writeFileSync(path, 'too short', { mode: 0o600 });
    expect(() => loadOrCreateKey(path)).toThrow(expect.objectContaining({ code: 'SECRET_KEY_INVALID' }));
    expect(readFileSync(path, 'utf8')).toBe('too short');
  });

  it('leaves no temporary file beside it', async () => {
    const { readdirSync } = await import('node:fs');
    const sub = mkdtempSync(join(dir, 'k-'));
    loadOrCreateKey(join(sub, 'addons.key'));
    expect(readdirSync(sub)).toEqual(['addons.key']);
  });
});

describe('addon credentials in the records', () => {
  it('are sealed under secrets/addons.key, open for their own instance only', async () => {
    const { layoutOf } = await import('../../src/lib/layout.js');
    const { credentialBox, addonsKeyPath } = await import('../../src/plugins/addons/credentials.js');
    const layout = layoutOf(mkdtempSync(join(dir, 'home-')));
    const box = credentialBox(layout);
    expect(statSync(addonsKeyPath(layout)).mode & 0o777).toBe(0o600);
    const sealed = box.seal('pg-database', { name: 'blog', password: 'pw-of-blog-0123456789abcdef' });
    expect(sealed).not.toContain('pw-of-blog');
    // A restarted daemon (a new box over the same key file) opens it.
    expect(credentialBox(layout).open('pg-database', 'blog', sealed)).toEqual({ name: 'blog', password: 'pw-of-blog-0123456789abcdef' });
    expect(() => box.open('pg-database', 'shop', sealed)).toThrow(expect.objectContaining({ code: 'SECRET_UNREADABLE' }));
    expect(() => box.open('redis-user', 'blog', sealed)).toThrow(expect.objectContaining({ code: 'SECRET_UNREADABLE' }));
  });
});
