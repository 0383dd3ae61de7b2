import { join } from 'node:path';
import type { Deployer, PluginContext } from '../../types.js';

/** Static sites run no process: the proxy serves the release's files directly. */
export default function staticDeployer(ctx: PluginContext): Deployer {
  return {
    kind: 'deployer',
    name: 'static',
    accept: (artifact) => artifact.kind === 'static',
    plan(release) {
      const dir = release.spec.processes.find((p) => p.kind === 'static')?.command ?? '.';
      const root = join(ctx.layout.home, release.artifact!.dir, 'src', dir).replace(/\/\.?$/, '');
      return { units: [], resources: [], info: { protocol: 'file', root } };
    },
  };
}
