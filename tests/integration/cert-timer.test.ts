import { execa } from 'execa';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certPaths, fingerprintOf, readRecord, storeCert } from '../../src/plugins/certs/cert-files.js';
import { appDir, Daemon, freePort, within } from './harness.js';

type EventRow = { id: number; kind: string; data: Record<string, any> };

const CHECK_SECONDS = 1;
const RENEW_DAYS = 30;
/** How long after it is stored the test's certificate stays out of its renewal window. */
const FINE_FOR_MS = 15_000;

/**
 * The renewal timer: a certificate that time alone brings into its renewal window (no file
 * changes, no record change, the resync an hour away) is renewed because the timer asks for a
 * look every HOP3_CERT_CHECK_SECONDS; while it is fine, those looks change nothing.
 */
describe('certificate renewal timer', () => {
  const d = new Daemon({ HOP3_CERT_CHECK_SECONDS: String(CHECK_SECONDS), HOP3_CERT_RENEW_DAYS: String(RENEW_DAYS), HOP3_RESYNC_SECONDS: '3600' });
  const work = mkdtempSync(join(tmpdir(), 'hop3-cert-timer-'));
  const certs = () => certPaths(join(d.home, 'certs'), 'tick');
  const events = async () => d.json<EventRow[]>(['events', 'tick', '--limit', '1000']);

  /**
   * A self-signed certificate that leaves its renewal window's edge at `notAfter` − RENEW_DAYS:
   * `openssl ca` sets an end date to the second (`req -x509` only counts days).
   */
  async function certEnding(notAfter: Date, name: string): Promise<{ cert: string; key: string }> {
    const dir = mkdtempSync(join(work, 'ca-'));
    writeFileSync(join(dir, 'ca.cnf'), [
      '[ca]', 'default_ca = d', '[d]', 'database = index.txt', 'new_certs_dir = .', 'serial = serial', 'default_md = sha256',
      'policy = p', 'copy_extensions = copy', 'unique_subject = no', '[p]', 'commonName = supplied', '',
    ].join('\n'));
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'serial'), '01\n');
    const sh = (args: string[]) => execa('openssl', args, { cwd: dir });
    await sh(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'key.pem', '-out', 'req.csr', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`]);
    const end = notAfter.toISOString().replace(/[-:T]/g, '').replace(/\.\d+Z$/, 'Z');
    await sh(['ca', '-batch', '-config', 'ca.cnf', '-selfsign', '-keyfile', 'key.pem', '-in', 'req.csr', '-enddate', end, '-notext', '-out', 'cert.pem']);
    return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8') };
  }

  const mtimes = () => Object.fromEntries(readdirSync(certs().dir).map((f) => [f, statSync(join(certs().dir, f)).mtimeMs]));

  beforeAll(async () => {
    d.extraEnv.HOP3_HTTPS_PORT = String(await freePort());
    await d.start();
    const dir = appDir({ 'hop3.toml': '[build]\nbuilder = "static"\n[run]\nstatic = "public"\n[tls]\nmode = "self-signed"\n', 'public/index.html': '<h1>tick</h1>\n' });
    try {
      const r = await d.hop3(['deploy', dir, '--app', 'tick']);
      expect(r.exitCode, String(r.stderr)).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
  afterAll(async () => {
    await d.cleanup();
    rmSync(work, { recursive: true, force: true });
  });

  it('a certificate that time brings into its window is renewed within a check period; until then the checks write nothing', async () => {
    // Stored with a consistent record while the daemon is down, so no pass sees it half written.
    await d.stop();
    const due = new Date(Date.now() + FINE_FOR_MS);
    const ending = await certEnding(new Date(due.getTime() + RENEW_DAYS * 86_400_000), 'tick.localhost');
    const before = readRecord(certs())!;
    storeCert(certs(), { chain: [ending.cert], key: ending.key }, { ...before, issuedAt: new Date().toISOString(), lastError: null });
    await d.start();
    const proxy = d.proxyPid();
    const from = Math.max(0, ...(await events()).map((e) => e.id));
    const files = mtimes();

    // Fine until `due`: several timer looks, and not one file written nor event recorded.
    await new Promise((r) => setTimeout(r, Math.max(0, due.getTime() - Date.now() - 2000)));
    expect(mtimes()).toEqual(files);
    expect(readRecord(certs())!.fingerprint).toBe(fingerprintOf(ending.cert));
    expect((await events()).filter((e) => e.id > from)).toEqual([]);
    expect(d.proxyPid()).toBe(proxy);

    // Nothing else looks at the app (no file changes, the resync an hour away): the timer does.
    await within(15_000, () => readRecord(certs())!.fingerprint !== fingerprintOf(ending.cert));
    const late = Date.now() - due.getTime();
    console.log(`renewal timer (HOP3_CERT_CHECK_SECONDS=${CHECK_SECONDS}): renewed ${late} ms after the certificate entered its window`);
    expect(late).toBeLessThan(CHECK_SECONDS * 1000 + 3000);
    const renewed = (await events()).filter((e) => e.id > from && e.kind === 'cert.renewed');
    expect(renewed.map((e) => e.data)).toEqual([
      { names: ['tick.localhost'], notAfter: expect.any(String), reasons: [`expiry: ${RENEW_DAYS - 1} days left, renewed under ${RENEW_DAYS}`] },
    ]);
    expect(Date.parse(renewed[0]!.data.notAfter)).toBeGreaterThan(due.getTime() + RENEW_DAYS * 86_400_000);
    expect((await events()).filter((e) => e.id > from && e.kind === 'drift')).toEqual([]);
  });
});
