import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { resolveInside } from '../../../lib/confine.js';
import { userError } from '../../../lib/errors.js';
import { readTextOrNull } from '../../../lib/fs-atomic.js';
import type { Builder, PluginContext } from '../../types.js';
import { buildEnv, runBuildCommands, wants } from '../build-env.js';
import { requireTool } from '../toolchain.js';
import { NODE_DEFAULT_WEB } from './detect.js';
import { RangeSyntaxError, satisfies } from './engines.js';

const PACKAGES = ['nodejs', 'npm'];
const LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json'];
/** Installs kept per app besides the current one: enough for a rollback's next build to hit. */
const KEEP_INSTALLS = 3;

interface PackageJson {
  scripts?: Record<string, unknown>;
  engines?: { node?: unknown };
}

/**
 * Node.js apps, with the machine's own `node` and `npm` (Debian's nodejs and npm; never hop3's
 * private Node.js): `npm ci` with a lockfile, else `npm install`; `npm run build` when the app
 * has that script. An install from a lockfile is kept per app, keyed by the lockfile and the
 * Node.js version, and hard-linked into the next release with the same lockfile instead of
 * running npm again.
 */
export default function nodeBuilder(ctx: PluginContext): Builder {
  return {
    kind: 'builder',
    name: 'node',
    artifact: 'command',
    packages: PACKAGES,
    accept: (b) => wants(b, 'node'),
    async build(b) {
      const src = join(b.releaseDir, 'src');
      const node = requireTool('node', PACKAGES, 'Node.js');
      const npm = requireTool('npm', PACKAGES, 'Node.js');
      const pkg = readPackageJson(src);
      const version = (await ctx.exec.run([node, '--version'], { timeoutMs: 30_000 })).stdout.trim();
      checkEngines(pkg, version);
      b.onLine(`-----> Node.js ${version} (${node})`);
      if (b.spec.processes.some((p) => p.name === 'web' && p.command === NODE_DEFAULT_WEB) && typeof pkg.scripts?.start !== 'string' && !existsSync(join(src, 'server.js'))) {
        throw userError('PACKAGE_JSON_INVALID', 'package.json has no "start" script and there is no server.js, so `npm start` has nothing to run', {
          hint: 'add "scripts": {"start": "node server.js"} to package.json, or a Procfile with a web: line',
        });
      }
      const bin = join(src, 'node_modules', '.bin');
      const env = {
        ...buildEnv(b, [bin]),
        // Per app: one app's downloads are never another's.
        npm_config_cache: join(ctx.layout.app(b.app), 'npm-cache'),
        npm_config_update_notifier: 'false',
        npm_config_fund: 'false',
        npm_config_audit: 'false',
        npm_config_loglevel: 'warn',
      };
      const run = (argv: string[]) => ctx.exec.run(argv, { cwd: src, env, cleanEnv: true, onLine: b.onLine, timeoutMs: 900_000, killGroup: true, signal: b.signal, onSpawn: b.onSpawn });
      const lockfile = LOCKFILES.find((f) => resolveInside(src, f, 'the file') !== null);
      const started = Date.now();
      let reused = false;
      if (lockfile) {
        const lock = readTextOrNull(join(src, lockfile)) ?? '';
        const key = createHash('sha256').update(`${version}\n${lockfile}\n${lock}`).digest('hex').slice(0, 16);
        const installs = join(ctx.layout.app(b.app), 'node-modules');
        const cached = join(installs, key);
        if (existsSync(join(cached, '.hop3-ready'))) {
          rmSync(join(src, 'node_modules'), { recursive: true, force: true });
          await linkTree(ctx, join(cached, 'node_modules'), join(src, 'node_modules'), b.signal);
          reused = true;
          b.onLine(`-----> Reusing node_modules (${lockfile} unchanged): linked in ${Date.now() - started} ms`);
        } else {
          b.onLine(`-----> Installing dependencies: npm ci (${lockfile})`);
          await run([npm, 'ci']);
          b.onLine(`-----> Installed node_modules in ${Date.now() - started} ms`);
          // Kept before the app's own build script runs, so the cache holds npm's install only.
          if (existsSync(join(src, 'node_modules'))) await keepInstall(installs, key, join(src, 'node_modules'), ctx, b.signal);
        }
      } else {
        b.onLine('-----> Installing dependencies: npm install (no package-lock.json: nothing is reused)');
        await run([npm, 'install']);
        b.onLine(`-----> Installed node_modules in ${Date.now() - started} ms`);
      }
      const dependenciesMs = Date.now() - started;
      if (typeof pkg.scripts?.build === 'string') {
        b.onLine('-----> Running npm run build');
        await run([npm, 'run', 'build']);
      }
      await runBuildCommands(ctx.exec, b, [bin]);
      return {
        kind: 'command', dir: relative(ctx.layout.home, b.releaseDir), path: [relative(ctx.layout.home, bin)],
        metadata: { node: version, lockfile: lockfile ?? null, reused, dependenciesMs },
      };
    },
  };
}

function readPackageJson(src: string): PackageJson {
  const path = resolveInside(src, 'package.json', 'the file');
  if (path === null) {
    throw userError('PACKAGE_JSON_INVALID', 'the node builder needs a package.json, and there is none', { hint: 'add a package.json, or set [build] builder to the runtime the app uses' });
  }
  let data: unknown;
  try {
    data = JSON.parse(readTextOrNull(path) ?? '');
  } catch (err) {
    throw userError('PACKAGE_JSON_INVALID', `package.json is not valid JSON: ${(err as Error).message}`, { hint: 'check it with `npm pkg get`' });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) throw userError('PACKAGE_JSON_INVALID', 'package.json is not a JSON object', { hint: 'it holds {"name": ..., "scripts": {...}}' });
  return data as PackageJson;
}

/** `engines.node` against the machine's node: a clear error when it does not fit. */
function checkEngines(pkg: PackageJson, version: string): void {
  const range = pkg.engines?.node;
  if (range === undefined) return;
  if (typeof range !== 'string') throw userError('PACKAGE_JSON_INVALID', 'package.json engines.node is not a string', { hint: 'e.g. "engines": {"node": ">=18"}' });
  let fits: boolean;
  try {
    fits = satisfies(version, range);
  } catch (err) {
    if (!(err instanceof RangeSyntaxError)) throw err;
    throw userError('PACKAGE_JSON_INVALID', `package.json engines.node ${JSON.stringify(range)} is not a range hop3 understands: ${err.message}`, {
      hint: 'use comparators (>=18, <21), ^, ~, x-ranges, "A - B" and ||',
    });
  }
  if (!fits) {
    throw userError('ENGINES_MISMATCH', `package.json engines.node ${JSON.stringify(range)} does not allow this server's Node.js ${version}`, {
      hint: `widen engines.node to allow ${version}, or install a Node.js that fits on the server`,
    });
  }
}

/** Keep an install for the next release with the same lockfile; only the newest few stay. */
async function keepInstall(installs: string, key: string, modules: string, ctx: PluginContext, signal: AbortSignal | undefined): Promise<void> {
  mkdirSync(installs, { recursive: true, mode: 0o700 });
  const target = join(installs, key);
  const partial = join(installs, `.partial-${key}`);
  rmSync(partial, { recursive: true, force: true });
  rmSync(target, { recursive: true, force: true });
  mkdirSync(partial, { mode: 0o700 });
  // Hard links (cp -al, out of the daemon's event loop): no copy of the data, and each release
  // keeps a directory tree of its own.
  await linkTree(ctx, modules, join(partial, 'node_modules'), signal);
  writeFileSync(join(partial, '.hop3-ready'), '');
  renameSync(partial, target);
  const others = readdirSync(installs).filter((n) => n !== key && !n.startsWith('.'))
    .map((n) => ({ n, t: statSync(join(installs, n)).mtimeMs })).sort((a, b) => b.t - a.t);
  for (const { n } of others.slice(KEEP_INSTALLS - 1)) rmSync(join(installs, n), { recursive: true, force: true });
}

/** `to` becomes a tree of new directories whose files are hard links to those of `from`. */
async function linkTree(ctx: PluginContext, from: string, to: string, signal: AbortSignal | undefined): Promise<void> {
  await ctx.exec.run(['cp', '-a', '-l', '--', from, to], { timeoutMs: 300_000, signal });
}
