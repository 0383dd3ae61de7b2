import { execa } from 'execa';
import { X509Certificate } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certPaths, fingerprintOf, readRecord, storeCert } from '../../src/plugins/certs/cert-files.js';
import { Pebble } from '../../bench/pebble.js';
import { Daemon, EXAMPLES, freePort, httpsGet, PROXIES, underLoad, within } from './harness.js';

const DOMAIN = 'hop3.test';

/**
 * TLS end to end: a real hop3 daemon with its proxy (the embedded nginx, or hop3's Caddy, which
 * only loads the certificates hop3 issued) and a real pebble whose HTTP-01 validation resolves
 * every name to 127.0.0.1 and reaches the daemon's HOP3_HTTP_PORT. HTTPS is checked with node's
 * TLS (SNI = the app's name) trusting only the CA named, so an answer means the certificate
 * verified for that name.
 */
describe.each(PROXIES)('TLS certificates as resources, served by %s, issued by pebble', (proxy) => {
  const d = new Daemon({ HOP3_DOMAIN: DOMAIN, HOP3_ACME_EMAIL: 'ops@hop3.test' }, { proxy });
  let pebble: Pebble;
  let root = '';
  const work = mkdtempSync(join(tmpdir(), 'hop3-tls-'));
  const certs = (app: string) => certPaths(join(d.home, 'certs'), app);
  /** The SHA-256 fingerprint (as TLS reports it) of the certificate stored for `app`. */
  const storedFingerprint = (app: string) => new X509Certificate(readFileSync(certs(app).cert)).fingerprint256;

  /** A copy of an example with a [tls] table appended, named `app`. */
  function appWithTls(example: string, app: string, tls: string): string {
    const dir = join(work, app);
    cpSync(join(EXAMPLES, example), dir, { recursive: true });
    const toml = join(dir, 'hop3.toml');
    const text = existsSync(toml) ? readFileSync(toml, 'utf8').replace(/^id = .*$/m, `id = "${app}"`) : '';
    writeFileSync(toml, `${text}\n[tls]\n${tls}\n`);
    return dir;
  }

  async function deploy(dir: string, app: string): Promise<void> {
    const r = await d.hop3(['deploy', dir, '--app', app]);
    expect(r.exitCode, `${String(r.stdout)}${String(r.stderr)}`).toBe(0);
  }

  /**
   * A certificate for `names` valid for one more day, signed by a throwaway CA, stored with a
   * consistent record (its fingerprint, key and bundle all match): only its expiry is wrong.
   */
  async function storeExpiringCert(app: string, names: string[]): Promise<{ fingerprint: string; ca: string }> {
    const dir = mkdtempSync(join(work, 'expiring-'));
    const sh = (args: string[]) => execa('openssl', args, { cwd: dir });
    await sh(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=hop3 test old CA']);
    await sh(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'leaf.csr', '-subj', `/CN=${names[0]}`]);
    writeFileSync(join(dir, 'ext.cnf'), `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}\n`);
    await sh(['x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'leaf.pem', '-days', '1', '-extfile', 'ext.cnf']);
    const leaf = readFileSync(join(dir, 'leaf.pem'), 'utf8');
    const ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
    const before = readRecord(certs(app))!;
    storeCert(certs(app), { chain: [leaf, ca], key: readFileSync(join(dir, 'key.pem'), 'utf8') }, { ...before, issuedAt: new Date().toISOString(), lastError: null });
    return { fingerprint: fingerprintOf(leaf), ca };
  }

  beforeAll(async () => {
    d.httpPort = await freePort();
    pebble = await new Pebble(d.httpPort, { PEBBLE_AUTHZREUSE: '0' }).start();
    Object.assign(d.extraEnv, { HOP3_ACME_DIRECTORY: pebble.directory, HOP3_ACME_CA_FILE: pebble.caFile });
    await d.start();
    root = await pebble.root();
  }, 60_000);
  afterAll(async () => {
    await pebble?.cleanup();
    await d.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  const host = `shop.${DOMAIN}`;

  it('an app with mode = "acme" gets a pebble-issued certificate, served on HOP3_HTTPS_PORT and verified with pebble\'s CA', async () => {
    const t0 = performance.now();
    await deploy(appWithTls('hello-wsgi', 'shop', 'mode = "acme"\nhttps-only = true\nhsts = true'), 'shop');
    const deployMs = performance.now() - t0;
    const r = await httpsGet(d.httpsPort, host, root);
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ app: 'shop', release: 'v1' });
    expect(r.issuer).toMatch(/^Pebble Intermediate CA/);
    expect(r.headers['strict-transport-security']).toBe('max-age=31536000');
    // The same with curl, trusting pebble's root only.
    const rootFile = join(work, 'pebble-root.pem');
    writeFileSync(rootFile, root);
    const curl = await execa('curl', ['-sS', '--cacert', rootFile, '--resolve', `${host}:${d.httpsPort}:127.0.0.1`, `https://${host}:${d.httpsPort}/`], { reject: false });
    expect(curl.exitCode, String(curl.stderr)).toBe(0);
    expect(JSON.parse(String(curl.stdout))).toMatchObject({ app: 'shop' });
    expect(readRecord(certs('shop'))).toMatchObject({ mode: 'acme', names: [host], lastError: null });
    expect(readRecord(certs('shop'))?.standIn).toBeUndefined();
    const issued = [...readFileSync(d.logFile, 'utf8').matchAll(/"cert":"shop".*?"ms":(\d+).*certificate stored/g)].map((m) => Number(m[1]));
    console.log(`certificate issuance against pebble inside a deploy (1 name, HTTP-01 through ${proxy}): ${issued[0]} ms; the whole deploy ${deployMs.toFixed(0)} ms`);
    expect(issued).toHaveLength(1);
    // hop3 certs reads hop3's stored certificates, whichever proxy serves them.
    const listed = await d.json<Array<Record<string, unknown>>>(['certs', 'shop']);
    expect(listed.map(({ app, names, mode, issuer, status, lastError }) => ({ app, names, mode, issuer, status, lastError })))
      .toEqual([{ app: 'shop', names: [host], mode: 'acme', issuer: expect.stringMatching(/^Pebble Intermediate CA/), status: 'valid', lastError: null }]);
  });

  it('https-only redirects HTTP with 308 to the HTTPS port, except ACME challenges; HSTS is on HTTPS answers only', async () => {
    const r = await d.get(host, '/some/path?q=1');
    expect(r.status).toBe(308);
    const raw = await execa('curl', ['-sS', '-o', '/dev/null', '-w', '%{redirect_url}', '-H', `Host: ${host}`, `http://127.0.0.1:${d.httpPort}/some/path?q=1`]);
    expect(String(raw.stdout)).toBe(`https://${host}:${d.httpsPort}/some/path?q=1`);
    const headers = await execa('curl', ['-sS', '-D', '-', '-o', '/dev/null', '-H', `Host: ${host}`, `http://127.0.0.1:${d.httpPort}/`]);
    expect(String(headers.stdout)).not.toMatch(/strict-transport-security/i);
    writeFileSync(join(d.home, 'certs', 'challenges', 'tok_1'), 'tok_1.thumb');
    expect(await d.get(host, '/.well-known/acme-challenge/tok_1')).toEqual({ status: 200, body: 'tok_1.thumb' });
    rmSync(join(d.home, 'certs', 'challenges', 'tok_1'));
  });

  it('a deleted certificate and key are back within 2 s (reissued by pebble), and HTTPS never stopped', async () => {
    const before = readRecord(certs('shop'))!.fingerprint;
    const t0 = Date.now();
    rmSync(certs('shop').bundle);
    rmSync(certs('shop').key);
    rmSync(certs('shop').cert);
    // Back = stored again and served by the proxy (reloaded with it), within 2 s of the deletion.
    const { elapsedMs } = await within(2000, async () => existsSync(certs('shop').bundle) && existsSync(certs('shop').key)
      && readRecord(certs('shop'))?.fingerprint !== before && (await httpsGet(d.httpsPort, host, root)).fingerprint === storedFingerprint('shop'));
    console.log(`deleted certificate stored and served again after ${elapsedMs} ms (${Date.now() - t0} ms to the check)`);
    expect(readRecord(certs('shop'))?.lastError).toBeNull();
  });

  it('a certificate inside the renewal window is renewed with no failed HTTPS request under load', async () => {
    const served = (await httpsGet(d.httpsPort, host, root)).fingerprint;
    let expiring = { fingerprint: '', ca: '' };
    const eventsBefore = (await d.json<Array<{ id: number }>>(['events', 'shop', '--limit', '1000'])).at(-1)!.id;
    const load = await underLoad(d.httpsPort, host, async () => {
      // Stored while the daemon is down (the proxy serves on): the look at every certificate at
      // start finds it complete, inside its window.
      await d.stop();
      expiring = await storeExpiringCert('shop', [host]);
      await d.start();
      await within(20_000, () => {
        const fp = readRecord(certs('shop'))?.fingerprint;
        return fp !== expiring.fingerprint && fp !== undefined;
      });
      // Requests after the switch get the new certificate.
      await within(5000, async () => (await httpsGet(d.httpsPort, host, root)).fingerprint === storedFingerprint('shop'));
    }, { get: () => httpsGet(d.httpsPort, host, [root, expiring.ca].filter(Boolean)) });
    expect(load.failures).toEqual([]);
    expect(load.ok).toBeGreaterThan(20);
    // Soon every new connection gets it: 10 in a row (an nginx worker of the configuration before
    // the reload may still take one for a moment; it serves the previous, still valid certificate).
    const odd: string[] = [];
    await within(5000, async () => {
      for (let i = 0; i < 10; i++) {
        const fp = (await httpsGet(d.httpsPort, host, [root, expiring.ca])).fingerprint;
        if (fp !== storedFingerprint('shop')) {
          odd.push(fp === served ? 'the one before the renewal' : fp === expiring.fingerprint ? 'the expiring one' : 'another');
          return false;
        }
      }
      return true;
    });
    const after = await httpsGet(d.httpsPort, host, root);
    expect(after.issuer).toMatch(/^Pebble/);
    expect(after.fingerprint).not.toBe(served);
    if (odd.length > 0) console.log(`after the renewal, ${odd.length} connection(s) got another certificate first: ${odd.join(', ')}`);
    console.log(`renewal under load: ${load.ok} HTTPS requests, ${load.failures.length} failed, in ${load.ms} ms`);
    // Renewed for its expiry: an expected change, recorded as cert.renewed, not as drift.
    const events = (await d.json<Array<{ id: number; kind: string; data: { resource?: string; reasons?: string[] } }>>(['events', 'shop', '--limit', '1000']))
      .filter((e) => e.id > eventsBefore);
    expect(events.filter((e) => e.kind === 'cert.renewed').map((e) => e.data.reasons)).toEqual([[expect.stringMatching(/^expiry: \d+ days left, renewed under 30$/)]]);
    expect(events.filter((e) => e.kind === 'drift' && e.data.resource === 'cert:shop')).toEqual([]);
  });

  it('a self-signed app serves HTTPS with its own certificate; a default one ([tls] absent, a .test name) too', async () => {
    await deploy(appWithTls('static-site', 'docs', 'mode = "self-signed"'), 'docs');
    const own = readFileSync(certs('docs').cert, 'utf8');
    const r = await httpsGet(d.httpsPort, `docs.${DOMAIN}`, own);
    expect(r.status).toBe(200);
    expect(r.issuer).toBe(`docs.${DOMAIN}`);
    expect(r.headers['strict-transport-security']).toBeUndefined();
    // HTTP still serves: no https-only.
    expect((await d.get(`docs.${DOMAIN}`)).status).toBe(200);
    // pebble's CA does not vouch for it.
    await expect(httpsGet(d.httpsPort, `docs.${DOMAIN}`, root)).rejects.toThrow(/self-signed|unable to verify/);
    // No [tls] table: mode auto, and a .test name no public CA could prove, so self-signed.
    await deploy(join(EXAMPLES, 'static-site'), 'static-site');
    expect(readRecord(certs('static-site'))).toMatchObject({ mode: 'self-signed', names: [`static-site.${DOMAIN}`] });
    const dflt = await httpsGet(d.httpsPort, `static-site.${DOMAIN}`, readFileSync(certs('static-site').cert, 'utf8'));
    expect([dflt.status, dflt.issuer]).toEqual([200, `static-site.${DOMAIN}`]);
  });

  it('a name no app serves gets no certificate over HTTPS: the handshake is refused', async () => {
    const err = await httpsGet(d.httpsPort, `nobody.${DOMAIN}`, root).catch((e: unknown) => e);
    expect(String(err)).toMatch(/alert|handshake|unrecognized name/i);
    expect(String(err)).not.toMatch(/altnames|Hostname\/IP does not match/);
  });

  it('turning TLS off removes the HTTPS server and then the certificate; destroying an app removes its certificate', async () => {
    await deploy(appWithTls('static-site', 'docs', 'mode = "off"'), 'docs');
    expect(existsSync(certs('docs').dir)).toBe(false);
    await expect(httpsGet(d.httpsPort, `docs.${DOMAIN}`, root)).rejects.toThrow();
    expect((await d.get(`docs.${DOMAIN}`)).status).toBe(200);
    expect(existsSync(certs('static-site').dir)).toBe(true);
    expect((await d.hop3(['destroy', 'static-site', '--yes'])).exitCode).toBe(0);
    expect(existsSync(certs('static-site').dir)).toBe(false);
  });

  it('with pebble stopped: a due renewal fails, is reported and retried, the current certificate keeps serving; an app deployed meanwhile goes live (self-signed stand-in) and gets its pebble certificate once pebble is back', async () => {
    const serving = await httpsGet(d.httpsPort, host, root);
    await pebble.stop();
    await storeExpiringCert('shop', [host]);
    const failed = await within(15_000, () => {
      const rec = readRecord(certs('shop'));
      return rec?.lastError ? rec.lastError : null;
    }).catch((err: unknown) => {
      throw new Error(`${String(err)}; record: ${JSON.stringify(readRecord(certs('shop')))}; log: ${readFileSync(d.logFile, 'utf8').split('\n').filter((l) => /cert|reconcile failed/.test(l)).slice(-5).join('\n')}`);
    });
    expect(failed.value).toMatchObject({ code: 'CERT_ISSUE_FAILED', message: expect.stringMatching(/ECONNREFUSED/) });
    // The proxy still serves the certificate it loaded: no reload happened with the failed one.
    const still = await httpsGet(d.httpsPort, host, root);
    expect(still.fingerprint).toBe(serving.fingerprint);
    const status = await d.json<{ message: string }>(['status', 'shop']);
    expect(status.message).toMatch(/ACME server did not issue|127\.0\.0\.1/);
    // The failure is reported once, as cert.failed (a renewal is not drift).
    const events = await d.json<Array<{ kind: string; data: { message?: string } }>>(['events', 'shop', '--limit', '1000']);
    const reported = events.filter((e) => e.kind === 'cert.failed' && /ECONNREFUSED/.test(e.data.message ?? ''));
    expect(reported, JSON.stringify(events.slice(-5))).not.toEqual([]);

    // A first deploy while the CA is down is not held up by it.
    const lateHost = `late.${DOMAIN}`;
    await deploy(appWithTls('hello-wsgi', 'late', 'mode = "acme"'), 'late');
    expect((await d.get(lateHost)).status).toBe(200);
    const standIn = readFileSync(certs('late').cert, 'utf8');
    expect(readRecord(certs('late'))).toMatchObject({ mode: 'acme', standIn: true, lastError: { code: 'CERT_ISSUE_FAILED' } });
    expect((await httpsGet(d.httpsPort, lateHost, standIn)).status).toBe(200);

    // pebble is back (with a new root): both are issued by it, retried with the work queue's backoff.
    await pebble.start();
    const newRoot = await pebble.root();
    const { elapsedMs } = await within(70_000, async () => {
      const a = await httpsGet(d.httpsPort, host, newRoot).catch(() => null);
      const b = await httpsGet(d.httpsPort, lateHost, newRoot).catch(() => null);
      return a?.status === 200 && b?.status === 200;
    });
    console.log(`after pebble came back, both certificates were issued within ${elapsedMs} ms`);
    expect(readRecord(certs('shop'))?.lastError).toBeNull();
    expect(readRecord(certs('late'))).toMatchObject({ mode: 'acme', lastError: null });
    expect(readRecord(certs('late'))?.standIn).toBeUndefined();
  }, 120_000);
});
