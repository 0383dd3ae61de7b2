import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../../src/config.js';
import { PROJECT_ROOT } from '../../src/lib/paths.js';

const readme = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
const rpc = JSON.parse(readFileSync(join(PROJECT_ROOT, 'schemas', 'rpc.json'), 'utf8')) as { methods: Record<string, unknown> };
const cliSource = readFileSync(join(PROJECT_ROOT, 'src', 'cli', 'hop3.ts'), 'utf8');

describe('README stays in step with the code', () => {
  it.each(SETTINGS.map(([key]) => key))('documents the setting %s in the configuration table', (key) => {
    expect(readme).toMatch(new RegExp(`^\\| \`${key}\` \\|`, 'm'));
  });

  it.each(Object.keys(rpc.methods))('documents the RPC method %s', (method) => {
    expect(readme).toContain(`\`${method}\``);
  });

  const commands = [...cliSource.matchAll(/command\('([a-z]+)'\)/g)].map((m) => m[1]!);
  it.each(commands.filter((c) => c !== 'config' && c !== 'backup'))('documents the CLI command hop3 %s', (cmd) => {
    expect(readme).toMatch(new RegExp(`\`hop3 (config |certs |addons |backup )?${cmd}\\b`));
  });

  it('names the test command that .ci/run runs', () => {
    expect(readme).toContain('./scripts/test.sh');
    expect(readFileSync(join(PROJECT_ROOT, '.ci', 'run'), 'utf8')).toContain('./scripts/test.sh');
  });
});
