import { relative } from 'node:path';
import type { Builder, PluginContext } from '../../types.js';
import { runBuildCommands, wants } from '../build-env.js';

/** Static sites: the source is the artifact; optional build commands may generate it. */
export default function staticBuilder(ctx: PluginContext): Builder {
  return {
    kind: 'builder',
    name: 'static',
    artifact: 'static',
    packages: [],
    accept: (b) => wants(b, 'static'),
    async build(b) {
      await runBuildCommands(ctx.exec, b);
      b.onLine('-----> Static site: nothing to compile');
      return { kind: 'static', dir: relative(ctx.layout.home, b.releaseDir), metadata: {} };
    },
  };
}
