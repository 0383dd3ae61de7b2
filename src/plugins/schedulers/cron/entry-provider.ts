import { rmSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { writeFileAtomic } from '../../../lib/fs-atomic.js';
import type { Layout } from '../../../lib/layout.js';
import { privateDir } from '../../../lib/layout.js';
import { ObservedFiles } from '../../../lib/file-signature.js';
import { ListedDirectory } from '../../../lib/listed-directory.js';
import { UNKNOWN } from '../../../lib/unknown.js';
import { fileTargetFixture } from '../../conformance.js';
import type { Observed, Provider } from '../../provider.js';
import { cronDir, cronDirOf, entryFiles, entryName, parseEntry, parseEntryFile, renderEntry } from './entry-files.js';

export const CRON_KIND = 'cron';

/** An armed entry: its file, which the scheduler runs from. */
export interface CronEntrySpec {
  path: string;
  content: string;
}

export interface CronEntryLive extends CronEntrySpec {
  /** A run of it is under way (its process group is alive): what `describe` says of it. */
  running: boolean;
}

function describe(v: CronEntrySpec | CronEntryLive): string {
  const e = parseEntry(v.content);
  if (!e) return `an entry file hop3 did not write (${v.content.length} bytes)`;
  return `"${e.schedule}" ${e.process} of v${e.release}${'running' in v && v.running ? ' (a run under way)' : ''}`;
}

/**
 * Cron entries as resources: armed by writing the entry file (atomically, 0600) that the
 * scheduler reads each second, disarmed by removing it. Observed by reading the files there, so
 * after a restart the truth is what the directory holds, and an entry of no release (edited in,
 * or left by a destroy cut short) is pruned. Applied at the switch: a new release's entries run
 * once it serves, and until then the old release's go on.
 */
export function cronEntryProvider(layout: Layout, inFlight: (name: string) => boolean): Provider<CronEntrySpec, CronEntryLive> {
  const dir = cronDir(layout);
  const entries = new ObservedFiles();
  // Entry names by app; most homes have no cron directory at all.
  const listing = new ListedDirectory(dir, (files) => {
    const byApp = new Map<string, string[]>();
    for (const e of cronDirOf(files).entries) byApp.set(e.app, [...(byApp.get(e.app) ?? []), e.name]);
    return byApp;
  }, true);
  const listed = () => {
    const byApp = listing.look();
    if (byApp === UNKNOWN) throw new Error(`${dir} cannot be listed`);
    return byApp;
  };
  return {
    kind: CRON_KIND,
    phase: 'switch',
    async observe(owner, desired) {
      const seen: Observed<CronEntryLive> = new Map();
      const paths = new Map((listed().get(owner) ?? []).map((name) => [name, entryFiles(dir, name).entry]));
      for (const r of desired) paths.set(r.name, r.spec.path);
      for (const [name, path] of paths) {
        const content = entries.read(path);
        seen.set(name, content === UNKNOWN || content === null ? content : { path, content, running: inFlight(name) });
      }
      return seen;
    },
    diff: (d, l) => (d.content === l.content ? 'none' : 'update'),
    async apply(op, _name, desired, live) {
      listing.changed();
      if (op === 'delete') {
        if (!live) return;
        rmSync(live.path, { force: true });
        // A run under way finishes (a job cut in the middle would do more harm); none starts again.
        rmSync(entryFiles(dirname(live.path), basename(live.path, '.json')).last, { force: true });
        return;
      }
      privateDir(dirname(desired!.path));
      writeFileAtomic(desired!.path, desired!.content, 0o600);
    },
    describe,
    watchPaths() {
      // Watched from the start, so an entry file removed or edited by hand is noticed at once.
      privateDir(dir);
      return [dir];
    },
    ownerOf: (path) => (dirname(path) === dir ? parseEntryFile(basename(path))?.app ?? null : null),
    owners: () => [...listed().keys()],
    conformance: fileTargetFixture((l, owner) => {
      const name = entryName(owner, 'cron');
      const content = renderEntry({ app: owner, process: 'cron', release: 1, schedule: '*/5 * * * *', command: 'true', cwd: l.releaseDir(owner, 1), env: {} });
      return { kind: CRON_KIND, name, spec: { path: entryFiles(cronDir(l), name).entry, content } };
    }),
  };
}
