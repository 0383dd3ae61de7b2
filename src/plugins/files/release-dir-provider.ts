import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Layout } from '../../lib/layout.js';
import type { BuildArtifact, ReleaseRecord } from '../../store/types.js';
import type { DesiredResource, Observed, Provider } from '../provider.js';

export const RELEASE_DIR_KIND = 'release-dir';

export interface ReleaseDirLive {
  path: string;
}

/** The directories a release runs from: its own, its build's, and the build's virtualenv. */
const where = (layout: Layout, app: string) => [join(layout.app(app), 'releases'), join(layout.app(app), 'venvs')];

/**
 * Retention: release directories and virtualenvs of an app, named by their path under HOP3_HOME.
 * Only deletes (pruneOnly): the desired ones are what retention keeps; they are made by builds.
 */
export function releaseDirProvider(layout: Layout): Provider<Record<string, never>, ReleaseDirLive> {
  return {
    kind: RELEASE_DIR_KIND,
    phase: 'sync',
    pruneOnly: true,
    async observe(owner, desired) {
      const seen: Observed<ReleaseDirLive> = new Map(desired.map((r) => [r.name, null]));
      // The newest recorded release is always kept: a directory past it belongs to a release
      // being recorded right now (a deploy moves it into place), never to one retention drops.
      const horizon = Math.max(-1, ...desired.map((r) => Number(/\/releases\/v(\d+)$/.exec(r.name)?.[1] ?? -1)));
      if (horizon < 0) return seen; // no record: nothing of its releases is known to be kept
      const [releases, venvs] = where(layout, owner) as [string, string];
      for (const dir of [releases, venvs]) {
        let names: string[];
        try {
          names = readdirSync(dir);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
          throw err;
        }
        for (const f of names) {
          if (dir === releases && !(Number(/^v(\d+)$/.exec(f)?.[1] ?? Infinity) <= horizon)) continue;
          seen.set(relative(layout.home, join(dir, f)), { path: join(dir, f) });
        }
      }
      return seen;
    },
    diff: () => 'none',
    async apply(op, name, _desired, live, ctx) {
      const path = live?.path ?? join(layout.home, name);
      // Only ever a directory of the owner's releases or virtualenvs.
      if (!where(layout, ctx.owner).some((d) => path.startsWith(`${d}/`) && !path.slice(d.length + 1).includes('/'))) {
        throw new Error(`${path} is not a release directory of ${ctx.owner}`);
      }
      if (op === 'delete') rmSync(path, { recursive: true, force: true });
      else mkdirSync(path, { recursive: true });
    },
    describe: (v) => ('path' in v ? relative(layout.home, v.path) : 'kept'),
    conformance: {
      sample: (l, owner) => ({ kind: RELEASE_DIR_KIND, name: relative(l.home, l.releaseDir(owner, 1)), spec: {} }),
      // A file where the releases directory belongs cannot be listed.
      breakTarget(r) {
        const dir = join(layout.home, r.name, '..');
        rmSync(dir, { recursive: true, force: true });
        writeFileSync(dir, '');
      },
      repairTarget: (r) => rmSync(join(layout.home, r.name, '..'), { force: true }),
    },
  };
}

/**
 * What retention keeps of an app, from its records alone (pure): the newest HOP3_KEEP_RELEASES
 * builds that served (what a rollback can go back to), the release that is live or on its way
 * with everything it runs from, and the directories of the newest failed releases, for a look at
 * what went wrong. `goingLive`: the release this pass rolls out, kept as if it were live already
 * (its predecessor as retired), so what it pushes past retention goes in the same pass.
 */
export function keptReleaseDirs(
  layout: Layout, app: string, releases: ReleaseRecord[], desired: number | null, keep: number, goingLive: number | null,
): DesiredResource[] {
  const kept = new Set<string>();
  const dirOf = (r: ReleaseRecord) => relative(layout.home, layout.releaseDir(app, r.version));
  const keepBuild = (a: BuildArtifact) => {
    kept.add(a.dir);
    if (a.venv) kept.add(a.venv);
  };
  const builds = new Set<string>();
  const statusOf = (r: ReleaseRecord) => (goingLive === null ? r.status : r.version === goingLive ? 'live' : r.status === 'live' ? 'retired' : r.status);
  // Newest first.
  [...releases].sort((a, b) => b.version - a.version).forEach((r, i) => {
    const status = statusOf(r);
    if (status === 'live' || (r.version === desired && (status === 'pending' || status === 'built'))) {
      kept.add(dirOf(r));
      if (r.artifact) keepBuild(r.artifact);
    } else if (status === 'failed' && i < keep) {
      kept.add(dirOf(r));
    }
    // Builds that served, newest first; config releases and rollbacks share an earlier one.
    if ((status === 'live' || status === 'retired') && r.artifact && !builds.has(r.artifact.dir) && builds.size < keep) {
      builds.add(r.artifact.dir);
      keepBuild(r.artifact);
    }
  });
  return [...kept].sort().map((name) => ({ kind: RELEASE_DIR_KIND, name, spec: {} }));
}
