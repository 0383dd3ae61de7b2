import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { userError } from '../../../lib/errors.js';
import { readTextOrNull, writeFileAtomic } from '../../../lib/fs-atomic.js';
import { privateDir, type Layout } from '../../../lib/layout.js';
import type { Contents } from '../inventory.js';
import { fileSha256 } from '../dump-file.js';

export type BackupTrigger = 'manual' | 'schedule' | 'destroy' | 'pre-restore';
/** An addon's type, or an app's data directory. */
export type BackupType = 'postgres' | 'mariadb' | 'redis' | 'app-data';

export interface BackupFile {
  name: string;
  bytes: number;
  sha256: string;
}

/** manifest.json: written last, by rename, so a backup without one is not a backup. */
export interface BackupManifest {
  id: string;
  /** The addon's name (or the app's, for `app-data`). */
  addon: string;
  type: BackupType;
  createdAt: string;
  bytes: number;
  files: BackupFile[];
  /** Restored into a scratch instance, which then held what the dump holds. */
  verified: boolean;
  verifiedAt: string | null;
  error?: string;
  trigger: BackupTrigger;
  /** What the dump holds (tables, keys), as the verification read it. */
  contents?: Contents;
}

/** A manifest as listed: `corrupt` when a file is missing or no longer matches its checksum. */
export interface BackupEntry extends BackupManifest {
  status: 'ok' | 'corrupt';
  problem?: string;
}

/** `20261201T203125123Z-9f3a1c2b`: sorts by creation time, then randomly among equals. */
export const BACKUP_ID = /^\d{8}T\d{9}Z-[0-9a-f]{8}$/;

export function newBackupId(now: Date): string {
  return `${now.toISOString().replace(/[-:.]/g, '')}-${randomBytes(4).toString('hex')}`;
}

export function checkBackupId(id: unknown): string {
  if (typeof id !== 'string' || !BACKUP_ID.test(id)) {
    throw userError('BACKUP_ID_INVALID', `${JSON.stringify(typeof id === 'string' ? id.slice(0, 60) : id)} is not a backup id`, { hint: 'ids look like 20261201T203125123Z-9f3a1c2b; hop3 backup list shows them' });
  }
  return id;
}

/**
 * The backups under HOP3_HOME/backups: `<subject>/<id>/` (0700) with the dump files and
 * manifest.json. Listing reads what is there: the directory tree is the catalogue, so a backup
 * copied in by hand is listed, and one whose files were damaged shows as corrupt.
 */
export class Catalogue {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  subjectDir(subject: string): string {
    return join(this.root, subject);
  }

  dir(subject: string, id: string): string {
    return join(this.root, subject, checkBackupId(id));
  }

  /** A new backup's directory, made 0700 (with its parents). */
  makeDir(subject: string, id: string): string {
    privateDir(this.root);
    privateDir(this.subjectDir(subject));
    const dir = this.dir(subject, id);
    mkdirSync(dir, { mode: 0o700 });
    return dir;
  }

  writeManifest(subject: string, m: BackupManifest): void {
    writeFileAtomic(join(this.dir(subject, m.id), 'manifest.json'), `${JSON.stringify(m, null, 2)}\n`, 0o600);
  }

  /** The subjects with a directory here (addons and apps' data). */
  subjects(): string[] {
    if (!existsSync(this.root)) return [];
    return readdirSync(this.root, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
  }

  readManifest(subject: string, id: string): BackupManifest | null {
    const text = readTextOrNull(join(this.dir(subject, id), 'manifest.json'));
    if (text === null) return null;
    try {
      const m = JSON.parse(text) as BackupManifest;
      return m.id === id && Array.isArray(m.files) ? m : null;
    } catch {
      return null;
    }
  }

  /** Checks every file against its manifest: size first, then sha256. */
  async check(subject: string, m: BackupManifest): Promise<BackupEntry> {
    const dir = this.dir(subject, m.id);
    for (const f of m.files) {
      // A name that leaves the backup's directory is no file of it.
      if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(f.name)) return { ...m, status: 'corrupt', problem: `file name ${JSON.stringify(f.name)} is not one hop3 writes` };
      const path = join(dir, f.name);
      const st = statSync(path, { throwIfNoEntry: false });
      if (!st?.isFile()) return { ...m, status: 'corrupt', problem: `${f.name} is missing` };
      if (st.size !== f.bytes) return { ...m, status: 'corrupt', problem: `${f.name} is ${st.size} bytes, the manifest says ${f.bytes}` };
      if ((await fileSha256(path)) !== f.sha256) return { ...m, status: 'corrupt', problem: `${f.name} does not match its sha256` };
    }
    return { ...m, status: 'ok' };
  }

  /** One subject's backups, newest first (or every subject's). A directory without a manifest is not listed. */
  async list(subject?: string): Promise<BackupEntry[]> {
    const out: BackupEntry[] = [];
    for (const s of subject === undefined ? this.subjects() : [subject]) {
      const dir = this.subjectDir(s);
      if (!existsSync(dir)) continue;
      for (const id of readdirSync(dir).filter((n) => BACKUP_ID.test(n))) {
        const m = this.readManifest(s, id);
        if (m !== null) out.push(await this.check(s, m));
      }
    }
    return out.sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  }

  /**
   * The newest backup of `subject` that verified, by its manifest alone (cheap: no checksums; a
   * restore checks them). For a finding that names the backup to restore.
   */
  newestVerified(subject: string): string | null {
    const dir = this.subjectDir(subject);
    if (!existsSync(dir)) return null;
    const ids = readdirSync(dir).filter((n) => BACKUP_ID.test(n)).sort().reverse();
    return ids.find((id) => this.readManifest(subject, id)?.verified === true) ?? null;
  }

  /** Where backup `id` is, whichever subject it belongs to; null when there is none. */
  locate(id: string): { subject: string; manifest: BackupManifest } | null {
    checkBackupId(id);
    for (const s of this.subjects()) {
      const m = existsSync(join(this.subjectDir(s), id)) ? this.readManifest(s, id) : null;
      if (m !== null) return { subject: s, manifest: m };
    }
    return null;
  }

  remove(subject: string, id: string): void {
    rmSync(this.dir(subject, id), { recursive: true, force: true });
  }
}

/** The newest verified backup of an addon, for the finding of its dropped database. */
export const newestBackupIn = (layout: Layout) => {
  const catalogue = new Catalogue(layout.backups);
  return (name: string) => catalogue.newestVerified(name);
};
