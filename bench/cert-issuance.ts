/**
 * Certificate issuance time: a real hop3-server (its embedded nginx answers HTTP-01) and a
 * real pebble on loopback (bench/pebble.ts), with PEBBLE_AUTHZREUSE=0 so every order is
 * validated afresh. Times the provider's `apply('create')` for ACME (one name, and two) and for
 * a self-signed certificate: median (min–max) of `--runs` runs each, after one warm-up; then
 * what observing and diffing 1,000 converged certificates costs (time, spawns, writes); then,
 * through the daemon, a deploy with [tls] mode = "acme" until HTTPS serves pebble's certificate,
 * and a deleted certificate until HTTPS serves a new one (watch → pass → ACME → nginx reload).
 *
 *   npm run build && node dist/bench/cert-issuance.js   # --runs=N (default 5)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { appendFileSync, closeSync, cpSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { loadConfig } from '../src/config.js';
import { createExec } from '../src/lib/exec.js';
import { freePorts } from '../src/lib/free-ports.js';
import { layoutOf } from '../src/lib/layout.js';
import { createLogger } from '../src/lib/logger.js';
import { certProvider, type CertDesired } from '../src/plugins/certs/index.js';
import { Pebble } from './pebble.js';
import { changedFiles, snapshotFiles } from '../tests/support/file-snapshot.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const HOP3_SERVER = join(ROOT, 'bin', 'hop3-server');
const runs = Number(/^--runs=(\d+)$/.exec(process.argv.find((a) => a.startsWith('--runs=')) ?? '')?.[1] ?? 5);

function summary(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  return `${s[Math.floor(s.length / 2)]!.toFixed(0)} ms (${s[0]!.toFixed(0)}–${s[s.length - 1]!.toFixed(0)})`;
}

/** The fingerprint of the certificate served for `host` on `port`, verified with `ca`; null when none verifies. */
function servedFingerprint(port: number, host: string, ca: string): Promise<string | null> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, servername: host, headers: { host }, ca, agent: false, timeout: 2000 }, (res) => {
      const fp = (res.socket as TLSSocket).getPeerCertificate().fingerprint256;
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? fp : null));
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function until<T>(what: string, fn: () => Promise<T | null>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(10);
  }
}

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'hop3-bench-certs-'));
  const [httpPort, apiPort, httpsPort] = await freePorts(3);
  const env = {
    ...(process.env as Record<string, string>),
    HOP3_HOME: home, HOP3_HTTP_PORT: String(httpPort), HOP3_HTTPS_PORT: String(httpsPort), HOP3_LISTEN: `127.0.0.1:${apiPort}`, HOP3_LOG_LEVEL: 'warn',
  };
  const pebble = new Pebble(httpPort!, { PEBBLE_AUTHZREUSE: '0' });
  await pebble.start();
  Object.assign(env, { HOP3_DOMAIN: 'hop3.test', HOP3_ACME_DIRECTORY: pebble.directory, HOP3_ACME_EMAIL: 'bench@hop3.test', HOP3_ACME_CA_FILE: pebble.caFile });
  const log = openSync(join(home, 'daemon.log'), 'a');
  const daemon: ChildProcess = spawn(HOP3_SERVER, ['serve'], { env, stdio: ['ignore', log, log] });
  closeSync(log);
  try {
    for (let t = 0; !(await fetch(`http://127.0.0.1:${apiPort}/healthz`).then((r) => r.ok, () => false)); t++) {
      if (t > 600 || daemon.exitCode !== null) throw new Error(`hop3-server did not start:\n${readFileSync(join(home, 'daemon.log'), 'utf8').slice(-2000)}`);
      await sleep(50);
    }
    const config = loadConfig({ HOP3_HOME: home, HOP3_ACME_DIRECTORY: pebble.directory, HOP3_ACME_EMAIL: 'bench@hop3.test', HOP3_ACME_CA_FILE: pebble.caFile }, 0);
    const exec = createExec();
    const provider = certProvider({ config, layout: layoutOf(home), log: createLogger('silent'), exec });
    const cases: [string, (i: number) => CertDesired][] = [
      ['ACME, 1 name', (i) => ({ name: `one-${i}`, names: [`one-${i}.hop3.test`], mode: 'acme' })],
      ['ACME, 2 names', (i) => ({ name: `two-${i}`, names: [`two-${i}.hop3.test`, `www.two-${i}.hop3.test`], mode: 'acme' })],
      ['self-signed, 2 names', (i) => ({ name: `self-${i}`, names: [`self-${i}.hop3.test`, `www.self-${i}.hop3.test`], mode: 'self-signed' })],
    ];
    console.log(`certificate issuance, hop3 provider apply('create'), median (min–max) of ${runs}, pebble with fresh validation:`);
    for (const [label, desired] of cases) {
      await provider.apply('create', desired(0));
      const times: number[] = [];
      for (let i = 1; i <= runs; i++) {
        const t0 = performance.now();
        await provider.apply('create', desired(i));
        times.push(performance.now() - t0);
      }
      console.log(`  ${label.padEnd(22)} ${summary(times)}`);
    }
    // The cost a reconcile pass pays per certificate once converged: copies of one stored
    // certificate stand for 1,000 apps' (observe does not compare the files with the name).
    const N = 1000;
    const one: CertDesired = { name: 'self-1', names: ['self-1.hop3.test', 'www.self-1.hop3.test'], mode: 'self-signed' };
    for (let i = 0; i < N; i++) cpSync(join(home, 'certs', 'self-1'), join(home, 'certs', `obs-${i}`), { recursive: true });
    for (const round of ['first (parses)', 'second', 'third']) {
      const spawns = exec.spawns;
      const files = snapshotFiles(join(home, 'certs'));
      const t0 = performance.now();
      let none = 0;
      for (let i = 0; i < N; i++) {
        const live = provider.observe(`obs-${i}`);
        if (live && typeof live === 'object' && provider.diff({ ...one, name: `obs-${i}` }, live) === 'none') none++;
      }
      const ms = performance.now() - t0;
      console.log(`  observe + diff of ${N} converged certificates, ${round}: ${ms.toFixed(1)} ms, ${none} none, ${exec.spawns - spawns} spawns, ${changedFiles(files, snapshotFiles(join(home, 'certs'))).length} writes`);
    }

    // Through the daemon: [tls] mode = "acme" on a deployed app, served on HOP3_HTTPS_PORT.
    const root = await pebble.root();
    const host = 'e2e.hop3.test';
    const app = mkdtempSync(join(tmpdir(), 'hop3-bench-tls-app-'));
    cpSync(join(ROOT, 'examples', 'static-site'), app, { recursive: true });
    appendFileSync(join(app, 'hop3.toml'), '\n[tls]\nmode = "acme"\n');
    const t0 = performance.now();
    const deployed = await execa(join(ROOT, 'bin', 'hop3'), ['deploy', app, '--app', 'e2e'], { env: { ...env, HOP3_API_URL: `http://127.0.0.1:${apiPort}` }, reject: false });
    if (deployed.exitCode !== 0) throw new Error(`deploy failed: ${String(deployed.stderr)}`);
    await until('HTTPS with pebble\'s certificate', () => servedFingerprint(httpsPort!, host, root));
    console.log(`  deploy with [tls] mode = "acme" until HTTPS serves pebble's certificate: ${(performance.now() - t0).toFixed(0)} ms`);
    const cert = join(home, 'certs', 'e2e');
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const before = await servedFingerprint(httpsPort!, host, root);
      const t1 = performance.now();
      for (const f of ['bundle.pem', 'key.pem', 'cert.pem']) rmSync(join(cert, f), { force: true });
      await until('a new certificate served', async () => {
        const fp = await servedFingerprint(httpsPort!, host, root);
        const stored = (() => { try { return new X509Certificate(readFileSync(join(cert, 'cert.pem'))).fingerprint256; } catch { return null; } })();
        return fp !== null && fp !== before && fp === stored ? fp : null;
      });
      times.push(performance.now() - t1);
    }
    console.log(`  deleted certificate until HTTPS serves a new one from pebble (watch, pass, ACME, reload): ${summary(times)}`);
    rmSync(app, { recursive: true, force: true });
  } finally {
    await pebble.cleanup();
    daemon.kill('SIGTERM');
    await new Promise((r) => (daemon.exitCode !== null ? r(null) : daemon.once('exit', r)));
    await execa(HOP3_SERVER, ['halt'], { env, reject: false, timeout: 60_000 });
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
