import { join, relative } from 'node:path';
import { resolveInside } from '../../../lib/confine.js';
import { userError } from '../../../lib/errors.js';
import { readTextOrNull } from '../../../lib/fs-atomic.js';
import type { Builder, PluginContext } from '../../types.js';
import { buildEnv, runBuildCommands, wants } from '../build-env.js';
import { compileFailure, requireTool, requireUwsgiPlugin } from '../toolchain.js';
import { vendoredRequirements } from './composer.js';
import { PHP_DEFAULT_WEB } from './detect.js';

/** php-cli checks the front controller at build; uWSGI's php plugin (PHP's embed SAPI) runs it. */
const RUNTIME = 'PHP';
const PACKAGES = ['php-cli', 'uwsgi-plugin-php'];
/** The name uWSGI loads it by. */
const PLUGIN = 'php';

/**
 * PHP apps: nothing is installed (composer is not run, packagist is not reachable: an app's
 * vendor/ comes with it, and a composer.json that requires packages without a
 * vendor/autoload.php fails the build saying so). The front controller index.php is linted
 * with `php -l` so that a parse error fails the build with PHP's message instead of a release
 * whose every page is a 500.
 */
export default function phpBuilder(ctx: PluginContext): Builder {
  return {
    kind: 'builder',
    name: 'php',
    artifact: 'php',
    packages: PACKAGES,
    accept: (b) => wants(b, 'php'),
    async build(b) {
      const src = join(b.releaseDir, 'src');
      const php = requireTool('php', PACKAGES, RUNTIME);
      // -n: no php.ini, so nothing the machine's configuration loads runs at build.
      const version = (await ctx.exec.run([php, '-n', '-r', 'echo PHP_VERSION;'], { env: buildEnv(b), cleanEnv: true, timeoutMs: 30_000 })).stdout.trim();
      b.onLine(`-----> PHP ${version} (${php})`);
      const composer = resolveInside(src, 'composer.json', 'the file');
      if (composer !== null) {
        const wanted = vendoredRequirements(readTextOrNull(composer) ?? '');
        if (wanted.length > 0 && resolveInside(src, 'vendor/autoload.php', 'the file') === null) {
          throw userError('DEPENDENCIES_MISSING', `composer.json requires ${wanted.slice(0, 5).join(', ')}${wanted.length > 5 ? ', ...' : ''}, and there is no vendor/autoload.php`, {
            hint: 'hop3 does not run composer (packagist is not reachable): run `composer install` where it is and commit vendor/ with the app',
          });
        }
        if (wanted.length > 0) b.onLine(`-----> composer.json: ${wanted.length} package${wanted.length === 1 ? '' : 's'} from vendor/ (composer is not run)`);
      }
      if (b.spec.processes.some((p) => p.kind === 'web' && p.command === PHP_DEFAULT_WEB)) {
        requireUwsgiPlugin(PLUGIN, PACKAGES, RUNTIME);
        if (resolveInside(src, 'index.php', 'the file') === null) {
          throw userError('APP_ENTRY_MISSING', 'the web process is the PHP app with index.php as its front controller, and there is no index.php', {
            hint: 'add an index.php, or a Procfile with a web: line that starts a server on $PORT',
          });
        }
        b.onLine('-----> Checking index.php: php -l');
        try {
          await ctx.exec.run([php, '-n', '-l', 'index.php'], { cwd: src, env: buildEnv(b), cleanEnv: true, onLine: b.onLine, timeoutMs: 60_000, signal: b.signal });
        } catch (err) {
          throw compileFailure(err, { what: 'php -l index.php' });
        }
      }
      await runBuildCommands(ctx.exec, b);
      return { kind: 'php', dir: relative(ctx.layout.home, b.releaseDir), path: [], plugin: PLUGIN, metadata: { php: version } };
    },
  };
}
