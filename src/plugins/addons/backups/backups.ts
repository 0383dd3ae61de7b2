import { randomBytes } from 'node:crypto';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { asHop3Error, errorMessage, operationalError, userError } from '../../../lib/errors.js';
import type { Exec } from '../../../lib/exec.js';
import { KeyedMutex } from '../../../lib/keyed-mutex.js';
import type { Layout } from '../../../lib/layout.js';
import type { Logger } from '../../../lib/logger.js';
import { UNKNOWN } from '../../../lib/unknown.js';
import { appNameProblem } from '../../../manifest/app-name.js';
import { checkAddonName, isScratchName, SCRATCH_PREFIX } from '../addon-name.js';
import { newInstanceSpec, type InstanceOps, type InstanceSpec } from '../instance-provider.js';
import { describeContents, sameContents, type Contents, type Inventory } from '../inventory.js';
import type { AddonType } from '../server-process.js';
import { extractAppData, tarAppData } from './app-data.js';
import { Catalogue, checkBackupId, newBackupId, type BackupEntry, type BackupManifest, type BackupTrigger } from './catalogue.js';
import { expiredBackups } from './retention.js';

/** What backups need of an addon type: its instances' dump, restore and drop, and what a dump holds. */
export interface BackupTarget {
  type: AddonType;
  instances: Pick<InstanceOps, 'observe' | 'dump' | 'restore' | 'drop'>;
  inventory: Inventory;
}

export interface ResolvedAddon {
  name: string;
  type: AddonType;
  /** The instance's credentials from the records; null when they are not known here. */
  credentials: InstanceSpec | null;
}

/**
 * How backups find addons: the one seam between this layer and the addon records. Swapped for
 * one over the records once they exist (see src/commands/backups.ts).
 */
export interface AddonResolver {
  find(name: string): Promise<ResolvedAddon | null>;
  /** The server of a type, running: scratch instances and `--to` instances are made on it. */
  target(type: AddonType): Promise<BackupTarget>;
}

export interface BackupsContext {
  layout: Layout;
  log: Logger;
  exec: Exec;
  clock: () => Date;
  addons: AddonResolver;
}


/** Where app backups are kept: `_` is in no addon name, so no addon's directory is theirs. */
const APP_SUBJECT = '_app-';
export const appSubject = (app: string) => `${APP_SUBJECT}${app}`;
/** The addon or app name a catalogue directory is for. */
export const nameOfSubject = (subject: string) => (subject.startsWith(APP_SUBJECT) ? subject.slice(APP_SUBJECT.length) : subject);
const DUMP_FILE: Record<AddonType, string> = { postgres: 'dump.pgcustom.zst', mariadb: 'dump.sql', redis: 'dump.keys' };
const DATA_FILE = 'data.tar';

export interface RestoreResult {
  id: string;
  into: string;
  /** The backup of `into` taken just before (null when it had nothing to back up). */
  preRestore: string | null;
  /** Whether `into` was made by this restore (a `--to` name that did not exist). */
  created: boolean;
}

/**
 * Verified backups of addons and of apps' data directories. Every new backup of an addon is
 * restored into a scratch instance on the same server and compared with what its dump holds
 * before it is called verified; a restore checks the files' checksums before anything is touched.
 */
export class Backups {
  readonly catalogue: Catalogue;
  private readonly ctx: BackupsContext;
  /** One backup or restore of an instance at a time: a restore never runs under a dump of the same data. */
  private readonly busy = new KeyedMutex();

  constructor(ctx: BackupsContext) {
    this.ctx = ctx;
    this.catalogue = new Catalogue(ctx.layout.backups);
  }

  /** `backup create NAME`: an addon's dump, or (when no addon has that name) an app's data directory. */
  async create(name: string, trigger: BackupTrigger = 'manual'): Promise<BackupEntry> {
    const addon = isAddonish(name) ? await this.ctx.addons.find(name) : null;
    if (addon !== null) return this.busy.run(`addon:${name}`, () => this.createAddon(addon, trigger));
    if (this.isApp(name)) return this.busy.run(`app:${name}`, () => this.createApp(name, trigger));
    throw notFound(name);
  }

  /** The catalogue directory of an addon (first) or an app of that name; throws when there is neither. */
  async subjectOf(name: string): Promise<string> {
    if (isAddonish(name) && (await this.ctx.addons.find(name)) !== null) return name;
    if (this.isApp(name)) return appSubject(name);
    throw notFound(name);
  }

  private isApp(name: string): boolean {
    return appNameProblem(name) === undefined && existsSync(this.ctx.layout.app(name));
  }

  private async createAddon(addon: ResolvedAddon, trigger: BackupTrigger): Promise<BackupEntry> {
    const target = await this.ctx.addons.target(addon.type);
    const seen = await target.instances.observe([{ name: addon.name, password: addon.credentials?.password ?? '' }]);
    if (seen === UNKNOWN) throw operationalError('ADDON_SERVER_DOWN', `the ${addon.type} server of ${addon.name} does not answer: nothing was backed up`);
    if ((seen.get(addon.name) ?? null) === null) throw userError('BACKUP_SUBJECT_NOT_FOUND', `${addon.name} has no ${addon.type} instance on its server to back up`, { hint: `restore one of its backups: hop3 backup list ${addon.name}` });
    const createdAt = this.ctx.clock();
    const id = newBackupId(createdAt);
    const dir = this.catalogue.makeDir(addon.name, id);
    const file = DUMP_FILE[addon.type];
    let dump;
    try {
      dump = await target.instances.dump(addon.name, join(dir, file));
    } catch (err) {
      // No manifest, no backup: what the dump left goes.
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const verification = await this.verifyDump(target, dump.path);
    const m: BackupManifest = {
      id, addon: addon.name, type: addon.type, createdAt: createdAt.toISOString(), bytes: dump.bytes,
      files: [{ name: file, bytes: dump.bytes, sha256: dump.sha256 }], trigger, ...verification,
    };
    this.catalogue.writeManifest(addon.name, m);
    this.ctx.log.info({ addon: addon.name, id, bytes: dump.bytes, verified: m.verified, trigger }, 'addon backed up');
    return { ...m, status: 'ok' };
  }

  private async createApp(app: string, trigger: BackupTrigger): Promise<BackupEntry> {
    const createdAt = this.ctx.clock();
    const id = newBackupId(createdAt);
    const subject = appSubject(app);
    const dir = this.catalogue.makeDir(subject, id);
    let tar;
    try {
      tar = await tarAppData(this.ctx.exec, join(this.ctx.layout.app(app), 'data'), join(dir, DATA_FILE));
    } catch (err) {
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
    const m: BackupManifest = {
      id, addon: app, type: 'app-data', createdAt: createdAt.toISOString(), bytes: tar.bytes,
      files: [{ name: DATA_FILE, bytes: tar.bytes, sha256: tar.sha256 }], trigger,
      // Its verification: tar read the archive back entry by entry, and found as many as it wrote.
      verified: tar.verified, verifiedAt: tar.verified ? this.ctx.clock().toISOString() : null, contents: { names: [], count: tar.entries },
      ...(tar.error === undefined ? {} : { error: tar.error }),
    };
    this.catalogue.writeManifest(subject, m);
    return { ...m, status: 'ok' };
  }

  /**
   * Restore `path` into a scratch instance and compare what it then holds with what the dump
   * holds. The scratch instance is dropped whatever happens.
   */
  async verifyDump(target: BackupTarget, path: string): Promise<Pick<BackupManifest, 'verified' | 'verifiedAt' | 'error' | 'contents'>> {
    const scratch = `${SCRATCH_PREFIX}${randomBytes(4).toString('hex')}`;
    let expected: Contents | undefined;
    try {
      const there = await target.instances.observe([{ name: scratch, password: '' }]);
      // Never restored over something that exists: a scratch name is random, but an addon could have it.
      if (there === UNKNOWN || (there.get(scratch) ?? null) !== null) throw operationalError('ADDON_COMMAND_FAILED', `the scratch instance ${scratch} could not be made`);
      expected = await target.inventory.ofDump(path);
      const spec = newInstanceSpec(scratch);
      try {
        await target.instances.restore(spec, path);
        const got = await target.inventory.of(scratch);
        if (!sameContents(expected, got)) {
          throw operationalError('ADDON_COMMAND_FAILED', `restored into a scratch instance, it holds ${describeContents(got)} where the dump holds ${describeContents(expected)}`);
        }
      } finally {
        await target.instances.drop(scratch).catch((err: unknown) => this.ctx.log.warn({ scratch, err: errorMessage(err) }, 'a scratch instance was not dropped'));
      }
      return { verified: true, verifiedAt: this.ctx.clock().toISOString(), contents: expected };
    } catch (err) {
      const error = asHop3Error(err).message;
      this.ctx.log.warn({ path, error }, 'a backup did not verify');
      return { verified: false, verifiedAt: this.ctx.clock().toISOString(), error, ...(expected ? { contents: expected } : {}) };
    }
  }

  /** Every backup (or one addon's or app's), newest first, each checked against its checksums. */
  async list(name?: string): Promise<BackupEntry[]> {
    if (name === undefined) return this.catalogue.list();
    const subjects = [isAddonish(name) ? name : null, appNameProblem(name) === undefined ? appSubject(name) : null].filter((s): s is string => s !== null);
    if (subjects.length === 0) throw userError('BACKUP_SUBJECT_NOT_FOUND', `${JSON.stringify(name.slice(0, 60))} is not an addon or app name`);
    return (await Promise.all(subjects.map((s) => this.catalogue.list(s)))).flat().sort((a, b) => (a.id < b.id ? 1 : -1));
  }

  /**
   * `backup restore ID [--to NAME]`: checksums first (a corrupt backup is never restored), then
   * a backup of what is there now (trigger `pre-restore`), then the restore. Into the backup's
   * own addon by default, or into another instance of the same type.
   */
  async restore(id: string, opts: { to?: string | undefined } = {}): Promise<RestoreResult> {
    const found = this.catalogue.locate(checkBackupId(id));
    if (found === null) throw userError('BACKUP_NOT_FOUND', `there is no backup ${id}`);
    const entry = await this.catalogue.check(found.subject, found.manifest);
    if (entry.status === 'corrupt') throw operationalError('BACKUP_CORRUPT', `backup ${id} is corrupt (${entry.problem}): it was not restored`);
    const file = join(this.catalogue.dir(found.subject, id), entry.files[0]!.name);
    if (entry.type === 'app-data') {
      const app = opts.to ?? entry.addon;
      return this.busy.run(`app:${app}`, () => this.restoreApp(entry, file, app));
    }
    const into = opts.to === undefined ? entry.addon : checkAddonName(opts.to);
    if (isScratchName(into)) throw userError('ADDON_NAME_INVALID', `${into} is a name hop3 keeps for verifying backups`);
    const type = entry.type;
    return this.busy.run(`addon:${into}`, () => this.restoreAddon(entry, type, file, into));
  }

  private async restoreAddon(entry: BackupEntry, type: AddonType, file: string, into: string): Promise<RestoreResult> {
    const { id } = entry;
    const existing = await this.ctx.addons.find(into);
    // Into a recorded addon only: an instance made here would have credentials nobody records.
    if (existing === null) {
      throw userError('ADDON_NOT_FOUND', `there is no addon called ${into}`, { hint: `create it first: \`hop3 addons create ${type} ${into}\`` });
    }
    if (existing.type !== type) throw userError('ADDON_BACKUP_INVALID', `backup ${id} is a ${type} backup; ${into} is a ${existing.type} addon`);
    if (existing.credentials === null) {
      throw userError('ADDON_BACKUP_INVALID', `the credentials of ${into} are not known here, so it cannot be restored in place without changing them`);
    }
    const target = await this.ctx.addons.target(type);
    const spec = existing.credentials;
    const seen = await target.instances.observe([spec]);
    if (seen === UNKNOWN) throw operationalError('ADDON_SERVER_DOWN', `the ${type} server does not answer: nothing was restored`);
    const there = (seen.get(into) ?? null) !== null;
    // What is there now is kept first: a restore of the wrong backup can be undone.
    const preRestore = there ? (await this.createAddon(existing, 'pre-restore')).id : null;
    await target.instances.restore(spec, file);
    this.ctx.log.info({ id, into, preRestore }, 'backup restored');
    return { id, into, preRestore, created: !there };
  }

  private async restoreApp(entry: BackupEntry, file: string, app: string): Promise<RestoreResult> {
    const problem = appNameProblem(app);
    if (problem) throw userError('APP_NAME_INVALID', problem.message, { hint: problem.hint });
    if (!existsSync(this.ctx.layout.app(app))) throw userError('APP_NOT_FOUND', `there is no app called ${app}`);
    const data = join(this.ctx.layout.app(app), 'data');
    const preRestore = existsSync(data) ? (await this.createApp(app, 'pre-restore')).id : null;
    const fresh = `${data}.restore-${randomBytes(4).toString('hex')}`;
    try {
      await extractAppData(this.ctx.exec, file, fresh);
      const old = `${data}.old-${randomBytes(4).toString('hex')}`;
      if (existsSync(data)) renameSync(data, old);
      renameSync(fresh, data);
      rmSync(old, { recursive: true, force: true });
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
    return { id: entry.id, into: app, preRestore, created: false };
  }

  /** Remove what `--keep N` lets go of; returns the ids removed. */
  async prune(name: string, keep: number): Promise<string[]> {
    const subject = await this.subjectOf(name);
    const gone = expiredBackups(await this.catalogue.list(subject), keep);
    for (const id of gone) this.catalogue.remove(subject, id);
    return gone;
  }
}

const notFound = (name: string) =>
  userError('BACKUP_SUBJECT_NOT_FOUND', `there is no addon or app called ${JSON.stringify(name.slice(0, 60))}`, { hint: 'hop3 addons and hop3 apps list them' });

function isAddonish(name: string): boolean {
  try {
    checkAddonName(name);
    return !isScratchName(name);
  } catch {
    return false;
  }
}
