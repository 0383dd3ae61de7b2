import { createExec } from '../../src/lib/exec.js';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertView } from '../../src/commands/cert-status.js';
import { loadConfig } from '../../src/config.js';
import { layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { certProvider, type CertDesired } from '../../src/plugins/certs/index.js';
import { appDir, Daemon, freePort, within } from './harness.js';

type Status = { generation: number; urls: string[] };
type EventRow = { kind: string; data: Record<string, unknown> };

/**
 * `hop3 certs` and `hop3 certs renew` against a real daemon. Issuing belongs to the reconcile
 * pass (the certificate provider driven by the loop); where this branch's daemon does not issue
 * yet, the test stands in for that pass with the same provider on the daemon's HOP3_HOME, and
 * each stand-in step is one the pass would take itself.
 */
describe('hop3 certs', () => {
  let d: Daemon;
  let httpsPort = 0;
  const dirs: string[] = [];
  let provider: ReturnType<typeof certProvider>;
  const blog: CertDesired = { name: 'blog', names: ['blog.localhost', 'www.blog.test'], mode: 'self-signed' };
  const certFile = () => join(d.home, 'certs', 'blog', 'cert.pem');

  async function deploy(name: string, toml: string) {
    const dir = appDir({ 'hop3.toml': `[build]\nbuilder = "static"\n[run]\nstatic = "public"\n${toml}`, 'public/index.html': `<h1>${name}</h1>\n` });
    dirs.push(dir);
    const r = await d.hop3(['deploy', dir, '--app', name]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
  }

  /** The CLI's JSON answer and exit code, whatever the code. */
  async function cli<T = any>(args: string[]): Promise<{ code: number | undefined; body: T; stderr: string }> {
    const r = await d.hop3([...args, '--json']);
    return { code: r.exitCode, body: JSON.parse(String(r.stdout)) as T, stderr: String(r.stderr) };
  }

  const events = async (app: string) => d.json<EventRow[]>(['events', app, '--limit', '1000']);

  beforeAll(async () => {
    httpsPort = await freePort();
    d = new Daemon({ HOP3_HTTPS_PORT: String(httpsPort) });
    await d.start();
    const config = loadConfig({ HOP3_HOME: d.home });
    provider = certProvider({ config, layout: layoutOf(d.home), log: createLogger('silent'), exec: createExec() });
    await deploy('blog', '[tls]\nmode = "self-signed"\n[domains]\nnames = ["www.blog.test"]\n');
    await deploy('plain', '[tls]\nmode = "off"\n');
    await deploy('shop', '[tls]\nmode = "acme"\n');
    // The pass's step: store blog's certificate (no-op for the test if the daemon did it first).
    await provider.apply('create', blog);
  }, 240_000);
  afterAll(async () => {
    await d?.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the apps with [tls] on, as stored, in the documented JSON shape', async () => {
    const rows = await d.json<CertView[]>(['certs']);
    expect(rows.map((r) => r.app)).toEqual(['blog', 'shop']);
    const x509 = new X509Certificate(readFileSync(certFile()));
    expect(rows[0]).toMatchObject({
      app: 'blog', names: ['blog.localhost', 'www.blog.test'], mode: 'self-signed', status: 'valid', lastError: null,
      issuer: 'blog.localhost', notBefore: new Date(x509.validFrom).toISOString(), notAfter: new Date(x509.validTo).toISOString(),
    });
    for (const key of ['app', 'names', 'mode', 'issuer', 'notBefore', 'notAfter', 'status', 'lastError']) expect(rows[0]).toHaveProperty(key);
    // shop asks for ACME and no CA is configured: nothing stored (pending), or the failure recorded (error).
    expect(rows[1]).toMatchObject({ app: 'shop', mode: 'acme', names: ['shop.localhost'], issuer: null, notAfter: null });

    expect(await d.json(['certs', 'plain'])).toEqual([]);
    expect((await d.json<CertView[]>(['certs', 'blog'])).map((r) => r.app)).toEqual(['blog']);
    const missing = await cli(['certs', 'nope']);
    expect([missing.code, missing.body.error.code]).toEqual([1, 'APP_NOT_FOUND']);
  });

  it('prints a table for people', async () => {
    const r = await d.hop3(['certs']);
    expect(r.exitCode).toBe(0);
    const lines = String(r.stdout).split('\n');
    expect(lines[0]).toMatch(/^APP\s+STATUS\s+MODE\s+NAMES\s+NOTAFTER\s+ISSUER$/);
    expect(lines.find((l) => l.startsWith('blog '))).toMatch(/^blog\s+valid\s+self-signed\s+blog\.localhost www\.blog\.test\s+\d{4}-\d\d-\d\dT.*\s+blog\.localhost$/);
  });

  it('hop3 status lists the https URLs after the http ones, for apps with [tls] on only', async () => {
    expect((await d.json<Status>(['status', 'blog'])).urls).toEqual([
      `http://blog.localhost:${d.httpPort}/`, `http://www.blog.test:${d.httpPort}/`,
      `https://blog.localhost:${httpsPort}/`, `https://www.blog.test:${httpsPort}/`,
    ]);
    expect((await d.json<Status>(['status', 'plain'])).urls).toEqual([`http://plain.localhost:${d.httpPort}/`]);
  });

  it('refuses to renew what has no certificate, and changes nothing', async () => {
    const before = await d.json<Status>(['status', 'plain']);
    const eventsBefore = (await events('plain')).length;
    const off = await cli(['certs', 'renew', 'plain']);
    expect([off.code, off.body.error.code]).toEqual([1, 'TLS_OFF']);
    expect(off.body.error.message).toBe('plain has no certificate to renew: its [tls] mode is "off"');
    const unknown = await cli(['certs', 'renew', 'nope']);
    expect([unknown.code, unknown.body.error.code]).toEqual([1, 'APP_NOT_FOUND']);
    const bad = await cli(['certs', 'renew', 'Bad_Name']);
    expect([bad.code, bad.body.error.code]).toEqual([1, 'APP_NAME_INVALID']);
    expect((await d.json<Status>(['status', 'plain'])).generation).toBe(before.generation);
    expect((await events('plain')).length).toBe(eventsBefore);
  });

  it('--detach records the request once, with a new generation, and returns', async () => {
    const before = await d.json<Status>(['status', 'blog']);
    const r = await d.json<{ app: string; requestedAt: string; detached: boolean }>(['certs', 'renew', 'blog', '--detach']);
    expect(r).toMatchObject({ app: 'blog', detached: true });
    expect((await d.json<Status>(['status', 'blog'])).generation).toBe(before.generation + 1);
    const again = await d.json<{ requestedAt: string }>(['certs', 'renew', 'blog', '--detach']);
    expect(again.requestedAt).toBe(r.requestedAt);
    expect((await d.json<Status>(['status', 'blog'])).generation).toBe(before.generation + 1);
    expect((await events('blog')).filter((e) => e.kind === 'cert.renewal-requested').map((e) => e.data)).toEqual([{ requestedAt: r.requestedAt }]);
    const [row] = await d.json<CertView[]>(['certs', 'blog']);
    expect(row!.renewRequestedAt).toBe(r.requestedAt);
    // Unless the daemon renewed it already, the stored one is older than the request.
    if (row!.issuedAt! < r.requestedAt) expect(row).toMatchObject({ status: 'renewing', reasons: [`renewal requested at ${r.requestedAt}`] });
  });

  it('waits until a certificate issued since the request is stored, printing progress, and exits 0', async () => {
    const before = readFileSync(certFile(), 'utf8');
    const started = Date.now();
    const waiting = d.hop3(['certs', 'renew', 'blog', '--json', '--timeout', '60']);
    // The pass's step: it sees the request in the desired certificate and renews.
    const { value: requestedAt } = await within(10_000, async () => (await d.json<CertView[]>(['certs', 'blog']))[0]!.renewRequestedAt);
    await provider.apply('update', { ...blog, renewRequestedAt: requestedAt });
    const r = await waiting;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const view = JSON.parse(String(r.stdout)) as CertView;
    expect(view).toMatchObject({ app: 'blog', status: 'valid', lastError: null });
    expect(Date.parse(view.issuedAt!)).toBeGreaterThanOrEqual(Date.parse(view.renewRequestedAt!));
    expect(readFileSync(certFile(), 'utf8')).not.toBe(before);
    expect(String(r.stderr)).toMatch(/-----> blog: (new certificate requested|a renewal is already requested) at /);
    console.log(`hop3 certs renew blog: exit 0 after ${Date.now() - started} ms (the certificate stored by the provider in the meantime)`);
  });

  it('stops at once when the issuance fails in a way no retry fixes; the request stays recorded', async () => {
    const waiting = d.hop3(['certs', 'renew', 'shop', '--json', '--timeout', '60']);
    const { value: requestedAt } = await within(10_000, async () => (await d.json<CertView[]>(['certs', 'shop']))[0]!.renewRequestedAt);
    // The pass's step: ACME is not configured on this daemon, so the provider records ACME_NOT_CONFIGURED.
    await provider.apply('update', { name: 'shop', names: ['shop.localhost'], mode: 'acme', renewRequestedAt: requestedAt }).catch(() => undefined);
    const t0 = Date.now();
    const r = await waiting;
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.exitCode).toBe(1);
    const err = JSON.parse(String(r.stdout)).error;
    expect(err.code).toBe('CERT_NOT_RENEWED');
    expect(err.message).toContain('ACME_NOT_CONFIGURED');
    expect((await d.json<CertView[]>(['certs', 'shop']))[0]).toMatchObject({ status: 'error', renewRequestedAt: requestedAt, lastError: { code: 'ACME_NOT_CONFIGURED' } });
  });

  it('gives up at --timeout with exit 1, leaving the request recorded', async () => {
    // shop can never get a certificate here: nothing stored since the request, ever.
    rmSync(join(d.home, 'certs', 'shop'), { recursive: true, force: true });
    const t0 = Date.now();
    const r = await d.hop3(['certs', 'renew', 'shop', '--json', '--timeout', '2']);
    const ms = Date.now() - t0;
    expect(r.exitCode).toBe(1);
    const err = JSON.parse(String(r.stdout)).error;
    expect(err.code).toBe('CERT_NOT_RENEWED');
    // This branch's daemon issues nothing, so the client gives up; a daemon that tries records ACME_NOT_CONFIGURED first.
    expect(err.message).toMatch(/gave up after 2 s \(--timeout\)|ACME_NOT_CONFIGURED/);
    expect(ms).toBeLessThan(8000);
    expect(String(r.stderr)).toMatch(/-----> shop: /);
    expect((await d.json<CertView[]>(['certs', 'shop']))[0]!.renewRequestedAt).not.toBeNull();
  });
});
