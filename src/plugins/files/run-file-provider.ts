import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { writeFileAtomic } from '../../lib/fs-atomic.js';
import { privateDir } from '../../lib/layout.js';
import { readObserved, UNKNOWN } from '../../lib/unknown.js';
import type { Observed, Provider } from '../provider.js';
import { fileTargetFixture } from '../conformance.js';
import { join } from 'node:path';

/** A rendered file a unit reads at start (its environment, secrets included). */
export interface RunFileSpec {
  path: string;
  content: string;
}

export interface RunFileLive {
  path: string;
  content: string;
}

export const RUN_FILE_KIND = 'runfile';

const bytes = (v: { content: string }) => `${v.content.length} bytes`;

/**
 * Rendered files, written owner-only (0600) in an owner-only directory: they carry the app's
 * environment. Only desired files are looked at; they live in release directories, which go
 * with their release.
 */
export function runFileProvider(): Provider<RunFileSpec, RunFileLive> {
  return {
    kind: RUN_FILE_KIND,
    phase: 'sync',
    observesDesiredOnly: true,
    async observe(_owner, desired) {
      const seen: Observed<RunFileLive> = new Map();
      for (const r of desired) {
        const content = readObserved(r.spec.path);
        seen.set(r.name, content === UNKNOWN || content === null ? content : { path: r.spec.path, content });
      }
      return seen;
    },
    diff: (d, l) => (d.content === l.content ? 'none' : 'update'),
    async apply(op, _name, desired, live) {
      if (op === 'delete') {
        if (live) rmSync(live.path, { force: true });
        return;
      }
      privateDir(dirname(desired!.path));
      writeFileAtomic(desired!.path, desired!.content, 0o600);
    },
    describe: bytes,
    conformance: fileTargetFixture((layout, owner) => ({
      kind: RUN_FILE_KIND, name: `${owner}.v1.web`, spec: { path: join(layout.releaseDir(owner, 1), 'run', 'web.json'), content: '{"env": {}}\n' },
    })),
  };
}
