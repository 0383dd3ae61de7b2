import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createExec } from '../../src/lib/exec.js';
import { layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { createRenderer } from '../../src/lib/render.js';
import uwsgiDeployer from '../../src/plugins/deployers/uwsgi/index.js';
import type { AppSpec, ProcessSpec } from '../../src/manifest/types.js';
import type { BuildArtifact, ReleaseRecord } from '../../src/store/types.js';

const config = loadConfig({ HOP3_HOME: '/srv/hop3', HOP3_HTTP_PORT: '8080' }, 0);
const deployer = uwsgiDeployer({ config, layout: layoutOf(config.home), log: createLogger('silent'), render: createRenderer(), exec: createExec() });

const RACK: BuildArtifact = {
  kind: 'rack', dir: 'apps/shop/releases/v4', path: ['apps/shop/gems/ruby-3.1/bin'], gems: 'apps/shop/gems/ruby-3.1', plugin: 'rack_ruby31', metadata: {},
};
const PHP: BuildArtifact = { kind: 'php', dir: 'apps/shop/releases/v4', path: [], plugin: 'php', metadata: {} };

function release(artifact: BuildArtifact, processes: ProcessSpec[]): ReleaseRecord {
  const spec: AppSpec = {
    name: null, metadata: {}, build: { builder: 'auto', before: [] }, run: { workers: 2, beforeRun: [], maxBodyBytes: 10485760 },
    static: { paths: [], maxAge: 3600 }, tls: { mode: 'auto', httpsOnly: false, hsts: false }, processes, env: {}, domains: [],
    healthcheck: { path: '/', timeout: null, expectStatus: 200 }, addons: [],
  };
  return {
    app: 'shop', version: 4, source: 'push', commit: null, spec, env: { SECRET_KEY_BASE: 's3cret' }, artifact,
    ports: { web: 20010 }, status: 'built', message: '', createdAt: '2024-01-01T00:00:00.000Z',
  };
}
const runFile = (content: string) => JSON.parse(content) as { env: Record<string, string>; cwd: string; command?: string };

describe('uwsgi deployer: rack and php artifacts', () => {
  it('takes both kinds', () => {
    expect(deployer.accept(RACK)).toBe(true);
    expect(deployer.accept(PHP)).toBe(true);
  });

  it('runs the rack app of config.ru in the rack plugin, with its environment and GEM_HOME in the run file only', () => {
    const { units, info } = deployer.plan(release(RACK, [{ name: 'web', kind: 'web', command: 'config.ru' }]), { restartCount: 0 });
    expect(info).toEqual({ protocol: 'http', address: '127.0.0.1', port: 20010 });
    const ini = units[0]!.config.content;
    expect(ini).toMatchSnapshot('rack.ini');
    expect(ini).toContain('plugin = rack_ruby31\n');
    expect(ini).toContain('rack = /srv/hop3/apps/shop/releases/v4/src/config.ru\n');
    expect(ini).toContain('rbrequire = /srv/hop3/lib/hop3_rack.rb\n');
    expect(ini).toContain('need-app = true\n');
    expect(ini).not.toContain('s3cret');
    expect(ini).not.toContain('attach-daemon');
    const run = runFile(units[0]!.files[0]!.content);
    expect(run).not.toHaveProperty('command');
    expect(run.cwd).toBe('/srv/hop3/apps/shop/releases/v4/src');
    expect(run.env).toMatchObject({
      SECRET_KEY_BASE: 's3cret', GEM_HOME: '/srv/hop3/apps/shop/gems/ruby-3.1', PORT: '20010',
      PATH: '/srv/hop3/apps/shop/gems/ruby-3.1/bin:/usr/local/bin:/usr/bin:/bin',
    });
  });

  it("runs a Ruby app's workers and a web server of its own as commands, with its gems", () => {
    const { units } = deployer.plan(release(RACK, [
      { name: 'web', kind: 'web', command: 'bundle exec puma -p $PORT' },
      { name: 'worker', kind: 'worker', command: 'bundle exec sidekiq' },
    ]), { restartCount: 0 });
    for (const u of units) {
      expect(u.config.content).toContain('attach-daemon2 = cmd=');
      expect(u.config.content).not.toContain('plugin = rack');
      expect(runFile(u.files[0]!.content).env.GEM_HOME).toBe('/srv/hop3/apps/shop/gems/ruby-3.1');
    }
    expect(units.map((u) => runFile(u.files[0]!.content).command)).toEqual(['bundle exec puma -p $PORT', 'bundle exec sidekiq']);
  });

  it('runs index.php in the php plugin, confined to the release and reading only hop3\'s php.ini', () => {
    const { units, info } = deployer.plan(release(PHP, [{ name: 'web', kind: 'web', command: 'index.php' }]), { restartCount: 0 });
    expect(info).toEqual({ protocol: 'http', address: '127.0.0.1', port: 20010 });
    const ini = units[0]!.config.content;
    expect(ini).toMatchSnapshot('php.ini');
    const src = '/srv/hop3/apps/shop/releases/v4/src';
    expect(ini).toContain('plugin = php\n');
    expect(ini).toContain('php-ini = /srv/hop3/lib/hop3_php.ini\n');
    expect(ini).toContain(`php-docroot = ${src}\n`);
    expect(ini).toContain('php-allowed-ext = .php\n');
    expect(ini).toContain(`php-set = open_basedir=${src}/:/srv/hop3/apps/shop/data/:/srv/hop3/apps/shop/releases/v4/run/web.json:/srv/hop3/lib/hop3_php_env.php\n`);
    expect(ini).toMatch(/^php-set = disable_functions=exec,passthru,shell_exec,system,proc_open,popen,pcntl_exec,dl,mail,mb_send_mail,error_log,/m);
    // uWSGI serves no file itself: static files go through the proxy's [static] paths.
    expect(ini).not.toMatch(/^(check-static|static-map|static-)/m);
    expect(ini).not.toContain('s3cret');
    const run = runFile(units[0]!.files[0]!.content);
    expect(run).not.toHaveProperty('command');
    expect(run.env).not.toHaveProperty('GEM_HOME');
    expect(run.env.SECRET_KEY_BASE).toBe('s3cret');
  });

  it('runs `php -S` as a command', () => {
    const { units } = deployer.plan(release(PHP, [{ name: 'web', kind: 'web', command: 'php -S 127.0.0.1:$PORT' }]), { restartCount: 0 });
    expect(units[0]!.config.content).toContain('attach-daemon2 = cmd=');
    expect(units[0]!.config.content).not.toContain('php-docroot');
  });

  it('refuses a plugin name that would add a line to the ini', () => {
    const r = release({ ...RACK, plugin: 'rack_ruby31\nplugin = evil' }, [{ name: 'web', kind: 'web', command: 'config.ru' }]);
    expect(() => deployer.plan(r, { restartCount: 0 })).toThrow(/refusing to write .* into a uWSGI ini file/);
  });
});
