import { describe, expect, it } from 'vitest';
import { layoutOf } from '../../src/lib/layout.js';
import { keptReleaseDirs, releaseDirProvider } from '../../src/plugins/files/release-dir-provider.js';
import { plan } from '../../src/reconcile/plan.js';
import type { DesiredApp } from '../../src/reconcile/types.js';
import type { ReleaseRecord, ReleaseStatus } from '../../src/store/types.js';

const layout = layoutOf('/srv/hop3');
const dir = (v: number) => `apps/a/releases/v${v}`;

function rel(version: number, status: ReleaseStatus, build = version, venv = 'apps/a/venvs/req1'): ReleaseRecord {
  return {
    app: 'a', version, source: 'push', commit: null, env: {}, ports: {}, status, message: '', createdAt: '',
    spec: {} as ReleaseRecord['spec'],
    artifact: status === 'pending' ? null : { kind: 'virtualenv', dir: dir(build), venv, metadata: {} },
  };
}

const names = (rs: ReturnType<typeof keptReleaseDirs>) => rs.map((r) => r.name);

describe('retention: what the records keep (pure)', () => {
  it('keeps the newest builds that served, the live release and what it runs from, and the newest failed ones', () => {
    // v1-v3 builds; v4, v5 config releases on v3's build (v5 live); v6-v8 failed builds.
    const releases = [
      rel(1, 'retired'), rel(2, 'retired'), rel(3, 'retired'), rel(4, 'retired', 3), rel(5, 'live', 3),
      rel(6, 'failed'), rel(7, 'failed'), rel(8, 'failed'),
    ];
    expect(names(keptReleaseDirs(layout, 'a', releases, 8, 2, null))).toEqual([dir(2), dir(3), dir(5), dir(7), dir(8), 'apps/a/venvs/req1']);
  });

  it('a release rolling out is kept as live already: what it pushes past retention goes in the same pass', () => {
    const releases = [rel(1, 'retired'), rel(2, 'live'), rel(3, 'built')];
    expect(names(keptReleaseDirs(layout, 'a', releases, 3, 2, null))).toEqual([dir(1), dir(2), dir(3), 'apps/a/venvs/req1']);
    expect(names(keptReleaseDirs(layout, 'a', releases, 3, 2, 3))).toEqual([dir(2), dir(3), 'apps/a/venvs/req1']);
  });

  it('a pending release (being built) keeps its directory', () => {
    expect(names(keptReleaseDirs(layout, 'a', [rel(1, 'live'), rel(2, 'pending')], 2, 1, null))).toEqual([dir(1), dir(2), 'apps/a/venvs/req1']);
  });
});

describe('retention: planned as prune actions of the release-dir provider', () => {
  const p = releaseDirProvider(layout);
  const live = (...paths: string[]) => new Map(paths.map((n) => [n, { path: `/srv/hop3/${n}` }]));
  const app = (state: DesiredApp['state'], kept: string[]): DesiredApp => ({
    app: 'a', state, healPolicy: 'report', settled: true, target: rel(2, 'live'), health: null,
    resources: kept.map((name) => ({ kind: 'release-dir', name, spec: {} })),
  });

  it('deletes what is not kept, whatever the heal policy, and records no drift', () => {
    const r = plan(app('running', [dir(2)]), { resources: new Map([['release-dir', live(dir(1), dir(2))]]) }, [p]);
    expect(r.actions.map((a) => a.type === 'resource' && `${a.op}:${a.name}`)).toEqual([`delete:${dir(1)}`]);
    expect(r.findings).toEqual([]);
  });

  it('a stopped app keeps its releases: it can be started again', () => {
    const r = plan(app('stopped', [dir(2)]), { resources: new Map([['release-dir', live(dir(2))]]) }, [p]);
    expect(r.actions).toEqual([]);
  });

  it('never creates a kept directory that is gone (builds make them)', () => {
    const r = plan(app('running', [dir(2)]), { resources: new Map([['release-dir', new Map([[dir(2), null]])]]) }, [p]);
    expect(r.actions).toEqual([]);
  });
});
