import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { RENEW_TIMEOUT_S, renewTimeoutOption } from '../../src/cli/cert-renewal.js';
import { usageErrorJson, wholeNumber } from '../../src/cli/options.js';

describe('numeric CLI options are checked before anything is sent', () => {
  const timeout = wholeNumber(1, 86_400, 'seconds');

  it.each(['abc', '0', '-5', '1.5', '1e3', '', ' 5', '0x10', '86401', 'NaN', 'Infinity'])('refuses %j', (value) => {
    expect(() => timeout(value)).toThrow(InvalidArgumentError);
    expect(() => timeout(value)).toThrow('It must be a whole number of seconds from 1 to 86400.');
  });

  it.each([['1', 1], ['900', 900], ['86400', 86_400], ['007', 7]])('accepts %j', (value, n) => {
    expect(timeout(value)).toBe(n);
  });

  it('names no unit when there is none', () => {
    expect(() => wholeNumber(1, 1000)('abc')).toThrow('It must be a whole number from 1 to 1000.');
  });

  it('renders a usage error the way --json renders every error', () => {
    expect(JSON.parse(usageErrorJson("error: unknown option '--bogus'\n"))).toEqual({
      error: { code: 'USAGE', category: 'user', message: "unknown option '--bogus'", hint: 'see `hop3 help COMMAND`' },
    });
  });
});

describe('hop3 certs renew --timeout', () => {
  const option = renewTimeoutOption();
  it('waits 120 s unless told otherwise', () => {
    expect(option.defaultValue).toBe(120);
    expect(RENEW_TIMEOUT_S).toBe(120);
  });
  it.each(['0', 'abc', '-1', '2.5', '86401'])('refuses %j before anything is sent', (value) => {
    expect(() => option.parseArg!(value, undefined)).toThrow('It must be a whole number of seconds from 1 to 86400.');
  });
  it('accepts whole seconds', () => {
    expect(option.parseArg!('5', undefined)).toBe(5);
  });
});
