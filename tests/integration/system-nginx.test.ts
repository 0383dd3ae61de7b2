import { execa } from 'execa';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childPids } from '../../src/lib/pidfile.js';
import { alive } from '../../src/lib/procfs.js';
import { Daemon, EXAMPLES, freePort, sleep, underLoad } from './harness.js';

const REDEPLOYS = 5;

/**
 * HOP3_NGINX=system against an nginx master the test starts as "the system nginx": its own
 * configuration (a default server on a free port, and an include of HOP3_NGINX_SYSTEM_DIR), and
 * a wrapper as HOP3_NGINX_BIN that points every nginx command hop3 runs at that configuration.
 */
describe('HOP3_NGINX=system', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hop3-sysnginx-'));
  const sites = join(dir, 'sites-enabled');
  const wrapper = join(dir, 'nginx');
  let port = 0;
  let d: Daemon;

  beforeAll(async () => {
    port = await freePort();
    mkdirSync(sites);
    chmodSync(dir, 0o755);
    const user = process.getuid?.() === 0 ? 'user www-data;\n' : '';
    writeFileSync(join(dir, 'nginx.conf'), `${user}worker_processes 2;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path ${dir}/tmp-body;
    proxy_temp_path ${dir}/tmp-proxy;
    server { listen ${port} default_server; server_name _; return 404; }
    include ${sites}/*.conf;
}
`);
    writeFileSync(wrapper, `#!/bin/sh\nexec nginx -p ${dir} -e ${dir}/error.log -c ${dir}/nginx.conf "$@"\n`, { mode: 0o755 });
    await execa(wrapper, [], { timeout: 30_000 });
    d = new Daemon({ HOP3_NGINX: 'system', HOP3_NGINX_SYSTEM_DIR: sites, HOP3_NGINX_BIN: wrapper });
    d.httpPort = port;
    await d.start();
  });

  afterAll(async () => {
    await d?.cleanup();
    // A fast stop: a graceful quit waits for idle keep-alive connections, and could outlive the test.
    const master = Number(readFileSync(join(dir, 'nginx.pid'), 'utf8'));
    const workers = childPids(master);
    await execa(wrapper, ['-s', 'stop'], { reject: false, timeout: 30_000 });
    for (let i = 0; i < 100 && alive(master); i++) await sleep(50);
    for (const pid of [master, ...workers]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves an app through the system nginx, and redeploys it under load without a failed request', async () => {
    const r = await d.hop3(['deploy', join(EXAMPLES, 'hello-wsgi')]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(readFileSync(join(sites, 'hop3-hello-wsgi.conf'), 'utf8')).toContain(`listen ${port}`);
    const first = await d.get('hello-wsgi.localhost');
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body)).toMatchObject({ app: 'hello-wsgi', release: 'v1' });
    expect((await d.json(['status', 'hello-wsgi'])).urls).toContain(`http://hello-wsgi.localhost:${port}/`);

    const load = await underLoad(port, 'hello-wsgi.localhost', async () => {
      for (let i = 1; i <= REDEPLOYS; i++) {
        const c = await d.hop3(['config', 'set', 'hello-wsgi', `N=${i}`, '--json']);
        expect(c.exitCode, String(c.stderr)).toBe(0);
      }
    }, { limitMs: 25_000 });
    const seen = [...load.releases.entries()].map(([v, n]) => `${v}:${n}`).join(' ');
    console.log(`system nginx: ${load.ok} requests in ${load.ms} ms, ${load.failures.length} failed; served ${seen}`);
    expect(load.failures.slice(0, 20)).toEqual([]);
    expect(load.releases.has(`v${REDEPLOYS + 1}`)).toBe(true);
    expect(JSON.parse((await d.get('hello-wsgi.localhost')).body).release).toBe(`v${REDEPLOYS + 1}`);
  });
});
