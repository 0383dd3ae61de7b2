import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { run } from '../../../lib/exec.js';
import { detectBuilder } from '../../../spec/index.js';
import type { Builder, BuildContext, PluginContext } from '../../types.js';
import { buildEnv } from '../build-env.js';

/** Static sites: the source is the artifact; optional build commands may generate it. */
export default function staticBuilder(ctx: PluginContext): Builder {
  return {
    kind: 'builder',
    name: 'static',
    accept: (b: BuildContext) => detectBuilder(b.spec, (rel) => existsSync(join(b.releaseDir, 'src', rel))) === 'static',
    async build(b) {
      const src = join(b.releaseDir, 'src');
      for (const cmd of b.spec.build.before) {
        b.onLine(`-----> Running build command: ${cmd}`);
        await run(['/bin/sh', '-c', cmd], { cwd: src, env: buildEnv(b), cleanEnv: true, onLine: b.onLine, timeoutMs: 900_000 });
      }
      b.onLine('-----> Static site: nothing to compile');
      return { kind: 'static', dir: relative(ctx.layout.home, b.releaseDir), metadata: {} };
    },
  };
}
