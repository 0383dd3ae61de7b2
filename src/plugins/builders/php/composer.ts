import { userError } from '../../../lib/errors.js';

/** Requirements that name the platform (the PHP version, extensions), not a package under vendor/. */
const PLATFORM = /^(php(-64bit|-ipv6|-zts|-debug)?|hhvm|ext-.+|lib-.+|composer(-plugin-api|-runtime-api)?)$/i;

/**
 * The packages composer.json requires that must come from vendor/ (pure: the text of the
 * file). Composer is not run: packagist is not reachable from these machines, so vendor/ is
 * committed with the app (`composer install` on a machine that can reach it).
 */
export function vendoredRequirements(text: string): string[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw userError('COMPOSER_JSON_INVALID', `composer.json is not valid JSON: ${(err as Error).message}`, { hint: 'check it with `composer validate`' });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw userError('COMPOSER_JSON_INVALID', 'composer.json is not a JSON object', { hint: 'it holds {"name": ..., "require": {...}}' });
  }
  const require = (data as { require?: unknown }).require;
  if (require === undefined) return [];
  if (typeof require !== 'object' || require === null || Array.isArray(require)) {
    throw userError('COMPOSER_JSON_INVALID', 'composer.json "require" is not an object', { hint: 'e.g. "require": {"monolog/monolog": "^3.0"}' });
  }
  return Object.keys(require).filter((name) => !PLATFORM.test(name));
}
