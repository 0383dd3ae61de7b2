import { userError } from '../../lib/errors.js';
import type { Builder } from '../types.js';

/**
 * The Debian packages `hop3-server setup --runtimes LIST` installs: the toolchains of the named
 * builders, in the order named, each once. Pure. Any name that is no builder's refuses the whole
 * list, before anything is installed.
 */
export function runtimePackages(builders: readonly Builder[], list: string): { runtimes: string[]; packages: string[] } {
  const names = list.split(',').map((n) => n.trim()).filter((n) => n !== '');
  const known = builders.map((b) => b.name);
  const unknown = names.filter((n) => !known.includes(n));
  if (names.length === 0 || unknown.length > 0) {
    const what = names.length === 0 ? 'no runtime named' : `unknown runtime${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => JSON.stringify(n)).join(', ')}`;
    throw userError('RUNTIME_UNKNOWN', `--runtimes: ${what}; the runtimes are ${known.join(', ')}`, {
      hint: `e.g. hop3-server setup --runtimes ${known.filter((n) => builders.find((b) => b.name === n)!.packages.length > 0).join(',')}`,
    });
  }
  const runtimes = [...new Set(names)];
  const packages = [...new Set(runtimes.flatMap((n) => builders.find((b) => b.name === n)!.packages))];
  return { runtimes, packages };
}
