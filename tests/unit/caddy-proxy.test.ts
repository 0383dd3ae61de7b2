import { createExec } from '../../src/lib/exec.js';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Hop3Error } from '../../src/lib/errors.js';
import { layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { assembleCaddyConfig, renderCaddyConfig, staticRootsOf, type Json } from '../../src/plugins/proxies/caddy/config.js';
import { createRenderer } from '../../src/lib/render.js';
import caddyProxy from '../../src/plugins/proxies/caddy/index.js';
import { enableRequestMigration, warnUnlessRequestMigration } from '../../src/plugins/proxies/caddy/listener-handover.js';
import type { ProxySite } from '../../src/plugins/types.js';

const home = '/srv/hop3';
const plugin = caddyProxy({ config: loadConfig({ HOP3_HOME: home, HOP3_HTTP_PORT: '8080', HOP3_PROXY: 'caddy' }, 1000), layout: layoutOf(home), log: createLogger('silent'), exec: createExec(), render: createRenderer() });
const blog: ProxySite = {
  app: 'blog', release: 3, serverNames: ['blog.localhost', 'www.example.com'], target: { protocol: 'http', address: '127.0.0.1', port: 20001 },
  staticPaths: [{ prefix: '/static/', root: '/srv/hop3/apps/blog/releases/v3/src/public/static' }], staticMaxAge: 600, maxBodyBytes: 1024,
};
const docs: ProxySite = { app: 'docs', release: 1, serverNames: ['docs.localhost'], target: { protocol: 'file', root: '/srv/hop3/apps/docs/releases/v1/src/public' }, staticPaths: [], staticMaxAge: 3600, maxBodyBytes: 1024 };

describe('the caddy proxy plugin', () => {
  it('keeps one route file per app under HOP3_HOME/caddy/sites', () => {
    expect(plugin.sitePath('blog')).toBe('/srv/hop3/caddy/sites/blog.json');
    expect(plugin.fileReader()).toBeNull();
  });

  it('renders an app\'s site as its route; assembled, the routes are the whole config renderCaddyConfig makes', () => {
    const routes = [blog, docs].map((s) => JSON.parse(plugin.render(s)) as Json);
    expect(routes.map((r) => (r as { '@id': string })['@id'])).toEqual(['hop3-site-blog', 'hop3-site-docs']);
    const settings = { httpPort: 8080, adminSocket: '/srv/hop3/run/caddy-admin.sock', storageDir: '/srv/hop3/caddy/data' };
    const whole = renderCaddyConfig([docs, blog], settings);
    expect(assembleCaddyConfig(routes, settings)).toEqual(whole.config);
    expect(staticRootsOf(routes).sort()).toEqual([...whole.staticRoots].sort());
  });

  it('a domain carrying a newline, `{` or `}` renders no site at all', () => {
    for (const name of ['evil.example\n}', 'a.example {', 'b.example}', 'x.example\r\n{"handler":"static_response"}', '{http.request.host}']) {
      let err: unknown = null;
      try {
        plugin.render({ ...blog, serverNames: ['blog.localhost', name] });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(Hop3Error);
      expect((err as Hop3Error).code).toBe('UNSAFE_CONFIG_VALUE');
    }
  });
});

describe('tcp_migrate_req (connections queued on a listener that a Caddy load closes)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hop3-sysctl-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const lines: string[] = [];
  const log = createLogger('info', { write: (l: string) => lines.push(l) } as unknown as NodeJS.WritableStream);

  it('setup sets it to 1 when it is 0 and keeps it for the next boot', () => {
    const f = join(dir, 'on-zero');
    const conf = join(dir, 'sysctl.d', '60-hop3-caddy.conf');
    writeFileSync(f, '0\n');
    expect(enableRequestMigration(f, conf)).toBe('set');
    expect(readFileSync(f, 'utf8').trim()).toBe('1');
    expect(readFileSync(conf, 'utf8')).toContain('net.ipv4.tcp_migrate_req = 1');
    expect(enableRequestMigration(f, conf)).toBe('on');
  });

  it('serve only reads it: warns when it is 0 or missing, and changes nothing', () => {
    const f = join(dir, 'off');
    writeFileSync(f, '0\n');
    expect(warnUnlessRequestMigration(log, f)).toBe('off');
    expect(readFileSync(f, 'utf8').trim()).toBe('0');
    expect(lines.join('')).toContain('run hop3-server setup');
    writeFileSync(f, '1\n');
    expect(warnUnlessRequestMigration(log, f)).toBe('on');
    expect(warnUnlessRequestMigration(log, join(dir, 'missing'))).toBe('unavailable');
    expect(lines.join('')).toContain('Linux < 5.14');
  });
});
