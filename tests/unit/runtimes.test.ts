import { describe, expect, it } from 'vitest';
import { createExec } from '../../src/lib/exec.js';
import { createRenderer } from '../../src/lib/render.js';
import { loadConfig } from '../../src/config.js';
import { layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { Hop3Error } from '../../src/lib/errors.js';
import { runtimePackages } from '../../src/plugins/builders/runtimes.js';
import { loadPlugins } from '../../src/plugins/registry.js';

const config = loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_HTTP_PORT: '8080' }, 0);
const { builders } = loadPlugins({ config, layout: layoutOf(config.home), log: createLogger('silent'), exec: createExec(), render: createRenderer() });

const refusal = (list: string): Hop3Error => {
  try {
    runtimePackages(builders, list);
  } catch (e) {
    return e as Hop3Error;
  }
  throw new Error(`${list} was accepted`);
};

describe('hop3-server setup --runtimes: which packages', () => {
  it("installs each named runtime's toolchain, in the order named", () => {
    expect(runtimePackages(builders, 'rust,go')).toEqual({ runtimes: ['rust', 'go'], packages: ['cargo', 'rustc', 'golang-go'] });
    expect(runtimePackages(builders, 'node').packages).toEqual(['nodejs', 'npm']);
    expect(runtimePackages(builders, 'python').packages).toEqual(['python3-venv']);
  });

  it('takes spaces and repeats, and installs each package once', () => {
    expect(runtimePackages(builders, ' go , rust,go,')).toEqual({ runtimes: ['go', 'rust'], packages: ['golang-go', 'cargo', 'rustc'] });
  });

  it('needs no package for runtimes that have no toolchain', () => {
    expect(runtimePackages(builders, 'static,generic')).toEqual({ runtimes: ['static', 'generic'], packages: [] });
  });

  it('refuses the whole list for one unknown name, listing the runtimes there are', () => {
    const err = refusal('go,cobol,Rust');
    expect(err.code).toBe('RUNTIME_UNKNOWN');
    expect(err.message).toBe(`--runtimes: unknown runtimes "cobol", "Rust"; the runtimes are ${builders.map((b) => b.name).join(', ')}`);
    expect(err.message).toContain('rust');
    expect(err.hint).toMatch(/--runtimes \S*rust/);
  });

  it('refuses an empty list', () => {
    expect(refusal(' , ').message).toMatch(/^--runtimes: no runtime named; the runtimes are /);
  });

  it('gives every builder a list of package names apt takes', () => {
    for (const b of builders) for (const pkg of b.packages) expect(pkg, b.name).toMatch(/^[a-z0-9][a-z0-9.+-]*$/);
    expect(builders.find((b) => b.name === 'rust')?.packages).toEqual(['cargo', 'rustc']);
  });
});
