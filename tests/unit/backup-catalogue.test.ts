import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fileSha256 } from '../../src/plugins/addons/dump-file.js';
import { BACKUP_ID, Catalogue, checkBackupId, newBackupId, type BackupEntry, type BackupManifest, type BackupTrigger } from '../../src/plugins/addons/backups/catalogue.js';
import { expiredBackups } from '../../src/plugins/addons/backups/retention.js';

let root: string;
let cat: Catalogue;

beforeEach(() => {
  root = join(mkdtempSync(join(tmpdir(), 'hop3-backups-')), 'backups');
  cat = new Catalogue(root);
});
afterEach(() => rmSync(join(root, '..'), { recursive: true, force: true }));

async function put(addon: string, at: string, body: string, extra: Partial<BackupManifest> = {}): Promise<BackupManifest> {
  const id = newBackupId(new Date(at));
  const dir = cat.makeDir(addon, id);
  writeFileSync(join(dir, 'dump.sql'), body);
  const m: BackupManifest = {
    id, addon, type: 'mariadb', createdAt: at, bytes: body.length, files: [{ name: 'dump.sql', bytes: body.length, sha256: await fileSha256(join(dir, 'dump.sql')) }],
    verified: true, verifiedAt: at, trigger: 'manual', ...extra,
  };
  cat.writeManifest(addon, m);
  return m;
}

describe('the backup catalogue on disk', () => {
  it('makes ids that sort by time and are refused when they are not ids', () => {
    const a = newBackupId(new Date('2026-12-01T20:31:25.123Z'));
    const b = newBackupId(new Date('2026-12-01T20:31:25.124Z'));
    expect(a).toMatch(BACKUP_ID);
    expect(a.startsWith('20261201T203125123Z-')).toBe(true);
    expect(a < b).toBe(true);
    expect(() => checkBackupId('../../etc')).toThrow(/is not a backup id/);
    expect(() => checkBackupId('20261201T203125123Z-zzzzzzzz')).toThrow(/is not a backup id/);
  });

  it('lists what the manifests say, newest first, with private directories and manifest', async () => {
    const old = await put('blog', '2026-12-01T10:00:00.000Z', 'one');
    const fresh = await put('blog', '2026-12-01T11:00:00.000Z', 'two');
    await put('shop', '2026-12-01T10:30:00.000Z', 'three');
    expect((await cat.list('blog')).map((e) => e.id)).toEqual([fresh.id, old.id]);
    expect((await cat.list()).map((e) => e.addon)).toEqual(['blog', 'shop', 'blog']);
    expect((await cat.list('blog')).every((e) => e.status === 'ok')).toBe(true);
    expect(statSync(cat.dir('blog', old.id)).mode & 0o777).toBe(0o700);
    expect(statSync(join(root, 'blog')).mode & 0o777).toBe(0o700);
    expect(statSync(join(cat.dir('blog', old.id), 'manifest.json')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(cat.dir('blog', old.id), 'manifest.json'), 'utf8')).files[0].sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(cat.locate(fresh.id)?.subject).toBe('blog');
    expect(cat.locate(newBackupId(new Date()))).toBeNull();
  });

  it('lists a backup whose file changed, shrank or went as corrupt, and one without a manifest not at all', async () => {
    const changed = await put('blog', '2026-12-01T10:00:00.000Z', 'abc');
    const shrunk = await put('blog', '2026-12-01T10:01:00.000Z', 'abcdef');
    const gone = await put('blog', '2026-12-01T10:02:00.000Z', 'xyz');
    const fine = await put('blog', '2026-12-01T10:03:00.000Z', 'ok');
    writeFileSync(join(cat.dir('blog', changed.id), 'dump.sql'), 'abd');
    writeFileSync(join(cat.dir('blog', shrunk.id), 'dump.sql'), 'abc');
    rmSync(join(cat.dir('blog', gone.id), 'dump.sql'));
    // A dump whose manifest was never written (the backup died halfway) is no backup.
    const half = newBackupId(new Date('2026-12-01T10:04:00.000Z'));
    writeFileSync(join(cat.makeDir('blog', half), 'dump.sql'), 'partial');
    const byId = new Map((await cat.list('blog')).map((e) => [e.id, e]));
    expect(byId.has(half)).toBe(false);
    expect(byId.get(fine.id)?.status).toBe('ok');
    expect(byId.get(changed.id)).toMatchObject({ status: 'corrupt', problem: 'dump.sql does not match its sha256' });
    expect(byId.get(shrunk.id)).toMatchObject({ status: 'corrupt', problem: 'dump.sql is 3 bytes, the manifest says 6' });
    expect(byId.get(gone.id)).toMatchObject({ status: 'corrupt', problem: 'dump.sql is missing' });
  });

  it('treats a manifest that names a file outside its directory as corrupt', async () => {
    const m = await put('blog', '2026-12-01T10:00:00.000Z', 'abc');
    cat.writeManifest('blog', { ...m, files: [{ name: '../../../etc/passwd', bytes: 1, sha256: 'x' }] });
    expect((await cat.list('blog'))[0]).toMatchObject({ status: 'corrupt' });
  });
});

const entry = (minute: number, trigger: BackupTrigger, verified = true, status: BackupEntry['status'] = 'ok'): BackupEntry => ({
  id: `20261201T10${String(minute).padStart(2, '0')}00000Z-00000000`, addon: 'blog', type: 'postgres', createdAt: '', bytes: 1, files: [],
  verified, verifiedAt: null, trigger, status,
});

describe('retention of scheduled backups (--keep N)', () => {
  it('removes scheduled backups past the N newest, and no manual, pre-restore or final one', () => {
    const all = [entry(1, 'schedule'), entry(2, 'manual'), entry(3, 'schedule'), entry(4, 'destroy'), entry(5, 'schedule'), entry(6, 'pre-restore'), entry(7, 'schedule')];
    expect(expiredBackups(all, 2)).toEqual([entry(3, 'schedule').id, entry(1, 'schedule').id]);
    expect(expiredBackups(all, 4)).toEqual([]);
  });

  it('never removes the newest verified intact backup, even when it is past N', () => {
    const all = [entry(1, 'schedule', true), entry(2, 'schedule', false), entry(3, 'schedule', false), entry(4, 'schedule', true, 'corrupt')];
    // The newest three are unverified or corrupt: the verified one at 10:01 stays.
    expect(expiredBackups(all, 1)).toEqual([entry(3, 'schedule').id, entry(2, 'schedule').id]);
    expect(expiredBackups([entry(1, 'schedule', true)], 0)).toEqual([]);
  });
});
