import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Hop3Error } from '../../src/lib/errors.js';
import { RangeSyntaxError, satisfies } from '../../src/plugins/builders/node/engines.js';
import { findTool, requireTool } from '../../src/plugins/builders/toolchain.js';

describe('engines.node ranges (the documented subset of npm semver)', () => {
  it.each([
    ['20.20.2', '>=18', true],
    ['20.20.2', '>= 18', true],
    ['20.20.2', '>=22.12', false],
    ['20.20.2', '>18 <21', true],
    ['20.20.2', '<20', false],
    ['20.20.2', '<=20', true],
    ['20.20.2', '>20', false],
    ['20.20.2', '>20.20', false],
    ['20.20.2', '20', true],
    ['20.20.2', '20.x', true],
    ['20.20.2', '18.x || 20.x', true],
    ['20.20.2', '18.x || 22.x', false],
    ['20.20.2', '*', true],
    ['20.20.2', '', true],
    ['20.20.2', '^20.1.0', true],
    ['20.20.2', '^18.0.0', false],
    ['0.2.5', '^0.2.3', true],
    ['0.3.0', '^0.2.3', false],
    ['0.0.4', '^0.0.3', false],
    ['20.20.2', '~20.20.0', true],
    ['20.21.0', '~20.20.0', false],
    ['20.20.2', '~20', true],
    ['20.20.2', '18 - 20', true],
    ['21.0.0', '18 - 20', false],
    ['20.20.2', '18.0.0 - 20.1.0', false],
    ['20.20.2', '=20.20.2', true],
    ['20.20.2', 'v20.20.2', true],
    ['20.20.3', '20.20.2', false],
  ])('%s in %j: %s', (version, range, fits) => {
    expect(satisfies(version, range)).toBe(fits);
  });

  it.each(['>=lts', 'latest', '1.2.3.4', '>=18 <x20'])('reports %j as outside the subset, never guesses', (range) => {
    expect(() => satisfies('20.20.2', range)).toThrow(RangeSyntaxError);
  });
});

describe('toolchains', () => {
  const empty = mkdtempSync(join(tmpdir(), 'hop3-path-'));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it('finds a program on the build PATH', () => {
    expect(findTool('sh', ['/bin', '/usr/bin'])).toMatch(/\/sh$/);
  });

  it('a missing one is a clear error naming the Debian packages', () => {
    let err: Hop3Error | undefined;
    try {
      requireTool('node', ['nodejs', 'npm'], 'Node.js', [empty]);
    } catch (e) {
      err = e as Hop3Error;
    }
    expect(err?.code).toBe('TOOLCHAIN_MISSING');
    expect(err?.message).toBe(`the Node.js toolchain is not installed: no node on ${empty}`);
    expect(err?.hint).toContain('apt-get install nodejs npm');
  });
});
