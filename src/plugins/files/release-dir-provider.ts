import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
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
  // A listing is redone only when its directory's mtime moves: a no-op pass over many apps
  // costs one stat per directory (and none of the exceptions a missing one would throw).
  const listings = new Map<string, { mtimeMs: number; at: number; names: string[] }>();
  const list = (dir: string): string[] => {
    const st = statSync(dir, { throwIfNoEntry: false });
    if (!st) {
      listings.delete(dir);
      return [];
    }
    if (!st.isDirectory()) throw new Error(`${dir} is not a directory`);
    const cached = listings.get(dir);
    // The kernel stamps mtimes from a coarse clock: a listing taken right after a change is not trusted.
    if (cached && cached.mtimeMs === st.mtimeMs && cached.at - st.mtimeMs >= 50) return cached.names;
    const names = readdirSync(dir);
    listings.set(dir, { mtimeMs: st.mtimeMs, at: Date.now(), names });
    return names;
  };
  const look = (owner: string, desired: DesiredResource[]): Observed<ReleaseDirLive> => {
    const seen: Observed<ReleaseDirLive> = new Map();
    // The newest recorded release is always kept: a directory past it belongs to a release
    // being recorded right now (a deploy moves it into place), never to one retention drops.
    let horizon = -1;
    const releasesOf = `apps/${owner}/releases/v`;
    for (const r of desired) {
      seen.set(r.name, null);
      if (r.name.startsWith(releasesOf)) horizon = Math.max(horizon, Number(r.name.slice(releasesOf.length)));
    }
    if (horizon < 0) return seen; // no record: nothing of its releases is known to be kept
    for (const sub of ['releases', 'venvs'] as const) {
      const rel = `apps/${owner}/${sub}/`;
      for (const f of list(`${layout.home}/apps/${owner}/${sub}`)) {
        if (sub === 'releases' && !(f.startsWith('v') && Number(f.slice(1)) <= horizon)) continue;
        seen.set(`${rel}${f}`, { path: `${layout.home}/${rel}${f}` });
      }
    }
    return seen;
  };
  // What the last look found per owner, for the keep-set it was taken for. hop3 adds a release
  // directory or a virtualenv only with a new release record, which changes the keep-set, so a
  // no-op pass over an unchanged keep-set looks at nothing; a delete drops the memo.
  const looked = new Map<string, { keep: string; seen: Observed<ReleaseDirLive> }>();
  return {
    kind: RELEASE_DIR_KIND,
    phase: 'sync',
    pruneOnly: true,
    async observe(owner, desired) {
      const keep = desired.map((r) => r.name).join('\n');
      const memo = looked.get(owner);
      if (memo?.keep === keep) return new Map(memo.seen);
      const seen = look(owner, desired);
      looked.set(owner, { keep, seen: new Map(seen) });
      return seen;
    },
    forget: (owner) => void looked.delete(owner),
    diff: () => 'none',
    async apply(op, name, _desired, live, ctx) {
      looked.delete(ctx.owner);
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
