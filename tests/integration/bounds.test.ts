import { existsSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { appDir, archiveOf, Daemon, within } from './harness.js';

/**
 * A WSGI app whose /health answers 200 with MODE: `zeros` streams 1 MiB chunks for ever,
 * `drip` sends one byte every 2 s for ever, anything else answers at once.
 */
const PROBE_APP = `import os, time
MODE = os.environ.get("MODE", "")
def zeros():
    chunk = b"0" * (1024 * 1024)
    while True:
        yield chunk
def drip():
    while True:
        yield b"x"
        time.sleep(2)
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    if environ.get("PATH_INFO") == "/health":
        if MODE == "zeros":
            return zeros()
        if MODE == "drip":
            return drip()
    return [b"ok"]
`;
const probeApp = (mode: string, timeout: number) => appDir({
  'hop3.toml': `[run]\nstart = "app:application"\nworkers = 2\n[env]\nMODE = "${mode}"\n[healthcheck]\npath = "/health"\ntimeout = ${timeout}\n`,
  'app.py': PROBE_APP,
});

type Answer = { status: number; body: string; ms: number };

/**
 * POST `length` bytes to `path` (announced, or chunked): the body is written as fast as the socket takes
 * them (all of it, or `sendBytes` only), and the answer is read as soon as it comes.
 */
function post(port: number, path: string, headers: Record<string, string | number>, opts: { length: number; sendBytes?: number; dripMs?: number; chunked?: boolean }): Promise<Answer> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: opts.chunked ? headers : { 'content-length': opts.length, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - start });
        req.destroy();
      });
    });
    // The server may close a connection whose body it will not read: the client can then see a
    // reset before it reads the answer (status 0).
    req.on('error', (err) => ['ECONNRESET', 'EPIPE'].includes((err as NodeJS.ErrnoException).code ?? '')
      ? setTimeout(() => resolve({ status: 0, body: '', ms: Date.now() - start }), 100)
      : reject(err));
    req.setTimeout(60_000, () => req.destroy(new Error('no answer within 60 s')));
    let sent = 0;
    const total = opts.sendBytes ?? opts.length;
    const chunk = Buffer.alloc(opts.dripMs ? 1 : 1024 * 1024, 0x61);
    const pump = () => {
      while (sent < total && !req.destroyed) {
        const n = Math.min(chunk.length, total - sent);
        sent += n;
        if (opts.dripMs) {
          req.write(chunk.subarray(0, n));
          setTimeout(pump, opts.dripMs);
          return;
        }
        if (!req.write(chunk.subarray(0, n))) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

/** /healthz latency, sampled every 50 ms while `work` runs. */
async function healthzDuring(d: Daemon, work: () => Promise<unknown>): Promise<{ max: number; samples: number; failures: number }> {
  let stop = false;
  const out = { max: 0, samples: 0, failures: 0 };
  const sampler = (async () => {
    while (!stop) {
      const t = Date.now();
      try {
        const r = await fetch(`http://127.0.0.1:${d.apiPort}/healthz`, { signal: AbortSignal.timeout(5000) });
        if (!r.ok) out.failures++;
      } catch {
        out.failures++;
      }
      out.max = Math.max(out.max, Date.now() - t);
      out.samples++;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    await work();
  } finally {
    stop = true;
    await sampler;
  }
  return out;
}

const statusOf = async (d: Daemon, app: string) => (await d.rpc('apps.status', { app })).body.result as { state: string; release: string | null } | undefined;
const releaseOf = async (d: Daemon, app: string, v: string) =>
  ((await d.rpc('releases.list', { app })).body.result as { version: string; status: string; message: string }[]).find((r) => r.version === v);

describe('health checks are bounded: size, one deadline, cancel and SIGTERM', () => {
  const d = new Daemon();
  const dirs: string[] = [];
  const dirFor = (mode: string, timeout: number) => {
    const dir = probeApp(mode, timeout);
    dirs.push(dir);
    return dir;
  };
  beforeAll(async () => {
    await d.start();
  });
  afterAll(async () => {
    await d.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('fails a deploy whose health check streams zeros for ever within its timeout, and the daemon lives on', async () => {
    const pid = d.pid;
    const start = Date.now();
    const r = await d.hop3(['deploy', dirFor('zeros', 5), '--app', 'zeros']);
    const elapsed = Date.now() - start;
    console.log(`zeros: hop3 deploy failed after ${elapsed} ms (healthcheck timeout 5 s)`);
    expect(r.exitCode).not.toBe(0);
    expect(elapsed).toBeLessThan(15_000);
    const v1 = await releaseOf(d, 'zeros', 'v1');
    expect(v1).toMatchObject({ status: 'failed' });
    expect(v1!.message).toMatch(/did not answer 200 within 5 s \(last: status 200 with a body over 65536 bytes\)/);
    expect(d.running).toBe(true);
    expect(d.pid).toBe(pid);
  });

  it('fails a health check that drips one byte every 2 s within its timeout', async () => {
    const start = Date.now();
    const r = await d.hop3(['deploy', dirFor('drip', 5), '--app', 'drip']);
    const elapsed = Date.now() - start;
    console.log(`drip: hop3 deploy failed after ${elapsed} ms (healthcheck timeout 5 s)`);
    expect(r.exitCode).not.toBe(0);
    expect(elapsed).toBeLessThan(12_000);
    expect((await releaseOf(d, 'drip', 'v1'))!.message).toMatch(/within 5 s \(last: no complete answer within \d+ ms\)/);
    expect(d.running).toBe(true);
  });

  it('resumes a zeros rollout cut short by a crash, fails it cleanly and keeps running', async () => {
    const deploying = d.hop3(['deploy', dirFor('zeros', 5), '--app', 'zeros2']);
    await within(60_000, async () => (await statusOf(d, 'zeros2'))?.state === 'deploying.verifying');
    await d.stop('SIGKILL');
    await deploying;
    await d.start();
    const pid = d.pid;
    await within(30_000, async () => (await releaseOf(d, 'zeros2', 'v1'))?.status === 'failed');
    expect((await releaseOf(d, 'zeros2', 'v1'))!.message).toMatch(/body over 65536 bytes/);
    await new Promise((r) => setTimeout(r, 2000));
    expect(d.running).toBe(true);
    expect(d.pid).toBe(pid);
  });

  it('hop3 cancel during a dripping probe returns and fails the release at once', async () => {
    const deploying = d.hop3(['deploy', dirFor('drip', 120), '--app', 'cancelme']);
    await within(60_000, async () => (await statusOf(d, 'cancelme'))?.state === 'deploying.verifying');
    await new Promise((r) => setTimeout(r, 1000)); // the probe is reading its drip
    const start = Date.now();
    const cancel = await d.hop3(['cancel', 'cancelme', '--json']);
    const cancelMs = Date.now() - start;
    expect(cancel.exitCode, String(cancel.stderr)).toBe(0);
    expect(JSON.parse(String(cancel.stdout))).toMatchObject({ cancelled: true, status: 'failed' });
    const deployed = await deploying;
    const totalMs = Date.now() - start;
    console.log(`cancel: hop3 cancel took ${cancelMs} ms; the waiting hop3 deploy ended ${totalMs} ms after the cancel began`);
    expect(cancelMs).toBeLessThan(2000);
    expect(totalMs).toBeLessThan(3000);
    expect(deployed.exitCode).not.toBe(0);
    expect(await releaseOf(d, 'cancelme', 'v1')).toMatchObject({ status: 'failed' });
    // The pass ended: the lifecycle left verifying.
    await within(2000, async () => (await statusOf(d, 'cancelme'))?.state !== 'deploying.verifying');
  });

  it('SIGTERM during a dripping probe stops the daemon within a few seconds; the rollout waits for the next start', async () => {
    const deploying = d.hop3(['deploy', dirFor('drip', 120), '--app', 'sigterm']);
    await within(60_000, async () => (await statusOf(d, 'sigterm'))?.state === 'deploying.verifying');
    await new Promise((r) => setTimeout(r, 1000));
    const start = Date.now();
    await d.stop('SIGTERM');
    const stopMs = Date.now() - start;
    console.log(`sigterm: the daemon exited ${stopMs} ms after SIGTERM during a dripping probe`);
    expect(stopMs).toBeLessThan(5000);
    await deploying;
    await d.start();
    // Interrupted, not failed: a release from `hop3 deploy` is rolled out again.
    expect((await releaseOf(d, 'sigterm', 'v1'))?.status).not.toBe('failed');
    await within(20_000, async () => (await statusOf(d, 'sigterm'))?.state === 'deploying.verifying');
    await d.hop3(['cancel', 'sigterm']);
  });
});

describe('the API authenticates before it reads, bounds bodies per method, and /healthz answers throughout', () => {
  const d = new Daemon();
  beforeAll(async () => {
    await d.start();
  });
  afterAll(() => d.cleanup());

  const MB = 1024 * 1024;
  const rpcHeaders = (extra: Record<string, string> = {}) => ({ 'content-type': 'application/json', ...extra });

  it('answers an unauthenticated 20 MB body with 401 in under a second, without buffering it', async () => {
    const before = d.rssKb();
    // 4 MiB sent of the 20 announced: the answer comes while the body is still incomplete.
    const r = await post(d.apiPort, '/rpc', rpcHeaders(), { length: 20 * MB, sendBytes: 4 * MB });
    const after = d.rssKb();
    console.log(`unauthenticated 20 MB: 401 after ${r.ms} ms; daemon RSS ${before} kB -> ${after} kB`);
    expect(r.status).toBe(401);
    expect(JSON.parse(r.body).error.code).toBe(-32001);
    expect(r.ms).toBeLessThan(1000);
    expect(after - before).toBeLessThan(10 * 1024);
  });

  it('refuses a 2 MB authenticated body to a method other than apps.deploy with 413 naming the limit', async () => {
    const auth = { authorization: `Bearer ${d.token()}` };
    // Announced: refused from the length; sent chunked: refused at the first byte past 1 MiB.
    for (const headers of [rpcHeaders({ ...auth, 'x-hop3-method': 'config.set' }), rpcHeaders(auth)]) {
      const r = await post(d.apiPort, '/rpc', headers, { length: 2 * MB, sendBytes: 64 * 1024 });
      expect(r.status).toBe(413);
      expect(JSON.parse(r.body).error.message).toMatch(/^request body over 1 MiB, the limit for JSON-RPC requests other than apps\.deploy/);
    }
    const chunked = await post(d.apiPort, '/rpc', rpcHeaders(auth), { length: 2 * MB, sendBytes: MB + 64 * 1024, chunked: true });
    expect(chunked.status).toBe(413);
    // The upload header does not open the large limit to another method.
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'config.set', params: { app: 'x', values: { A: 'b'.repeat(20_000) } } });
    const res = await fetch(`http://127.0.0.1:${d.apiPort}/rpc`, { method: 'POST', headers: rpcHeaders({ ...auth, 'x-hop3-method': 'apps.deploy' }), body });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatchObject({ code: -32600, message: 'the x-hop3-method header says apps.deploy, but the body calls config.set' });
  });

  it('takes a 2 MB apps.deploy upload that names its method, and refuses it without the header', async () => {
    // Random bytes do not compress: the archive stays over the small limit.
    const archive = await archiveOf({
      'hop3.toml': '[build]\nbuilder = "static"\n[run]\nstatic = "public"\n',
      'public/index.html': '<h1>big</h1>',
      'public/blob.txt': randomBytes(1536 * 1024).toString('base64'),
    });
    expect(archive.length).toBeGreaterThan(2 * MB);
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'apps.deploy', params: { app: 'big', archive } });
    const bare = await post(d.apiPort, '/rpc', rpcHeaders({ authorization: `Bearer ${d.token()}` }), { length: Buffer.byteLength(body), sendBytes: 64 * 1024 });
    expect(bare.status).toBe(413);
    const named = await d.rpc('apps.deploy', { app: 'big', archive });
    expect(named.body.error, JSON.stringify(named.body.error)).toBeUndefined();
    expect(named.body.result).toMatchObject({ app: 'big', release: 'v1' });
  });

  it('refuses JSON nested too deep and batches too long with -32600', async () => {
    const send = (body: string) => fetch(`http://127.0.0.1:${d.apiPort}/rpc`, { method: 'POST', headers: rpcHeaders({ authorization: `Bearer ${d.token()}` }), body })
      .then(async (r) => ({ status: r.status, body: await r.json() }));
    const deep = await send(`{"jsonrpc":"2.0","id":1,"method":"apps.list","params":${'['.repeat(100_000)}${']'.repeat(100_000)}}`);
    expect(deep.status).toBe(400);
    expect(deep.body.error).toEqual({ code: -32600, message: 'JSON nested deeper than 16 levels' });
    const poisoned = await send('{"jsonrpc":"2.0","id":1,"method":"config.set","params":{"app":"x","values":{"__proto__":{"A":"1"}}}}');
    expect(poisoned.body.error).toEqual({ code: -32600, message: 'the key __proto__ is not allowed in a request' });
    const batch = await send(JSON.stringify(Array.from({ length: 51 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'apps.list' }))));
    expect(batch.body.error).toEqual({ code: -32600, message: 'batch of 51 requests: at most 50' });
    const ok = await send(JSON.stringify(Array.from({ length: 50 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'apps.list' }))));
    expect(ok.body).toHaveLength(50);
  });

  it('does not read an unauthenticated git push body, and creates no repository', async () => {
    const r = await post(d.apiPort, '/git/intruder.git/git-receive-pack', { 'content-type': 'application/x-git-receive-pack-request' }, { length: 20 * MB, sendBytes: 64 * 1024 });
    expect(r.status).toBe(401);
    expect(r.ms).toBeLessThan(1000);
    expect(existsSync(join(d.home, 'apps', 'intruder'))).toBe(false);
    // A body of another type (JSON, which a parser would read whole) is refused unread too.
    const json = await post(d.apiPort, '/git/intruder.git/git-receive-pack', { 'content-type': 'application/json', 'x-hop3-method': 'apps.deploy' }, { length: 30 * MB, sendBytes: 64 * 1024 });
    expect(json.status).toBe(401);
    expect(json.ms).toBeLessThan(1000);
  });

  it('keeps /healthz answering while many large and slow bodies flood /rpc and /git', async () => {
    const auth = { authorization: `Bearer ${d.token()}` };
    const rssBefore = d.rssKb();
    const results: Answer[] = [];
    const flood = () => Promise.all([
      ...Array.from({ length: 20 }, () => post(d.apiPort, '/rpc', rpcHeaders(), { length: 20 * MB })),
      ...Array.from({ length: 10 }, () => post(d.apiPort, '/git/flood.git/git-receive-pack', { 'content-type': 'application/x-git-receive-pack-request' }, { length: 20 * MB })),
      // Authenticated and slow: 100 bytes, one every 30 ms, each connection held ~3 s.
      ...Array.from({ length: 30 }, () => post(d.apiPort, '/rpc', rpcHeaders(auth), { length: 100, dripMs: 30 })),
    ]).then((r) => results.push(...r));
    const h = await healthzDuring(d, flood);
    const rssAfter = d.rssKb();
    console.log(`flood: ${results.length} requests; /healthz ${h.samples} samples, max ${h.max} ms, ${h.failures} failures; RSS ${rssBefore} kB -> ${rssAfter} kB`);
    // Refused unread: answered 401, or reset by the server's close while the client still sent.
    expect(results.filter((r) => r.status === 401 || r.status === 0)).toHaveLength(30);
    expect(results.filter((r) => r.status === 401).length).toBeGreaterThan(0);
    expect(results.filter((r) => r.status === 400)).toHaveLength(30); // the dripped bodies are not JSON
    expect(h.failures).toBe(0);
    expect(h.samples).toBeGreaterThan(20);
    // Answering at all is the promise; how fast, on a loaded 2-core machine, is for bench/.
    expect(h.max).toBeLessThan(2000);
  });
});
