import { createHash } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readTextOrNull } from '../../../lib/fs-atomic.js';
import type { Builder, PluginContext } from '../../types.js';
import { buildEnv, runBuildCommands, wants } from '../build-env.js';

const listsPackages = (requirements: string) => requirements.split('\n').some((l) => l.trim() !== '' && !l.trim().startsWith('#'));

/**
 * Python apps get a virtualenv that also sees Debian's python3-* packages (system site
 * packages), so they can use those without an index; pip runs only when requirements.txt lists
 * something. Releases with the same requirements.txt share one virtualenv, so a code change
 * does not rebuild it; apps with build commands (which may change it) get their own.
 */
export default function pythonBuilder(ctx: PluginContext): Builder {
  return {
    kind: 'builder',
    name: 'python',
    artifact: 'virtualenv',
    // python3 itself is among hop3's own packages (the OS plugin's); venv is the builder's.
    packages: ['python3-venv'],
    accept: (b) => wants(b, 'python'),
    async build(b) {
      const src = join(b.releaseDir, 'src');
      const requirements = readTextOrNull(join(src, 'requirements.txt')) ?? '';
      const withPip = listsPackages(requirements);
      const shared = b.spec.build.before.length === 0;
      const key = createHash('sha256').update(`${ctx.config.pythonBin}\n${requirements}`).digest('hex').slice(0, 16);
      const venv = shared ? join(ctx.layout.app(b.app), 'venvs', key) : join(b.releaseDir, 'venv');
      const ready = join(venv, '.hop3-ready');
      if (existsSync(ready)) {
        b.onLine('-----> Reusing virtualenv (requirements.txt unchanged)');
      } else {
        rmSync(venv, { recursive: true, force: true }); // a build cut short leaves no marker
        b.onLine(`-----> Creating virtualenv (${withPip ? 'with' : 'without'} pip)`);
        await ctx.exec.run([ctx.config.pythonBin, '-m', 'venv', '--system-site-packages', ...(withPip ? [] : ['--without-pip']), venv], {
          cwd: src, onLine: b.onLine, timeoutMs: 120_000, signal: b.signal,
        });
        if (withPip) {
          b.onLine('-----> Installing requirements.txt');
          await ctx.exec.run([join(venv, 'bin', 'pip'), 'install', '--no-input', '--disable-pip-version-check', '-r', 'requirements.txt'], {
            cwd: src, env: buildEnv(b, [join(venv, 'bin')]), cleanEnv: true, onLine: b.onLine, timeoutMs: 900_000, killGroup: true, signal: b.signal, onSpawn: b.onSpawn,
          });
        }
        await runBuildCommands(ctx.exec, b, [join(venv, 'bin')]);
        writeFileSync(ready, '');
      }
      const python = /^version(?:_info)?\s*=\s*(\S+)/m.exec(readTextOrNull(join(venv, 'pyvenv.cfg')) ?? '')?.[1] ?? 'unknown';
      return { kind: 'virtualenv', dir: relative(ctx.layout.home, b.releaseDir), venv: relative(ctx.layout.home, venv), metadata: { python, pip: withPip } };
    },
  };
}
