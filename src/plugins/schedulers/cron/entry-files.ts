import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Layout } from '../../../lib/layout.js';

/**
 * Where armed cron entries live: `HOP3_HOME/cron/<app>.<process>.json` (0600: they hold the app's
 * environment), beside what the scheduler keeps of each: `<name>.last` (its last run) and
 * `<name>.pgid` (the process group of a run under way). App and process names hold no dot, so a
 * file name always tells whose entry it is.
 */
export const cronDir = (layout: Layout): string => join(layout.home, 'cron');

/** The entry's resource name: `<app>.<process>`, unique across apps. */
export const entryName = (app: string, process: string): string => `${app}.${process}`;

const ENTRY_FILE = /^([a-z0-9][a-z0-9-]*)\.(cron(?:-[a-z0-9-]+)?)\.json$/;

export interface EntryFiles {
  entry: string;
  last: string;
  pgid: string;
}

export function entryFiles(dir: string, name: string): EntryFiles {
  return { entry: join(dir, `${name}.json`), last: join(dir, `${name}.last`), pgid: join(dir, `${name}.pgid`) };
}

/** The app and process an entry file is for, or null when the file is no entry. */
export function parseEntryFile(file: string): { app: string; process: string; name: string } | null {
  const m = ENTRY_FILE.exec(file);
  return m ? { app: m[1]!, process: m[2]!, name: entryName(m[1]!, m[2]!) } : null;
}

type EntryId = { app: string; process: string; name: string };

/**
 * What `dir` holds: every entry armed there, and the names with a run's group recorded. A
 * directory that is not there holds none; one that cannot be read throws.
 */
export function readCronDir(dir: string): { entries: EntryId[]; groups: Set<string> } {
  let files: string[];
  try {
    files = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], groups: new Set() };
    throw err;
  }
  return cronDirOf(files);
}

/** What a listing of the cron directory holds (see readCronDir). */
export function cronDirOf(files: string[]): { entries: EntryId[]; groups: Set<string> } {
  const entries = [...files].sort().flatMap((f) => parseEntryFile(f) ?? []);
  const groups = new Set(files.filter((f) => f.endsWith('.pgid')).map((f) => f.slice(0, -'.pgid'.length)));
  return { entries, groups };
}

/** Every entry armed in `dir` (of `app`, when given). */
export function listEntries(dir: string, app?: string): EntryId[] {
  return readCronDir(dir).entries.filter((e) => app === undefined || e.app === app);
}

/** What an entry file holds: everything a run needs, so a run never reads the records. */
export interface CronEntry {
  app: string;
  process: string;
  release: number;
  schedule: string;
  command: string;
  cwd: string;
  env: Record<string, string>;
}

export function renderEntry(e: CronEntry): string {
  return `${JSON.stringify(e, null, 2)}\n`;
}

/** An entry file's content, checked field by field; null when it is not one (edited by hand, cut short). */
export function parseEntry(content: string): CronEntry | null {
  let v: unknown;
  try {
    v = JSON.parse(content);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const e = v as Record<string, unknown>;
  const strings = ['app', 'process', 'schedule', 'command', 'cwd'].every((k) => typeof e[k] === 'string');
  const env = typeof e.env === 'object' && e.env !== null && Object.values(e.env).every((x) => typeof x === 'string');
  if (!strings || !env || !Number.isInteger(e.release)) return null;
  return v as CronEntry;
}
