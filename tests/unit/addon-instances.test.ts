import { createHash, createHmac, pbkdf2Sync } from 'node:crypto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layoutOf } from '../../src/lib/layout.js';
import { newestBackupIn } from '../../src/plugins/addons/backups/catalogue.js';
import { UNKNOWN } from '../../src/lib/unknown.js';
import { instanceProvider, newInstanceSpec, type InstanceLive, type InstanceOps, type InstanceSpec } from '../../src/plugins/addons/instance-provider.js';
import { nativePasswordHash } from '../../src/plugins/addons/mariadb/server.js';
import { scramVerifier } from '../../src/plugins/addons/postgres/instances.js';
import { PASSWORD_PATTERN, randomPassword } from '../../src/plugins/addons/server-process.js';
import { createLogger } from '../../src/lib/logger.js';

const live = (over: Partial<InstanceLive> = {}): InstanceLive => ({ name: 'blog', parts: { database: true, role: true }, passwordValid: true, confined: true, ...over });

/** Plain data standing in for a server's answers: the provider's own logic, not a server's. */
function recording(seen: Map<string, InstanceLive | null> | typeof UNKNOWN) {
  const calls: string[] = [];
  const ops: InstanceOps = {
    observe: async () => seen,
    ensure: async (s) => void calls.push(`ensure ${s.name}`),
    drop: async (n) => void calls.push(`drop ${n}`),
    connectionDetails: () => ({}),
    dump: async () => ({ path: '', bytes: 0, sha256: '' }),
    restore: async () => undefined,
    shell: () => ({ program: 'client', args: [], env: {}, file: null }),
    adminSocket: () => '/nonexistent',
  };
  return { calls, provider: instanceProvider('pg-database', ops, newestBackupIn(layout)) };
}

const home = mkdtempSync(join(tmpdir(), 'hop3-addon-instances-'));
const layout = layoutOf(home);

describe('addon instances as resources', () => {
  const spec: InstanceSpec = newInstanceSpec('blog');
  const r = { kind: 'pg-database', name: 'blog', spec };

  it('diff: none only when every part is there, the credentials log in and access is what hop3 gave', () => {
    const { provider } = recording(new Map());
    expect(provider.diff(spec, live())).toBe('none');
    expect(provider.diff(spec, live({ passwordValid: false }))).toBe('update');
    expect(provider.diff(spec, live({ confined: false }))).toBe('update');
    expect(provider.diff(spec, live({ parts: { database: false, role: true } }))).toBe('update');
  });

  it('health and partial follow the parts', () => {
    const { provider } = recording(new Map());
    expect(provider.health!(live())).toBe('Healthy');
    expect(provider.health!(live({ passwordValid: false }))).toBe('Degraded');
    expect(provider.partial!(live({ parts: { database: false, role: true } }))).toBe(true);
    expect(provider.partial!(live())).toBe(false);
  });

  it('describe says what is wrong and never shows the password', () => {
    const { provider } = recording(new Map());
    const text = provider.describe(live({ parts: { database: false, role: true }, passwordValid: false, confined: false }));
    expect(text).toBe('pg-database blog (missing database; no backup to restore; a repair recreates it empty; credentials do not log in; access wider than hop3 gave)');
    expect(provider.describe(spec)).toBe('pg-database blog');
    expect(provider.describe(spec)).not.toContain(spec.password);
  });

  it('a dropped database names the newest verified backup to restore', () => {
    const { provider } = recording(new Map());
    const manifest = (id: string, verified: boolean) => {
      mkdirSync(join(layout.backups, 'blog', id), { recursive: true });
      writeFileSync(join(layout.backups, 'blog', id, 'manifest.json'), JSON.stringify({ id, addon: 'blog', files: [], verified }));
    };
    manifest('20261201T100000000Z-00000001', true);
    manifest('20261201T110000000Z-00000002', true);
    manifest('20261201T120000000Z-00000003', false);
    expect(provider.describe(live({ parts: { database: false, role: true } })))
      .toBe('pg-database blog (missing database; restore backup 20261201T110000000Z-00000002 (hop3 backup restore 20261201T110000000Z-00000002); a repair recreates it empty)');
  });

  it('a server that cannot be asked makes every desired instance UNKNOWN, never absent', async () => {
    const { provider } = recording(UNKNOWN);
    expect((await provider.observe('blog', [r])).get('blog')).toBe(UNKNOWN);
  });

  it('an instance the server does not have is absent', async () => {
    const { provider } = recording(new Map());
    expect((await provider.observe('blog', [r])).get('blog')).toBeNull();
  });

  it('create and update ensure, delete drops; a hostile name reaches neither', async () => {
    const { provider, calls } = recording(new Map());
    const actx = { owner: 'blog', log: createLogger('silent') };
    await provider.apply('create', 'blog', spec, null, actx);
    await provider.apply('update', 'blog', spec, live(), actx);
    await provider.apply('delete', 'blog', null, live(), actx);
    await expect(provider.apply('create', 'x; DROP', { ...spec, name: 'x; DROP' }, null, actx)).rejects.toMatchObject({ code: 'ADDON_NAME_INVALID' });
    await expect(provider.apply('delete', "x'--", null, null, actx)).rejects.toMatchObject({ code: 'ADDON_NAME_INVALID' });
    expect(calls).toEqual(['ensure blog', 'ensure blog', 'drop blog']);
  });
});

describe('credentials', () => {
  it('are random, 32 URL-safe characters', () => {
    const a = randomPassword();
    expect(a).toMatch(PASSWORD_PATTERN);
    expect(a).toHaveLength(32);
    expect(randomPassword()).not.toBe(a);
  });

  it('reach MariaDB as mysql_native_password hashes (the known value of PASSWORD(\'password\'))', () => {
    expect(nativePasswordHash('password')).toBe('*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19');
  });

  it('reach PostgreSQL as SCRAM-SHA-256 verifiers that a SCRAM client proof checks against', () => {
    const salt = Buffer.from('0123456789abcdef');
    const v = scramVerifier('pencil', salt, 4096);
    const m = /^SCRAM-SHA-256\$4096:([^$]+)\$([^:]+):(.+)$/.exec(v)!;
    expect(Buffer.from(m[1]!, 'base64').equals(salt)).toBe(true);
    // RFC 5802: StoredKey = H(HMAC(SaltedPassword, "Client Key")).
    const salted = pbkdf2Sync('pencil', salt, 4096, 32, 'sha256');
    const stored = createHash('sha256').update(createHmac('sha256', salted).update('Client Key').digest()).digest('base64');
    expect(m[2]).toBe(stored);
    expect(v).not.toContain('pencil');
    expect(scramVerifier('pencil')).not.toBe(scramVerifier('pencil'));
  });
});
