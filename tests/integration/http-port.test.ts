import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Daemon, freePort, ROOT } from './harness.js';

describe('the embedded nginx cannot take its port', () => {
  const d = new Daemon();
  let holder: Server | null = null;
  afterAll(async () => {
    await new Promise((r) => (holder ? holder.close(r) : r(undefined)));
    await d.cleanup();
  });

  it('hop3-server serve stops at once, names the port and what to do, and leaves nothing running', async () => {
    // Another server (as the system nginx would be) holds the port first.
    d.httpPort = await freePort();
    d.apiPort = await freePort();
    d.httpsPort = await freePort();
    holder = createServer((s) => s.end());
    await new Promise<void>((r) => holder!.listen(d.httpPort, '127.0.0.1', r));

    const start = Date.now();
    const r = await execa(join(ROOT, 'bin', 'hop3-server'), ['serve'], { env: d.env, reject: false, timeout: 30_000 });
    const elapsed = Date.now() - start;
    expect(r.timedOut).toBe(false);
    expect(r.exitCode).toBe(2);
    const stderr = String(r.stderr);
    expect(stderr).toContain(`port ${d.httpPort} is already in use`);
    expect(stderr).toMatch(/^hint: .*HOP3_HTTP_PORT.*HOP3_NGINX=system/m);
    expect(stderr).toContain('systemctl disable --now nginx');
    expect(elapsed).toBeLessThan(15_000);

    // Neither the API nor an emperor was started, and no pid file claims a daemon.
    await expect(fetch(`http://127.0.0.1:${d.apiPort}/healthz`)).rejects.toThrow();
    for (const file of ['hop3-server.pid', 'emperor.pid', 'nginx.pid']) expect(existsSync(join(d.home, 'run', file)), file).toBe(false);
  });

  it('starts once the port is free again', async () => {
    await new Promise((r) => holder!.close(r));
    holder = null;
    await d.start();
    expect((await d.get('nothing.localhost')).status).toBe(404);
  });
});
