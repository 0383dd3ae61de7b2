import { relative } from 'node:path';
import type { Builder, PluginContext } from '../../types.js';
import { runBuildCommands, wants } from '../build-env.js';

/**
 * Apps no runtime is detected for: their Procfile (or `[run] start`) processes run as they are
 * from the source tree, after the `[build] before-build` commands, which are the whole build.
 */
export default function genericBuilder(ctx: PluginContext): Builder {
  return {
    kind: 'builder',
    name: 'generic',
    artifact: 'command',
    packages: [],
    accept: (b) => wants(b, 'generic'),
    async build(b) {
      if (b.spec.build.before.length === 0) b.onLine('-----> Generic build: no before-build commands, the source runs as it is');
      await runBuildCommands(ctx.exec, b);
      return { kind: 'command', dir: relative(ctx.layout.home, b.releaseDir), path: [], metadata: {} };
    },
  };
}
