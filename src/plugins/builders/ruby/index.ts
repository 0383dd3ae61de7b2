import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { resolveInside } from '../../../lib/confine.js';
import { userError } from '../../../lib/errors.js';
import type { Builder, PluginContext } from '../../types.js';
import { buildEnv, runBuildCommands, wants } from '../build-env.js';
import { compileFailure, requireTool, requireUwsgiPlugin } from '../toolchain.js';
import { RACK_DEFAULT_WEB } from './detect.js';

/** Debian 12's: its Ruby, the rack gem the rack plugin loads config.ru with, Bundler, and the plugin built for that Ruby. */
const RUNTIME = 'Ruby';
const PACKAGES = ['ruby', 'ruby-rack', 'bundler', 'uwsgi-plugin-rack-ruby3.1'];

/**
 * Ruby apps, with the machine's Ruby: `bundle install --local` when there is a Gemfile, so gems
 * come from the app's vendor/cache or from Debian's ruby-* packages, never from rubygems.org
 * (not reachable from these machines). Gems it installs go to the app's own GEM_HOME under
 * HOP3_HOME, one per Ruby version, shared by its releases. The default web process is the rack
 * app in config.ru, run by uWSGI's rack plugin for this Ruby (rack_rubyXY).
 */
export default function rubyBuilder(ctx: PluginContext): Builder {
  return {
    kind: 'builder',
    name: 'ruby',
    artifact: 'rack',
    packages: PACKAGES,
    accept: (b) => wants(b, 'ruby'),
    async build(b) {
      const src = join(b.releaseDir, 'src');
      const ruby = requireTool('ruby', PACKAGES, RUNTIME);
      const version = (await ctx.exec.run([ruby, '-e', 'print RUBY_VERSION'], { env: buildEnv(b), cleanEnv: true, timeoutMs: 30_000 })).stdout.trim();
      const [, major, minor] = /^(\d+)\.(\d+)\.\d+/.exec(version) ?? [];
      if (major === undefined || minor === undefined) throw new Error(`ruby printed ${JSON.stringify(version.slice(0, 80))} for its version`);
      const plugin = `rack_ruby${major}${minor}`;
      if (b.spec.processes.some((p) => p.kind === 'web' && p.command === RACK_DEFAULT_WEB)) {
        requireUwsgiPlugin(plugin, [`uwsgi-plugin-rack-ruby${major}.${minor}`, 'ruby-rack'], RUNTIME);
        if (resolveInside(src, 'config.ru', 'the file') === null) {
          throw userError('APP_ENTRY_MISSING', 'the web process is the rack app in config.ru, and there is no config.ru', {
            hint: 'add a config.ru (`run MyApp`), or a Procfile with a web: line that starts a server on $PORT',
          });
        }
      }
      b.onLine(`-----> Ruby ${version} (${ruby})`);
      const gems = join(ctx.layout.app(b.app), 'gems', `ruby-${major}.${minor}`);
      mkdirSync(gems, { recursive: true, mode: 0o700 });
      const bin = join(gems, 'bin');
      // GEM_HOME only (no GEM_PATH, no BUNDLE_PATH): Debian's gems stay visible beside the app's.
      const env = { ...buildEnv(b, [bin]), GEM_HOME: gems };
      const gemfile = resolveInside(src, 'Gemfile', 'the file') !== null;
      if (gemfile) {
        const bundle = requireTool('bundle', PACKAGES, RUNTIME);
        b.onLine('-----> Installing gems: bundle install --local (vendor/cache and the gems installed on the server)');
        try {
          // --no-cache: vendor/cache is read, never filled with the server's gems (which have no .gem files to copy).
          await ctx.exec.run([bundle, 'install', '--local', '--no-cache'], {
            cwd: src, env, cleanEnv: true, onLine: b.onLine, timeoutMs: 900_000, killGroup: true, signal: b.signal, onSpawn: b.onSpawn,
          });
        } catch (err) {
          throw compileFailure(err, { what: 'bundle install --local' });
        }
      }
      await runBuildCommands(ctx.exec, b, [bin], { GEM_HOME: gems });
      return {
        kind: 'rack', dir: relative(ctx.layout.home, b.releaseDir), path: [relative(ctx.layout.home, bin)], gems: relative(ctx.layout.home, gems), plugin,
        metadata: { ruby: version, bundler: gemfile },
      };
    },
  };
}
