import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from '../../src/lib/paths.js';
import { compileParamsChecks, type MethodSchemas } from '../../src/server/rpc-params.js';
import { quoteValue } from '../../src/manifest/index.js';

const rpc = JSON.parse(readFileSync(join(PROJECT_ROOT, 'schemas', 'rpc.json'), 'utf8')) as MethodSchemas & {
  definitions: Record<string, { pattern?: string; maxLength?: number }>;
};
const toml = JSON.parse(readFileSync(join(PROJECT_ROOT, 'schemas', 'hop3-toml.schema.json'), 'utf8')) as {
  definitions: Record<'appName' | 'envKey' | 'envValue', { pattern?: string; maxLength?: number; description: string }>;
};
const checks = compileParamsChecks(rpc);
const check = (method: string, params: unknown) => checks.get(method)!(params);

describe('invalid JSON-RPC params are explained in plain words', () => {
  const APP_HINT = toml.definitions.appName.description;
  const KEY_HINT = toml.definitions.envKey.description;
  it.each([
    ['config.set', { app: 'target', values: { 'BAD-KEY': '1' } }, 'config.set: values: "BAD-KEY" is not a valid environment variable name', KEY_HINT],
    ['config.set', { app: 'target', values: { OK: 'a\u0000b' } }, 'config.set: values.OK: value of OK contains a NUL character', toml.definitions.envValue.description],
    ['config.unset', { app: 'target', keys: ['OK', '1X'] }, 'config.unset: keys[1]: "1X" is not a valid environment variable name', KEY_HINT],
    ['apps.status', { app: 'Foo' }, 'apps.status: app: "Foo" is not a valid app name', APP_HINT],
    ['apps.status', { app: 'a'.repeat(64) }, `apps.status: app: "${'a'.repeat(64)}" is not a valid app name`, APP_HINT],
    ['apps.status', {}, 'apps.status: app: is missing', undefined],
    ['apps.status', { app: 'target', extra: 1 }, 'apps.status: extra: is not a param of apps.status', 'apps.status takes app'],
    ['apps.status', { app: 5 }, 'apps.status: app: must be a string, not 5', 'app name: lowercase letters, digits and dashes'],
    ['apps.events', { limit: 0 }, 'apps.events: limit: must be at least 1, not 0', undefined],
    ['apps.events', { limit: 'abc' }, 'apps.events: limit: must be an integer, not "abc"', undefined],
    ['apps.configure', { app: 'target', healPolicy: 'fix' }, 'apps.configure: healPolicy: must be one of "heal", "report", not "fix"', undefined],
    ['apps.configure', { app: 'target' }, 'apps.configure: params: needs at least one of deployBranch, healPolicy', undefined],
    ['releases.rollback', { app: 'target', version: 'latest' }, 'releases.rollback: version: "latest" is not a valid release version', 'a release version such as v3 (see `hop3 releases APP`)'],
    ['apps.deploy', { app: 'target' }, 'apps.deploy: params: needs archive, or commit and ref', undefined],
  ])('%s %j', (method, params, message, hint) => {
    const err = check(method, params)!;
    expect(err).toMatchObject({ code: 'PARAMS_INVALID', category: 'user', message });
    expect(err.hint).toBe(hint);
  });

  it('names every problem once, each with its param', () => {
    const err = check('config.set', { app: 'My_App', values: { 'A-B': 'x', '2C': 'y' } })!;
    expect(err.details).toEqual([
      { param: 'app', message: '"My_App" is not a valid app name', hint: APP_HINT },
      { param: 'values', message: '"A-B" is not a valid environment variable name', hint: KEY_HINT },
      { param: 'values', message: '"2C" is not a valid environment variable name', hint: KEY_HINT },
    ]);
    expect(err.hint).toBe(`${APP_HINT} ${KEY_HINT}`);
  });

  it('never echoes a long value whole', () => {
    const err = check('apps.deploy', { app: 'target', archive: `${'A'.repeat(5000)}!` })!;
    expect(err.message).toBe(`apps.deploy: archive: ${quoteValue('A'.repeat(5000))} is not a valid value here`);
    expect(err.message.length).toBeLessThan(200);
  });

  it('passes valid params', () => {
    expect(check('config.set', { app: 'target', values: { GOOD_KEY: 'any value' } })).toBeNull();
    expect(check('apps.events', {})).toBeNull();
  });

  // The messages come from the hop3.toml validators, so both schemas must draw the same lines.
  it('has the app name and environment shapes of hop3.toml', () => {
    const shape = (d: { pattern?: string; maxLength?: number } | undefined) => ({ pattern: d?.pattern, maxLength: d?.maxLength });
    expect([rpc.definitions.app, rpc.definitions.envKey, rpc.definitions.envValue].map(shape)).toEqual(
      [toml.definitions.appName, toml.definitions.envKey, toml.definitions.envValue].map(shape),
    );
  });
});
