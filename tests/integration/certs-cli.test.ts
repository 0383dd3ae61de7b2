import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CertView } from '../../src/commands/cert-status.js';
import { appDir, Daemon, freePort, within } from './harness.js';

type Status = { generation: number; urls: string[] };
type EventRow = { id: number; kind: string; data: Record<string, any> };
const NEEDS_BOTH = /needs HOP3_ACME_DIRECTORY and HOP3_ACME_EMAIL set for hop3-server: HOP3_ACME_DIRECTORY and HOP3_ACME_EMAIL are not set/;

/**
 * `hop3 certs` and `hop3 certs renew` against a real daemon, which issues every certificate
 * itself (self-signed here; no ACME directory is configured, so `shop`, mode "acme", stays on
 * its self-signed stand-in). Where the daemon must not renew in time, the app's own pass is kept
 * busy by a release command that sleeps.
 */
describe('hop3 certs', () => {
  let d: Daemon;
  let httpsPort = 0;
  const dirs: string[] = [];
  const certFile = (app = 'blog') => join(d.home, 'certs', app, 'cert.pem');

  async function deploy(name: string, toml: string, run = '', flags: string[] = []) {
    const dir = appDir({ 'hop3.toml': `[build]\nbuilder = "static"\n[run]\nstatic = "public"\n${run}${toml}`, 'public/index.html': `<h1>${name}</h1>\n` });
    dirs.push(dir);
    const r = await d.hop3(['deploy', dir, '--app', name, ...flags]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    return `${String(r.stdout)}${String(r.stderr)}`;
  }
  let shopDeploy = '';

  /**
   * Keep `slow`'s pass busy for `seconds`: a new release whose release command sleeps. A renewal
   * asked for meanwhile waits for that pass (one pass per app at a time).
   */
  async function busy(seconds: number) {
    const from = Math.max(0, ...(await events('slow')).map((e) => e.id));
    await deploy('slow', '[tls]\nmode = "self-signed"\n', `before-run = ["sleep ${seconds}"]\n`, ['--detach']);
    await within(60_000, async () => (await events('slow')).some((e) => e.id > from && e.kind === 'output' && /Running release command: sleep/.test(e.data.line)));
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
    await deploy('blog', '[tls]\nmode = "self-signed"\n[domains]\nnames = ["www.blog.test"]\n');
    await deploy('plain', '[tls]\nmode = "off"\n');
    shopDeploy = await deploy('shop', '[tls]\nmode = "acme"\n');
    await deploy('slow', '[tls]\nmode = "self-signed"\n');
  }, 240_000);
  afterAll(async () => {
    await d?.cleanup();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('lists the apps with [tls] on, as stored, in the documented JSON shape', async () => {
    const rows = await d.json<CertView[]>(['certs']);
    expect(rows.map((r) => r.app)).toEqual(['blog', 'shop', 'slow']);
    const x509 = new X509Certificate(readFileSync(certFile()));
    expect(rows[0]).toMatchObject({
      app: 'blog', names: ['blog.localhost', 'www.blog.test'], mode: 'self-signed', status: 'valid', lastError: null,
      issuer: 'blog.localhost', notBefore: new Date(x509.validFrom).toISOString(), notAfter: new Date(x509.validTo).toISOString(),
    });
    for (const key of ['app', 'names', 'mode', 'issuer', 'notBefore', 'notAfter', 'status', 'lastError']) expect(rows[0]).toHaveProperty(key);
    // shop asks for ACME and no CA is configured: a self-signed stand-in serves, and the row says why.
    expect(rows[1]).toMatchObject({
      app: 'shop', mode: 'acme', names: ['shop.localhost'], status: 'error', issuer: 'shop.localhost',
      lastError: { code: 'ACME_NOT_CONFIGURED', message: expect.stringMatching(NEEDS_BOTH) },
    });
    expect(rows[1]!.notAfter).not.toBeNull();

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

  it('mode "acme" with no ACME settings: the release goes live on a stand-in, the status and one event name both settings, and retries back off', async () => {
    // `hop3 deploy` said so while it followed the release.
    expect(shopDeploy).toMatch(/-----> certificate for shop\.localhost not issued: \[tls\] mode = "acme" needs HOP3_ACME_DIRECTORY and HOP3_ACME_EMAIL .*a self-signed stand-in serves meanwhile/);
    expect(shopDeploy).toMatch(/is live/);
    const status = await d.json<Status & { release: string; message: string; health: string }>(['status', 'shop']);
    expect(status.release).toBe('v1');
    expect(status.message).toMatch(NEEDS_BOTH);
    expect((await d.get('shop.localhost')).status).toBe(200);
    const failed = (await events('shop')).filter((e) => e.kind === 'cert.failed');
    expect(failed.map((e) => e.data)).toEqual([expect.objectContaining({ names: ['shop.localhost'], code: 'ACME_NOT_CONFIGURED', standIn: true, message: expect.stringMatching(NEEDS_BOTH) })]);
    expect(String((await d.hop3(['events', 'shop'])).stdout)).toMatch(/certificate for shop\.localhost not issued: .*a self-signed stand-in serves meanwhile/);
    // Each retry is one failed issuance in the log; the work queue's backoff doubles the wait.
    const attempts = () => readFileSync(d.logFile, 'utf8').split('\n').filter((l) => l.includes('"cert":"shop"') && l.includes('certificate not issued')).length;
    const a0 = attempts();
    await new Promise((r) => setTimeout(r, 6000));
    const retries = attempts() - a0;
    console.log(`shop (acme, no ACME settings): ${retries} issuance attempts in 6 s`);
    expect(retries).toBeLessThanOrEqual(3);
    // A retry that fails the same way adds no event.
    expect((await events('shop')).filter((e) => e.kind === 'cert.failed').length).toBe(1);
  });

  it('--detach records the request once, with a new generation, and returns', async () => {
    await busy(20);
    const before = await d.json<Status>(['status', 'slow']);
    const r = await d.json<{ app: string; requestedAt: string; detached: boolean }>(['certs', 'renew', 'slow', '--detach']);
    expect(r).toMatchObject({ app: 'slow', detached: true });
    expect((await d.json<Status>(['status', 'slow'])).generation).toBe(before.generation + 1);
    const again = await d.json<{ requestedAt: string }>(['certs', 'renew', 'slow', '--detach']);
    expect(again.requestedAt).toBe(r.requestedAt);
    expect((await d.json<Status>(['status', 'slow'])).generation).toBe(before.generation + 1);
    expect((await events('slow')).filter((e) => e.kind === 'cert.renewal-requested').map((e) => e.data)).toEqual([{ requestedAt: r.requestedAt }]);
    const [row] = await d.json<CertView[]>(['certs', 'slow']);
    // The pass that renews waits for the one running the release command.
    expect(row).toMatchObject({ renewRequestedAt: r.requestedAt, status: 'renewing', reasons: [`renewal requested at ${r.requestedAt}`] });
    expect(Date.parse(row!.issuedAt!)).toBeLessThan(Date.parse(r.requestedAt));
  });

  it('gives up at --timeout with exit 1, leaving the request recorded; the daemon renews once it gets to it', async () => {
    const [before] = await d.json<CertView[]>(['certs', 'slow']);
    expect(before!.status).toBe('renewing');
    const t0 = Date.now();
    const r = await d.hop3(['certs', 'renew', 'slow', '--json', '--timeout', '2']);
    const ms = Date.now() - t0;
    expect(r.exitCode).toBe(1);
    const err = JSON.parse(String(r.stdout)).error;
    expect(err.code).toBe('CERT_NOT_RENEWED');
    expect(err.message).toMatch(/^no new certificate for slow yet: the client gave up after 2 s \(--timeout\)/);
    expect(ms).toBeLessThan(8000);
    expect(String(r.stderr)).toMatch(/-----> slow: a renewal is already requested at /);
    const [after] = await d.json<CertView[]>(['certs', 'slow']);
    expect(after!.renewRequestedAt).toBe(before!.renewRequestedAt);
    // The request stays recorded: once the release command is done, the next pass renews.
    const { value: renewed } = await within(60_000, async () => {
      const [v] = await d.json<CertView[]>(['certs', 'slow']);
      return v!.status === 'valid' && Date.parse(v!.issuedAt!) >= Date.parse(before!.renewRequestedAt!) ? v : null;
    });
    expect(renewed!.lastError).toBeNull();
    expect((await events('slow')).filter((e) => e.kind === 'cert.renewed').map((e) => e.data.reasons)).toEqual([[`renewal requested at ${before!.renewRequestedAt}`]]);
  });

  it('waits until the daemon has renewed, printing progress, and exits 0; under heal policy report too, as an event, not drift', async () => {
    const set = await d.hop3(['set', 'blog', '--heal-policy', 'report']);
    expect(set.exitCode, String(set.stderr)).toBe(0);
    const before = readFileSync(certFile(), 'utf8');
    const from = Math.max(0, ...(await events('blog')).map((e) => e.id));
    const started = Date.now();
    const r = await d.hop3(['certs', 'renew', 'blog', '--json', '--timeout', '60']);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const view = JSON.parse(String(r.stdout)) as CertView;
    expect(view).toMatchObject({ app: 'blog', status: 'valid', lastError: null });
    expect(Date.parse(view.issuedAt!)).toBeGreaterThanOrEqual(Date.parse(view.renewRequestedAt!));
    expect(readFileSync(certFile(), 'utf8')).not.toBe(before);
    expect(view.notAfter).toBe(new Date(new X509Certificate(readFileSync(certFile())).validTo).toISOString());
    expect(String(r.stderr)).toMatch(/-----> blog: new certificate requested at /);
    const since = (await events('blog')).filter((e) => e.id > from);
    expect(since.filter((e) => e.kind === 'cert.renewed').map((e) => e.data)).toEqual([
      { names: ['blog.localhost', 'www.blog.test'], notAfter: view.notAfter, reasons: [`renewal requested at ${view.renewRequestedAt}`] },
    ]);
    expect(since.filter((e) => e.kind === 'drift')).toEqual([]);
    expect((await d.json<Array<{ resource: string }>>(['drift', 'blog'])).filter((f) => f.resource === 'cert:blog')).toEqual([]);
    console.log(`hop3 certs renew blog: exit 0 after ${Date.now() - started} ms (renewed by the daemon)`);
  });

  it('stops at once when the issuance fails in a way no retry fixes; the request stays recorded', async () => {
    const t0 = Date.now();
    const r = await d.hop3(['certs', 'renew', 'shop', '--json', '--timeout', '60']);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.exitCode).toBe(1);
    const err = JSON.parse(String(r.stdout)).error;
    expect(err.code).toBe('CERT_NOT_RENEWED');
    expect(err.message).toContain('ACME_NOT_CONFIGURED');
    expect(err.message).toMatch(NEEDS_BOTH);
    const [row] = await d.json<CertView[]>(['certs', 'shop']);
    expect(row).toMatchObject({ status: 'error', lastError: { code: 'ACME_NOT_CONFIGURED' } });
    expect(row!.renewRequestedAt).not.toBeNull();
    expect(Date.parse(row!.lastError!.at)).toBeGreaterThanOrEqual(Date.parse(row!.renewRequestedAt!));
  });
});
