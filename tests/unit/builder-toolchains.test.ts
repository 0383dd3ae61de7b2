import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createExec } from '../../src/lib/exec.js';
import { layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { PROJECT_ROOT } from '../../src/lib/paths.js';
import { createRenderer } from '../../src/lib/render.js';
import { loadPlugins } from '../../src/plugins/registry.js';

const config = loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_HTTP_PORT: '8080' }, 0);
const { builders } = loadPlugins({ config, layout: layoutOf(config.home), log: createLogger('silent'), render: createRenderer(), exec: createExec() });
/** The Debian packages scripts/bootstrap.sh installs on a fresh machine (CI's). */
const bootstrapped = /^packages=\(([^)]*)\)/m.exec(readFileSync(join(PROJECT_ROOT, 'scripts', 'bootstrap.sh'), 'utf8'))?.[1]?.split(/\s+/) ?? [];

describe('builder toolchains', () => {
  it('the ruby and php builders say which Debian packages bring their toolchain', () => {
    expect(builders.find((b) => b.name === 'ruby')?.packages).toEqual(['ruby', 'ruby-rack', 'bundler', 'uwsgi-plugin-rack-ruby3.1']);
    expect(builders.find((b) => b.name === 'php')?.packages).toEqual(['php-cli', 'uwsgi-plugin-php']);
  });

  // Node's toolchain is the machine's own when it has one (bootstrap.sh adds nodejs and npm only when missing).
  it.each(builders.filter((b) => b.packages.length > 0 && b.name !== 'node').map((b) => [b.name, b.packages] as const))(
    '%s: its packages are Debian package names, installed by scripts/bootstrap.sh for the tests',
    (_name, packages) => {
      expect(packages.length).toBeGreaterThan(0);
      for (const pkg of packages) {
        expect(pkg).toMatch(/^[a-z0-9][a-z0-9.+-]*$/);
        expect(bootstrapped).toContain(pkg);
      }
    },
  );
});
