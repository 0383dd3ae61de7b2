import { describe, expect, it } from 'vitest';
import { Hop3Error } from '../../src/lib/errors.js';
import { vendoredRequirements } from '../../src/plugins/builders/php/composer.js';

describe('composer.json: the packages that must come from vendor/', () => {
  it('names the packages and leaves out the platform (php, extensions, libraries, composer itself)', () => {
    const text = JSON.stringify({
      require: { php: '>=8.1', 'php-64bit': '*', 'ext-json': '*', 'lib-pcre': '*', 'composer-runtime-api': '^2', 'monolog/monolog': '^3', 'hop3/greet': '1.0.0' },
      'require-dev': { 'phpunit/phpunit': '^10' },
    });
    expect(vendoredRequirements(text)).toEqual(['monolog/monolog', 'hop3/greet']);
  });

  it('needs nothing from vendor/ with no require, or one with the platform only', () => {
    expect(vendoredRequirements('{"name": "a/b"}')).toEqual([]);
    expect(vendoredRequirements('{"require": {"php": "^8.2", "ext-mbstring": "*"}}')).toEqual([]);
  });

  it.each([
    ['not JSON', '{"require": ', /composer\.json is not valid JSON/],
    ['an array', '[]', /composer\.json is not a JSON object/],
    ['a string', '"x"', /composer\.json is not a JSON object/],
    ['require as a list', '{"require": ["a/b"]}', /"require" is not an object/],
  ])('refuses %s with COMPOSER_JSON_INVALID', (_name, text, message) => {
    let err: unknown;
    try {
      vendoredRequirements(text);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(Hop3Error);
    expect((err as Hop3Error).code).toBe('COMPOSER_JSON_INVALID');
    expect((err as Hop3Error).message).toMatch(message);
  });
});
