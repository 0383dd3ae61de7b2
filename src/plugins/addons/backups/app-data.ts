import { lstatSync, mkdirSync } from 'node:fs';
import { userError } from '../../../lib/errors.js';
import { ExecError, type Exec } from '../../../lib/exec.js';
import { writeDump } from '../dump-file.js';
import { lastLines } from '../server-process.js';

export interface AppDataTar {
  bytes: number;
  sha256: string;
  entries: number;
  verified: boolean;
  error?: string;
}

const TAR_TIMEOUT_MS = 3_600_000;
const lines = (out: string) => out.split('\n').filter((l) => l !== '').length;

/**
 * A tar of an app's data directory. GNU tar stores a symlink as a link and never follows it
 * (no --dereference), so nothing outside the directory is read; the directory itself must be a
 * real one, not a link to elsewhere. The archive is then listed back: as many entries as were
 * written, or it is not verified.
 */
export async function tarAppData(exec: Exec, dataDir: string, out: string): Promise<AppDataTar> {
  const st = lstatSync(dataDir, { throwIfNoEntry: false });
  if (!st) throw userError('BACKUP_SUBJECT_NOT_FOUND', `${dataDir} does not exist: the app has no data directory to back up`);
  if (!st.isDirectory()) throw userError('BACKUP_SUBJECT_NOT_FOUND', `${dataDir} is not a directory (a link is not followed): nothing was backed up`);
  let written = 0;
  const dump = await writeDump(out, async (tmp) => {
    const r = await exec.run(['tar', '--create', '--verbose', '--format=posix', '--numeric-owner', `--file=${tmp}`, `--directory=${dataDir}`, '--', '.'], { timeoutMs: TAR_TIMEOUT_MS });
    written = lines(r.stdout);
  });
  try {
    const listed = lines((await exec.run(['tar', '--list', `--file=${dump.path}`], { timeoutMs: TAR_TIMEOUT_MS })).stdout);
    if (listed !== written) return { bytes: dump.bytes, sha256: dump.sha256, entries: written, verified: false, error: `the archive lists ${listed} entries; ${written} were written` };
    return { bytes: dump.bytes, sha256: dump.sha256, entries: written, verified: true };
  } catch (err) {
    return { bytes: dump.bytes, sha256: dump.sha256, entries: written, verified: false, error: `tar cannot read it back: ${lastLines(err instanceof ExecError ? err.output : String(err))}` };
  }
}

/**
 * Unpack a data tar into `dir` (new). GNU tar refuses members with `..` and strips a leading
 * `/`, and makes a link whose target is absolute or has `..` only once every file is written,
 * so no member is written through a link the archive made. Owners and modes come back as they
 * were, by number (the app's account owns its data; as root, tar restores that).
 */
export async function extractAppData(exec: Exec, file: string, dir: string): Promise<void> {
  mkdirSync(dir, { mode: 0o700 });
  try {
    await exec.run(['tar', '--extract', `--file=${file}`, `--directory=${dir}`, '--numeric-owner', '--same-permissions', '--delay-directory-restore'], { timeoutMs: TAR_TIMEOUT_MS });
  } catch (err) {
    throw userError('ADDON_BACKUP_INVALID', `${file} does not unpack: ${lastLines(err instanceof ExecError ? err.output : String(err))}`, { cause: err });
  }
}
