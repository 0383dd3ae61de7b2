import { mkdirSync, rmSync } from 'node:fs';
import type { Layout } from '../lib/layout.js';
import type { ConformanceFixture, DesiredResource } from './provider.js';

/**
 * The conformance fixture of a provider whose resource is one file at `spec.path`: a directory
 * put in its place cannot be read as a file, even by root.
 */
export function fileTargetFixture(sample: (layout: Layout, owner: string) => DesiredResource, needsServer = false): ConformanceFixture {
  const pathOf = (r: DesiredResource) => (r.spec as { path: string }).path;
  return {
    sample,
    needsServer,
    breakTarget(r) {
      rmSync(pathOf(r), { force: true });
      mkdirSync(pathOf(r), { recursive: true });
    },
    repairTarget: (r) => rmSync(pathOf(r), { recursive: true, force: true }),
  };
}
