import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { run } from '../../../lib/exec.js';
import { detectBuilder } from '../../../spec/index.js';
import type { Builder, BuildContext, PluginContext } from '../../types.js';
import { buildEnv } from '../build-env.js';

function hasRequirements(src: string): boolean {
  const file = join(src, 'requirements.txt');
  if (!existsSync(file)) return false;
  return readFileSync(file, 'utf8').split('\n').some((l) => l.trim() !== '' && !l.trim().startsWith('#'));
}

/**
 * A virtualenv per release. It sees Debian's python3-* packages (system site packages), so apps
 * can use them without an index; pip runs only when requirements.txt lists something.
 */
export default function pythonBuilder(ctx: PluginContext): Builder {
  return {
    kind: 'builder',
    name: 'python',
    accept: (b: BuildContext) => detectBuilder(b.spec, (rel) => existsSync(join(b.releaseDir, 'src', rel))) === 'python',
    async build(b) {
      const src = join(b.releaseDir, 'src');
      const venv = join(b.releaseDir, 'venv');
      const withPip = hasRequirements(src);
      b.onLine(`-----> Creating virtualenv (${withPip ? 'with' : 'without'} pip)`);
      await run([ctx.config.pythonBin, '-m', 'venv', '--system-site-packages', ...(withPip ? [] : ['--without-pip']), venv], {
        cwd: src, onLine: b.onLine, timeoutMs: 120_000,
      });
      if (withPip) {
        b.onLine('-----> Installing requirements.txt');
        await run([join(venv, 'bin', 'pip'), 'install', '--no-input', '--disable-pip-version-check', '-r', 'requirements.txt'], {
          cwd: src, env: buildEnv(b, [join(venv, 'bin')]), cleanEnv: true, onLine: b.onLine, timeoutMs: 900_000,
        });
      }
      for (const cmd of b.spec.build.before) {
        b.onLine(`-----> Running build command: ${cmd}`);
        await run(['/bin/sh', '-c', cmd], { cwd: src, env: buildEnv(b, [join(venv, 'bin')]), cleanEnv: true, onLine: b.onLine, timeoutMs: 900_000 });
      }
      const { stdout } = await run([join(venv, 'bin', 'python'), '-c', 'import sys; print(sys.version.split()[0])']);
      return { kind: 'virtualenv', dir: relative(ctx.layout.home, b.releaseDir), metadata: { python: stdout.trim(), pip: withPip } };
    },
  };
}
