import { join } from 'node:path';
import type { Layout } from '../lib/layout.js';
import type { ReleaseRecord } from '../store/types.js';

/** Where a release's processes run and what they see: the same for a vassal as for a cron run. */
export interface ProcessEnv {
  cwd: string;
  env: Record<string, string>;
  /** Where the release's virtualenv is (or would be: only a Python release has one). */
  venv: string;
}

/**
 * The environment of one process of a built release: the release's own variables (with those its
 * addons give it), its PATH (the virtualenv, or the directories its builder named), and hop3's
 * HOP3_* names. Nothing of the daemon's own environment. Pure.
 */
export function processEnv(layout: Layout, release: ReleaseRecord, process: string, port?: number, instance?: number): ProcessEnv {
  const artifact = release.artifact!;
  const cwd = join(layout.home, artifact.dir, 'src');
  // A command artifact (Node, Go, generic) has no virtualenv: its builder names what goes on PATH.
  const python = artifact.kind === 'virtualenv';
  const venv = join(layout.home, artifact.venv ?? join(artifact.dir, 'venv'));
  const path = python ? [join(venv, 'bin')] : (artifact.path ?? []).map((p) => join(layout.home, p));
  const env: Record<string, string> = {
    ...release.env,
    PATH: [...path, '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    ...(python ? { VIRTUAL_ENV: venv } : {}),
    // A rack artifact's gems: its processes, cron runs and one-off commands all load them.
    ...(artifact.gems === undefined ? {} : { GEM_HOME: join(layout.home, artifact.gems) }),
    HOME: join(layout.app(release.app), 'data'),
    LANG: release.env.LANG ?? 'C.UTF-8',
    ...(python ? { PYTHONUNBUFFERED: '1' } : {}),
    HOP3_APP: release.app,
    HOP3_RELEASE: `v${release.version}`,
    HOP3_PROCESS: process,
    ...(instance === undefined ? {} : { HOP3_INSTANCE: String(instance) }),
    ...(port === undefined ? {} : { PORT: String(port) }),
  };
  return { cwd, env, venv };
}
