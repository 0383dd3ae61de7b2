/**
 * Certificate issuance time: a real hop3-server (its embedded nginx answers HTTP-01) and a
 * real pebble on loopback (bench/pebble.ts), with PEBBLE_AUTHZREUSE=0 so every order is
 * validated afresh. Times the provider's `apply('create')` for ACME (one name, and two) and for
 * a self-signed certificate: median (min–max) of `--runs` runs each, after one warm-up; then
 * what observing and diffing 1,000 converged certificates costs (time, spawns, writes).
 *
 *   npm run build && node dist/bench/cert-issuance.js   # --runs=N (default 5)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, cpSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { loadConfig } from '../src/config.js';
import { execStats } from '../src/lib/exec.js';
import { freePorts } from '../src/lib/free-ports.js';
import { writeStats } from '../src/lib/fs-atomic.js';
import { layoutOf } from '../src/lib/layout.js';
import { createLogger } from '../src/lib/logger.js';
import { certProvider, type CertDesired } from '../src/plugins/certs/index.js';
import { Pebble } from './pebble.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const HOP3_SERVER = join(ROOT, 'bin', 'hop3-server');
const runs = Number(/^--runs=(\d+)$/.exec(process.argv.find((a) => a.startsWith('--runs=')) ?? '')?.[1] ?? 5);

function summary(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  return `${s[Math.floor(s.length / 2)]!.toFixed(0)} ms (${s[0]!.toFixed(0)}–${s[s.length - 1]!.toFixed(0)})`;
}

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'hop3-bench-certs-'));
  const [httpPort, apiPort, httpsPort] = await freePorts(3);
  const env = {
    ...(process.env as Record<string, string>),
    HOP3_HOME: home, HOP3_HTTP_PORT: String(httpPort), HOP3_HTTPS_PORT: String(httpsPort), HOP3_LISTEN: `127.0.0.1:${apiPort}`, HOP3_LOG_LEVEL: 'warn',
  };
  const log = openSync(join(home, 'daemon.log'), 'a');
  const daemon: ChildProcess = spawn(HOP3_SERVER, ['serve'], { env, stdio: ['ignore', log, log] });
  closeSync(log);
  const pebble = new Pebble(httpPort!, { PEBBLE_AUTHZREUSE: '0' });
  try {
    for (let t = 0; !(await fetch(`http://127.0.0.1:${apiPort}/healthz`).then((r) => r.ok, () => false)); t++) {
      if (t > 600 || daemon.exitCode !== null) throw new Error(`hop3-server did not start:\n${readFileSync(join(home, 'daemon.log'), 'utf8').slice(-2000)}`);
      await sleep(50);
    }
    await pebble.start();
    const config = loadConfig({ HOP3_HOME: home, HOP3_ACME_DIRECTORY: pebble.directory, HOP3_ACME_EMAIL: 'bench@hop3.test', HOP3_ACME_CA_FILE: pebble.caFile }, 0);
    const provider = certProvider({ config, layout: layoutOf(home), log: createLogger('silent') });
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
      const spawns = execStats.spawns;
      const writes = writeStats.writes;
      const t0 = performance.now();
      let none = 0;
      for (let i = 0; i < N; i++) {
        const live = provider.observe(`obs-${i}`);
        if (live && typeof live === 'object' && provider.diff({ ...one, name: `obs-${i}` }, live) === 'none') none++;
      }
      const ms = performance.now() - t0;
      console.log(`  observe + diff of ${N} converged certificates, ${round}: ${ms.toFixed(1)} ms, ${none} none, ${execStats.spawns - spawns} spawns, ${writeStats.writes - writes} writes`);
    }
  } finally {
    await pebble.cleanup();
    daemon.kill('SIGTERM');
    await new Promise((r) => (daemon.exitCode !== null ? r(null) : daemon.once('exit', r)));
    await execa(HOP3_SERVER, ['halt'], { env, reject: false, timeout: 60_000 });
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
