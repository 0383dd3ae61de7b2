import { createExec } from '../../src/lib/exec.js';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Hop3Error } from '../../src/lib/errors.js';
import { layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { certProvider, type CertDesired, type CertLive, type CertProvider } from '../../src/plugins/certs/index.js';
import { UNKNOWN } from '../../src/reconcile/types.js';
import { Daemon, EXAMPLES, freePort, sleep } from './harness.js';
import { Pebble } from '../../bench/pebble.js';

const DAY = 86_400_000;
const NAME = 'blog.hop3.test';
const want: CertDesired = { name: 'blog', names: [NAME, `www.${NAME}`], mode: 'acme' };

/**
 * Certificates from a real pebble: its HTTP-01 validation resolves the names to 127.0.0.1 and
 * GETs /.well-known/acme-challenge/<token> from the embedded nginx of a real hop3 daemon (the
 * default server: no app serves these names), which serves the file the provider wrote.
 */
describe('ACME certificates against pebble', () => {
  const d = new Daemon();
  let pebble: Pebble;
  let clock: Date | null = null;
  let provider: CertProvider;
  const certDir = () => join(d.home, 'certs', 'blog');

  beforeAll(async () => {
    await d.start();
    pebble = await new Pebble(d.httpPort).start();
    const config = loadConfig({
      HOP3_HOME: d.home, HOP3_HTTP_PORT: String(d.httpPort),
      HOP3_ACME_DIRECTORY: pebble.directory, HOP3_ACME_EMAIL: 'ops@hop3.test', HOP3_ACME_CA_FILE: pebble.caFile,
    }, 0);
    provider = certProvider({ config, layout: layoutOf(d.home), log: createLogger('silent'), exec: createExec(), now: () => clock ?? new Date() });
  }, 60_000);
  afterAll(async () => {
    await pebble?.cleanup();
    await d.cleanup();
  });

  /** `openssl verify` of the stored leaf against pebble's root, through the stored chain. */
  async function verifyWithPebbleRoot(): Promise<string> {
    const root = join(pebble.dir, 'root.pem');
    writeFileSync(root, await pebble.root());
    const r = await execa('openssl', ['verify', '-CAfile', root, '-untrusted', join(certDir(), 'chain.pem'), join(certDir(), 'cert.pem')], { reject: false });
    return `${String(r.stdout)}${String(r.stderr)}`.trim();
  }

  /**
   * Serve the stored bundle.pem (key and chain in one file) from a real nginx over TLS and fetch
   * through it with curl --cacert pebble's root and the certificate's name.
   */
  async function curlThroughNginx(name: string): Promise<string> {
    const dir = mkdtempSync(join(pebble.dir, 'nginx-'));
    const port = await freePort();
    const bundle = join(certDir(), 'bundle.pem');
    writeFileSync(join(dir, 'nginx.conf'), [
      `pid ${dir}/nginx.pid;`, `error_log ${dir}/error.log;`, 'daemon off;', 'master_process off;', 'events {}',
      `http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};`,
      `  server { listen 127.0.0.1:${port} ssl; ssl_certificate ${bundle}; ssl_certificate_key ${bundle}; location / { return 200 "over tls\\n"; } } }`,
    ].join('\n'));
    const nginx = execa('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf')], { reject: false, all: true });
    try {
      const root = join(pebble.dir, 'root.pem');
      writeFileSync(root, await pebble.root());
      const curl = () => execa('curl', ['-sS', '--cacert', root, '--resolve', `${name}:${port}:127.0.0.1`, `https://${name}:${port}/`], { reject: false });
      let r = await curl();
      for (let i = 0; i < 50 && r.exitCode === 7; i++) r = await sleep(100).then(curl); // not listening yet
      return `${String(r.stdout)}${String(r.stderr)}`;
    } finally {
      nginx.kill('SIGTERM');
      await nginx;
    }
  }

  it('the proxy serves a challenge file from every kind of site, ahead of the static dot-path rule', async () => {
    expect((await d.hop3(['deploy', join(EXAMPLES, 'static-site')])).exitCode).toBe(0);
    writeFileSync(join(d.home, 'certs', 'challenges', 'tok-en_1'), 'tok-en_1.thumbprint');
    for (const host of ['static-site.localhost', 'no-such-app.test']) {
      expect(await d.get(host, '/.well-known/acme-challenge/tok-en_1')).toEqual({ status: 200, body: 'tok-en_1.thumbprint' });
      expect((await d.get(host, '/.well-known/other')).status).toBe(404);
    }
    rmSync(join(d.home, 'certs', 'challenges', 'tok-en_1'));
  });

  it('issues a certificate that verifies with pebble\'s root, through the challenge nginx served', async () => {
    const started = performance.now();
    const record = await provider.apply('create', want);
    const ms = performance.now() - started;
    console.log(`certificate issuance against pebble (2 names, HTTP-01 through nginx): ${ms.toFixed(0)} ms`);
    expect(record?.lastError).toBeNull();
    expect(await verifyWithPebbleRoot()).toMatch(/cert\.pem: OK$/);
    expect(await curlThroughNginx(`www.${NAME}`)).toBe('over tls');
    const live = provider.observe('blog') as CertLive;
    expect(live.names).toEqual([NAME, `www.${NAME}`]);
    expect(live.issuer).toMatch(/Pebble/);
    expect(provider.diff(want, live)).toBe('none');
    // pebble's requests reached nginx and got the answers; none is left behind.
    const access = readFileSync(join(d.home, 'log', 'nginx-access.log'), 'utf8');
    expect(access).toMatch(/"GET \/\.well-known\/acme-challenge\/[A-Za-z0-9_-]+ HTTP\/1\.1" 200 .*Pebble/);
    expect(readdirSync(join(d.home, 'certs', 'challenges'))).toEqual([]);
    expect(statSync(join(certDir(), 'key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(certDir(), 'bundle.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(certDir()).mode & 0o777).toBe(0o700);
    expect(statSync(join(d.home, 'secrets', 'acme-account-key.pem')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(d.home, 'secrets', 'acme-account.json'), 'utf8'))).toEqual({ email: 'ops@hop3.test' });
  });

  it('trusts HOP3_ACME_CA_FILE for the ACME server only: without it, pebble\'s HTTPS is refused and nothing is stored', async () => {
    const config = loadConfig({ HOP3_HOME: d.home, HOP3_ACME_DIRECTORY: pebble.directory, HOP3_ACME_EMAIL: 'ops@hop3.test' }, 0);
    const untrusting = certProvider({ config, layout: layoutOf(d.home), log: createLogger('silent'), exec: createExec() });
    const err = await untrusting.apply('create', { ...want, name: 'other' }).catch((e: unknown) => e);
    expect((err as Hop3Error).code).toBe('CERT_ISSUE_FAILED');
    expect((err as Hop3Error).message).toMatch(/: (unable to verify the first certificate|self-signed certificate)/);
    expect(untrusting.observe('other')).toBeNull();
    expect(untrusting.lastError('other')).toMatchObject({ code: 'CERT_ISSUE_FAILED' });
  });

  it('a certificate inside the renewal window is renewed (new key, new certificate)', async () => {
    const before = provider.observe('blog') as CertLive;
    const oldKey = readFileSync(join(certDir(), 'key.pem'), 'utf8');
    clock = new Date(before.notAfter.getTime() - 29 * DAY);
    expect(provider.diff(want, before)).toBe('update');
    await provider.apply('update', want);
    const after = provider.observe('blog') as CertLive;
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(readFileSync(join(certDir(), 'key.pem'), 'utf8')).not.toBe(oldKey);
    clock = null;
    expect(provider.diff(want, after)).toBe('none');
    expect(await verifyWithPebbleRoot()).toMatch(/cert\.pem: OK$/);
    expect(await curlThroughNginx(NAME)).toBe('over tls');
  });

  it('a deleted certificate is observed as absent; a key replaced by hand is drift', async () => {
    const key = readFileSync(join(certDir(), 'key.pem'), 'utf8');
    rmSync(join(certDir(), 'cert.pem'));
    expect(provider.observe('blog')).toBeNull();
    await provider.apply('create', want);
    const back = provider.observe('blog');
    expect(back).not.toBeNull();
    expect(back).not.toBe(UNKNOWN);
    writeFileSync(join(certDir(), 'key.pem'), key);
    expect(provider.reasons(want, provider.observe('blog') as CertLive)).toEqual(['replaced: key.pem does not belong to cert.pem']);
    await provider.apply('update', want);
    expect(provider.diff(want, provider.observe('blog') as CertLive)).toBe('none');
  });

  it('with pebble stopped, renewal fails fast, the current certificate stays and the error is recorded', async () => {
    const cert = readFileSync(join(certDir(), 'cert.pem'), 'utf8');
    const key = readFileSync(join(certDir(), 'key.pem'), 'utf8');
    await pebble.stop();
    const started = performance.now();
    const err = await provider.apply('update', want).catch((e: unknown) => e);
    const ms = performance.now() - started;
    console.log(`renewal with pebble stopped failed after ${ms.toFixed(0)} ms`);
    expect(err).toBeInstanceOf(Hop3Error);
    expect((err as Hop3Error).code).toBe('CERT_ISSUE_FAILED');
    expect((err as Hop3Error).message).toContain(NAME);
    expect((err as Hop3Error).message).toContain(`${pebble.directory}: connect ECONNREFUSED`);
    expect(ms).toBeLessThan(10_000);
    expect(readFileSync(join(certDir(), 'cert.pem'), 'utf8')).toBe(cert);
    expect(readFileSync(join(certDir(), 'key.pem'), 'utf8')).toBe(key);
    expect(provider.lastError('blog')).toMatchObject({ code: 'CERT_ISSUE_FAILED' });
    expect(provider.diff(want, provider.observe('blog') as CertLive)).toBe('none');
    expect(existsSync(join(certDir(), 'record.json'))).toBe(true);
    // Back up: the next issuance clears the error.
    await pebble.start();
    await provider.apply('update', want);
    expect(provider.lastError('blog')).toBeNull();
    expect(await verifyWithPebbleRoot()).toMatch(/cert\.pem: OK$/);
  });
});
