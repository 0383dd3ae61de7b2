import { execa, type ResultPromise } from 'execa';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '../src/lib/free-ports.js';

const freePort = async () => (await freePorts(1))[0]!;

async function until(ms: number, what: string, fn: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return;
    await sleep(50);
  }
  throw new Error(`${what} within ${ms} ms`);
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const r = await execa('openssl', args, { cwd, reject: false });
  if (r.exitCode !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${String(r.stderr)}`);
}

/**
 * A real pebble (Debian's package) on free loopback ports, with its own CA for its HTTPS, and
 * pebble-challtestsrv as its DNS server, answering every A query with 127.0.0.1 (no AAAA), so
 * its HTTP-01 validation reaches 127.0.0.1:`httpPort`. Both run in the foreground as children
 * of the test (or benchmark); stop() kills them; cleanup() also removes their directory.
 * `env`: extra PEBBLE_* settings (PEBBLE_AUTHZREUSE=0 makes every order validate afresh).
 */
export class Pebble {
  readonly dir = mkdtempSync(join(tmpdir(), 'hop3-pebble-'));
  /** The CA that signed pebble's own HTTPS certificate: HOP3_ACME_CA_FILE. */
  readonly caFile = join(this.dir, 'ca.pem');
  port = 0;
  managementPort = 0;
  dnsPort = 0;
  private pebble: ResultPromise | null = null;
  private dns: ResultPromise | null = null;

  /** Where pebble sends its HTTP-01 requests (the proxy's HTTP port). */
  readonly httpPort: number;

  private readonly env: Record<string, string>;

  constructor(httpPort: number, env: Record<string, string> = {}) {
    this.httpPort = httpPort;
    this.env = env;
  }

  get directory(): string {
    return `https://127.0.0.1:${this.port}/dir`;
  }

  async start(): Promise<this> {
    if (!this.port) {
      await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca-key.pem',
        '-out', 'ca.pem', '-days', '2', '-subj', '/CN=hop3 test pebble CA', '-addext', 'basicConstraints=critical,CA:TRUE',
        '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], this.dir);
      await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'server.csr',
        '-subj', '/CN=localhost'], this.dir);
      writeFileSync(join(this.dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
      await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'cert.pem',
        '-days', '2', '-extfile', 'ext.cnf'], this.dir);
      this.port = await freePort();
      this.managementPort = await freePort();
      this.dnsPort = await freePort();
    }
    writeFileSync(join(this.dir, 'pebble.json'), JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${this.port}`,
        managementListenAddress: `127.0.0.1:${this.managementPort}`,
        certificate: join(this.dir, 'cert.pem'),
        privateKey: join(this.dir, 'key.pem'),
        httpPort: this.httpPort,
        tlsPort: this.httpPort,
        ocspResponderURL: '',
        externalAccountBindingRequired: false,
      },
    }));
    if (!this.dns) {
      this.dns = execa('pebble-challtestsrv', [
        '-dns01', `127.0.0.1:${this.dnsPort}`, '-http01', '', '-https01', '', '-tlsalpn01', '',
        '-management', `127.0.0.1:${await freePort()}`, '-defaultIPv4', '127.0.0.1', '-defaultIPv6', '',
      ], { reject: false, all: true });
    }
    // PEBBLE_VA_NOSLEEP: no random wait before validating. Validation itself is real: no ALWAYS_VALID.
    this.pebble = execa('pebble', ['-config', join(this.dir, 'pebble.json'), '-dnsserver', `127.0.0.1:${this.dnsPort}`, '-strict'], {
      reject: false, all: true, env: { ...this.env, PEBBLE_VA_NOSLEEP: '1' }, cwd: this.dir,
    });
    await until(10_000, 'pebble did not listen', async () => (await accepts(this.port)) && accepts(this.managementPort));
    return this;
  }

  /** pebble's root CA (it makes a new one at each start): what its certificates chain to. */
  async root(): Promise<string> {
    const r = await execa('curl', ['-fsS', '--cacert', this.caFile, `https://127.0.0.1:${this.managementPort}/roots/0`], { reject: false });
    if (r.exitCode !== 0) throw new Error(`pebble /roots/0: ${String(r.stderr)}`);
    return String(r.stdout);
  }

  /** Stop pebble (its DNS helper keeps running, so a restart keeps the same ports). */
  async stop(): Promise<void> {
    const p = this.pebble;
    this.pebble = null;
    if (!p) return;
    p.kill('SIGKILL');
    await p;
  }

  async cleanup(): Promise<void> {
    await this.stop();
    const d = this.dns;
    this.dns = null;
    if (d) {
      d.kill('SIGKILL');
      await d;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
