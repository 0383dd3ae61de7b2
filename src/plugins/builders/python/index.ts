import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { run } from '../../../lib/exec.js';
import type { Builder, PluginContext } from '../../types.js';
import { buildEnv, runBuildCommands, wants } from '../build-env.js';

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
    accept: (b) => wants(b, 'python'),
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
      await runBuildCommands(b, [join(venv, 'bin')]);
      const { stdout } = await run([join(venv, 'bin', 'python'), '-c', 'import sys; print(sys.version.split()[0])']);
      return { kind: 'virtualenv', dir: relative(ctx.layout.home, b.releaseDir), metadata: { python: stdout.trim(), pip: withPip } };
    },
  };
}
