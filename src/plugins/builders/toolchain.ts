import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { operationalError } from '../../lib/errors.js';
import { ExecError } from '../../lib/exec.js';

/** Where builds look for programs: the machine's, never hop3's own private Node.js. */
export const SYSTEM_PATH = ['/usr/local/bin', '/usr/bin', '/bin'];

/** The program `name` on `dirs`, as the build's PATH would find it; null when none is there. */
export function findTool(name: string, dirs: string[] = SYSTEM_PATH): string | null {
  for (const dir of dirs) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this directory
    }
  }
  return null;
}

/**
 * The program `name`, or a clear error naming the Debian packages that bring it: a missing
 * toolchain fails the release (retrying does not install it).
 */
export function requireTool(name: string, packages: string[], runtime: string, dirs: string[] = SYSTEM_PATH): string {
  const path = findTool(name, dirs);
  if (path !== null) return path;
  throw operationalError('TOOLCHAIN_MISSING', `the ${runtime} toolchain is not installed: no ${name} on ${dirs.join(':')}`, {
    hint: `install it on the server: apt-get install ${packages.join(' ')}`,
  });
}

/** Compiler lines kept in a failed release's error message (all of them are in the build output). */
const MESSAGE_LINES = 20;

/**
 * A compiler (or `what` other tool) that exited with an error, as the release's error: its own
 * last lines (those `shown` keeps), so the failed release says what to fix. Anything else (a
 * timeout, a cancel) is returned as it is.
 */
export function compileFailure(err: unknown, { what = 'build', shown = () => true }: { what?: string; shown?: (line: string) => boolean } = {}): unknown {
  if (!(err instanceof ExecError) || err.exitCode === undefined) return err;
  const lines = err.output.split('\n').filter((l) => l.trim() !== '' && shown(l)).slice(-MESSAGE_LINES);
  return new ExecError(err.command, err.exitCode, err.output, `${what} failed (exit ${err.exitCode}):\n${lines.join('\n')}`);
}

/** Where Debian's uwsgi-core looks for the plugins a vassal loads by name. */
export const UWSGI_PLUGIN_DIR = '/usr/lib/uwsgi/plugins';

/**
 * The uWSGI plugin `name` is installed, or the same clear error as a missing program: a vassal
 * that cannot load its plugin would only die at start, after the build, with a less clear log.
 */
export function requireUwsgiPlugin(name: string, packages: string[], runtime: string, dir = UWSGI_PLUGIN_DIR): void {
  const path = join(dir, `${name}_plugin.so`);
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw operationalError('TOOLCHAIN_MISSING', `the ${runtime} toolchain is not installed: no uWSGI plugin ${path}`, {
      hint: `install it on the server: apt-get install ${packages.join(' ')}`,
    });
  }
}
