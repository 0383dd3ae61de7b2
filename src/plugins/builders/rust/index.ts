import { copyFileSync, cpSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { userError } from '../../../lib/errors.js';
import type { Builder, PluginContext } from '../../types.js';
import { buildEnv, runBuildCommands, wants } from '../build-env.js';
import { compileFailure, requireTool } from '../toolchain.js';
import { defaultBinary, isCargoMessage, parseCargoBinary, type CargoBinary } from './artifacts.js';
import { RUST_BINARY, RUST_DEFAULT_WEB } from './detect.js';

const PACKAGES = ['cargo', 'rustc'];

/**
 * Rust apps: `cargo build --release --offline` with Debian's cargo and rustc (crates.io is not
 * reachable from these machines: dependencies are vendored, `.cargo/config.toml` replacing the
 * crates.io source), the binaries copied into the release's bin/.
 *
 * Cargo rebuilds a dependency whose source path changed, and every release has its own path;
 * so cargo works on a copy of the source at one path per app (apps/<app>/cargo/src), with
 * CARGO_HOME, the target directory and TMPDIR beside it: the next build compiles only the app's
 * own crate. The copy's files are new, so their times are newer than any earlier build's and
 * cargo never takes another release's binary for this one (a rollback's older commit included).
 * Builds of one app never overlap (one pass per app; a leftover build is stopped first).
 */
export default function rustBuilder(ctx: PluginContext): Builder {
  return {
    kind: 'builder',
    name: 'rust',
    artifact: 'command',
    packages: PACKAGES,
    accept: (b) => wants(b, 'rust'),
    async build(b) {
      const cargo = requireTool('cargo', PACKAGES, 'Rust');
      requireTool('rustc', PACKAGES, 'Rust');
      const caches = join(ctx.layout.app(b.app), 'cargo');
      const work = join(caches, 'src');
      const target = join(caches, 'target');
      const tmp = join(caches, 'tmp');
      const bin = join(b.releaseDir, 'bin');
      for (const dir of [caches, target, tmp, bin]) mkdirSync(dir, { recursive: true, mode: 0o700 });
      rmSync(work, { recursive: true, force: true });
      // Links are copied as links: the tree was confined when it was unpacked.
      cpSync(join(b.releaseDir, 'src'), work, { recursive: true, verbatimSymlinks: true, preserveTimestamps: false });
      const env = {
        ...buildEnv(b),
        HOME: work,
        CARGO_HOME: join(caches, 'home'),
        CARGO_TARGET_DIR: target,
        CARGO_TERM_COLOR: 'never',
        TMPDIR: tmp,
      };
      const version = (await ctx.exec.run([cargo, '--version'], { env, cleanEnv: true, timeoutMs: 30_000 })).stdout.trim();
      b.onLine(`-----> ${version}`);
      b.onLine('-----> Running cargo build --release --offline');
      const reported: CargoBinary[] = [];
      const started = Date.now();
      try {
        await ctx.exec.run([cargo, 'build', '--release', '--offline', '--message-format=json-render-diagnostics'], {
          cwd: work, env, cleanEnv: true, timeoutMs: 900_000, killGroup: true, signal: b.signal, onSpawn: b.onSpawn,
          onLine: (line) => {
            if (!isCargoMessage(line)) return b.onLine(line);
            const found = parseCargoBinary(line, target);
            if (found && !reported.some((x) => x.name === found.name)) reported.push(found);
          },
        });
      } catch (err) {
        throw compileFailure(err, { shown: (line) => !isCargoMessage(line) });
      }
      // The app's build scripts write inside the target directory too: only a plain file is taken.
      const binaries = reported.filter((x) => lstatSync(x.executable, { throwIfNoEntry: false })?.isFile() === true);
      for (const x of binaries) copyFileSync(x.executable, join(bin, x.name));
      const main = defaultBinary(binaries);
      if (main !== null && main.name !== RUST_BINARY) copyFileSync(main.executable, join(bin, RUST_BINARY));
      if (main === null && b.spec.processes.some((p) => p.command === RUST_DEFAULT_WEB)) {
        throw userError('CARGO_BINARY_UNKNOWN', binaries.length === 0
          ? 'cargo built no binary, so there is nothing to run'
          : `cargo built ${binaries.map((x) => x.name).join(', ')}, and none is the one to run`, {
          hint: 'add a src/main.rs (or one [[bin]] named like the package), or a Procfile web: line naming the binary',
        });
      }
      b.onLine(`-----> Built ${binaries.map((x) => `bin/${x.name}`).join(', ') || 'no binary'}${main ? ` (bin/${RUST_BINARY}: ${main.name})` : ''} in ${Date.now() - started} ms`);
      await runBuildCommands(ctx.exec, b, [bin]);
      return { kind: 'command', dir: relative(ctx.layout.home, b.releaseDir), path: [relative(ctx.layout.home, bin)], metadata: { cargo: version, binaries: binaries.map((x) => x.name) } };
    },
  };
}
