/**
 * hop3's Caddy on its own (not yet driven by the reconciler): what observing the loaded config
 * costs with 1,000 sites, what activating one costs (caddy validate + POST /load), and whether a
 * switch of upstream under load fails any request or cuts one in flight.
 *
 *   npm run build && node dist/bench/caddy.js [--sites=1000]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createExec } from '../src/lib/exec.js';
import { freePorts } from '../src/lib/free-ports.js';
import { layoutOf } from '../src/lib/layout.js';
import { createLogger } from '../src/lib/logger.js';
import { CaddyControl } from '../src/plugins/proxies/caddy/control.js';
import type { ProxySite } from '../src/plugins/types.js';
import { UNKNOWN } from '../src/reconcile/types.js';
import { changedFiles, snapshotFiles } from '../tests/support/file-snapshot.js';

const N = Number(process.argv.find((a) => a.startsWith('--sites='))?.split('=')[1] ?? 1000);

/** An upstream that answers `name` at once, and after 2 s on /slow. */
const UPSTREAM = `
import http.server, sys, time
name = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def do_GET(self):
        if self.path == '/slow': time.sleep(2)
        body = name.encode()
        self.send_response(200); self.send_header('Content-Length', str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), H).serve_forever()
`;

function get(port: number, host: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'hop3-bench-caddy-'));
  const layout = layoutOf(home);
  mkdirSync(layout.run, { recursive: true, mode: 0o700 });
  mkdirSync(layout.log, { recursive: true, mode: 0o700 });
  const [httpPort, portA, portB] = await freePorts(3);
  const upstreams: ChildProcess[] = [spawn('python3', ['-c', UPSTREAM, String(portA), 'A']), spawn('python3', ['-c', UPSTREAM, String(portB), 'B'])];
  const exec = createExec();
  const caddy = new CaddyControl({ layout, log: createLogger('silent'), exec, httpPort: httpPort!, bin: 'caddy' });
  try {
    for (const port of [portA!, portB!]) {
      for (let i = 0; i < 200; i++) if (await get(port, 'x', '/').then(() => true, () => false)) break; else await sleep(25);
    }
    const root = join(home, 'static');
    mkdirSync(root);
    writeFileSync(join(root, 'index.html'), 'static\n');
    const sitesWith = (port: number): ProxySite[] => Array.from({ length: N }, (_, i) => ({
      app: `app-${String(i).padStart(4, '0')}`, release: 1, serverNames: [`app-${i}.localhost`, `www.app-${i}.example.com`],
      target: i % 2 === 0 ? { protocol: 'http' as const, address: '127.0.0.1' as const, port } : { protocol: 'file' as const, root },
      staticPaths: [], staticMaxAge: 3600, maxBodyBytes: 10 * 1024 * 1024,
    }));
    await caddy.ensureRunning();

    const a = caddy.desired(sitesWith(portA!));
    const applyMs: number[] = [];
    for (const port of [portA!, portB!, portA!]) {
      const t = performance.now();
      await caddy.apply(caddy.desired(sitesWith(port)));
      applyMs.push(performance.now() - t);
    }
    const size = JSON.stringify(a.config).length;

    const observeMs: number[] = [];
    const diffMs: number[] = [];
    const spawns = exec.spawns;
    // Caddy's own log aside: it logs every admin request.
    const serversOwn = (p: string) => p.endsWith('.log');
    const files = snapshotFiles(home, serversOwn);
    for (let i = 0; i < 21; i++) {
      const t = performance.now();
      const live = await caddy.observe();
      const t1 = performance.now();
      if (live === UNKNOWN || live === null || caddy.diff(a, live) !== 'none') throw new Error('the loaded config is not the one applied');
      diffMs.push(performance.now() - t1);
      observeMs.push(performance.now() - t);
    }
    const observeSpawns = exec.spawns - spawns;
    const observeWrites = changedFiles(files, snapshotFiles(home, serversOwn)).length;
    const renderMs: number[] = [];
    for (let i = 0; i < 21; i++) {
      const t = performance.now();
      caddy.desired(sitesWith(portA!));
      renderMs.push(performance.now() - t);
    }

    // Switch app-0000 between upstreams A and B while 8 clients request it, and one slow request
    // per switch is in flight through the config being replaced.
    let ok = 0;
    let failed = 0;
    const errors = new Set<string>();
    let stop = false;
    const client = async () => {
      while (!stop) {
        try {
          const r = await get(httpPort!, 'app-0.localhost', '/');
          if (r.status === 200 && (r.body === 'A' || r.body === 'B')) ok++;
          else { failed++; errors.add(`status ${r.status}`); }
        } catch (err) {
          failed++;
          errors.add(String(err));
        }
      }
    };
    const clients = Array.from({ length: 8 }, client);
    const slow: { body: string; status: number; switchedAtMs: number; doneAtMs: number }[] = [];
    const switchMs: number[] = [];
    for (let i = 0; i < 10; i++) {
      const from = i % 2 === 0 ? 'A' : 'B';
      const t0 = performance.now();
      const inFlight = get(httpPort!, 'app-0.localhost', '/slow').then((r) => ({ ...r, doneAtMs: performance.now() - t0 }), (err: unknown) => ({ status: 0, body: String(err), doneAtMs: performance.now() - t0 }));
      await sleep(200);
      const t = performance.now();
      await caddy.apply(caddy.desired(sitesWith(from === 'A' ? portB! : portA!)));
      switchMs.push(performance.now() - t);
      const switchedAtMs = performance.now() - t0;
      const r = await inFlight;
      slow.push({ ...r, switchedAtMs });
      if (r.body !== from) errors.add(`slow request answered ${r.status} ${r.body}`);
    }
    stop = true;
    await Promise.all(clients);

    const fmt = (xs: number[]) => `median ${median(xs).toFixed(1)} ms (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)})`;
    console.log(`caddy ${N} sites, config ${(size / 1024).toFixed(0)} KiB`);
    console.log(`  render (pure)                 ${fmt(renderMs)}`);
    console.log(`  observe + diff (GET /config/) ${fmt(observeMs)}, of which diff ${fmt(diffMs)}; ${observeSpawns} spawns, ${observeWrites} writes over 21`);
    console.log(`  apply (validate + /load)      ${fmt(applyMs)}`);
    console.log(`  switch under load             ${fmt(switchMs)}; ${ok} requests ok, ${failed} failed${errors.size ? `: ${[...errors].join('; ')}` : ''}`);
    const cut = slow.filter((s) => s.status !== 200).length;
    const returnedBefore = slow.filter((s) => s.switchedAtMs < s.doneAtMs).length;
    console.log(`  in-flight slow requests       ${slow.length - cut}/${slow.length} completed across a switch; apply returned before the slow request ended in ${returnedBefore}/${slow.length}`);
  } finally {
    await caddy.stop();
    for (const u of upstreams) u.kill('SIGTERM');
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
