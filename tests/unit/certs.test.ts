import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { Hop3Error } from '../../src/lib/errors.js';
import { createExec } from '../../src/lib/exec.js';
import { layoutOf } from '../../src/lib/layout.js';
import { createLogger } from '../../src/lib/logger.js';
import { certDiff, certDiffReasons, certProvider, type CertDesired, type CertLive } from '../../src/plugins/certs/index.js';
import { UNKNOWN } from '../../src/reconcile/types.js';
import { changedFiles, snapshotFiles } from '../support/file-snapshot.js';

const DAY = 86_400_000;
const now = new Date('2026-06-01T00:00:00Z');
const desired: CertDesired = { name: 'blog', names: ['www.blog.test', 'blog.test'], mode: 'acme' };
const live = (over: Partial<CertLive> = {}): CertLive => ({
  name: 'blog',
  names: ['blog.test', 'www.blog.test'],
  issuer: 'Pebble Intermediate CA',
  notBefore: new Date(now.getTime() - 10 * DAY),
  notAfter: new Date(now.getTime() + 80 * DAY),
  fingerprint: 'f1',
  keyMatches: true,
  bundleMatches: true,
  record: { mode: 'acme', names: ['blog.test', 'www.blog.test'], fingerprint: 'f1', issuedAt: now.toISOString(), lastError: null },
  ...over,
});

describe('certificate diff (pure)', () => {
  it.each([
    ['a fresh certificate for the same names', live(), 'none', []],
    ['31 days left, renewal under 30', live({ notAfter: new Date(now.getTime() + 31 * DAY) }), 'none', []],
    ['29 days left, renewal under 30', live({ notAfter: new Date(now.getTime() + 29 * DAY) }), 'update', ['expiry']],
    ['an expired one', live({ notAfter: new Date(now.getTime() - DAY) }), 'update', ['expiry']],
    ['a name missing', live({ names: ['blog.test'] }), 'update', ['names']],
    ['cert.pem replaced by hand', live({ fingerprint: 'f2' }), 'update', ['replaced']],
    ['key.pem replaced by hand', live({ keyMatches: false }), 'update', ['replaced']],
    ['bundle.pem deleted or edited', live({ bundleMatches: false }), 'update', ['replaced']],
    ['no record of issuing it', live({ record: null }), 'update', ['replaced']],
    ['issued self-signed, wanted from ACME', live({ record: { ...live().record!, mode: 'self-signed' } }), 'update', ['mode']],
  ])('%s → %s', (_what, l, change, reasons) => {
    expect(certDiff(desired, l, 30, now)).toBe(change);
    expect(certDiffReasons(desired, l, 30, now).map((r) => r.split(':')[0])).toEqual(reasons);
  });
});

describe('certificate provider, self-signed, on disk', () => {
  const home = mkdtempSync(join(tmpdir(), 'hop3-certs-'));
  afterAll(() => rmSync(home, { recursive: true, force: true }));
  const config = loadConfig({ HOP3_HOME: home }, 0);
  const layout = layoutOf(home);
  let clock = new Date();
  const exec = createExec();
  const provider = certProvider({ config, layout, log: createLogger('silent'), exec, now: () => clock });
  const want: CertDesired = { name: 'site', names: ['site.test', 'www.site.test'], mode: 'self-signed' };
  const paths = { cert: join(layout.certs, 'site', 'cert.pem'), key: join(layout.certs, 'site', 'key.pem') };

  it('round-trips: absent → create → observe → diff none', async () => {
    expect(provider.observe('site')).toBeNull();
    await provider.apply('create', want);
    const l = provider.observe('site');
    if (l === null || l === UNKNOWN) throw new Error(`expected a live certificate, got ${String(l)}`);
    expect(l.names).toEqual(['site.test', 'www.site.test']);
    expect(l.keyMatches).toBe(true);
    expect(l.notAfter.getTime() - l.notBefore.getTime()).toBeGreaterThan(89 * DAY);
    expect(provider.diff(want, l)).toBe('none');
    expect(statSync(paths.key).mode & 0o777).toBe(0o600);
    expect(statSync(join(layout.certs, 'site')).mode & 0o777).toBe(0o700);
  });

  it('observe and diff of a converged certificate spawn nothing and write nothing', () => {
    const spawns = exec.spawns;
    const files = snapshotFiles(home);
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) expect(provider.diff(want, provider.observe('site') as CertLive)).toBe('none');
    console.log(`1000 × observe + diff of a stored certificate: ${(performance.now() - t0).toFixed(0)} ms`);
    expect([exec.spawns - spawns, changedFiles(files, snapshotFiles(home))]).toEqual([0, []]);
  });

  it('a certificate inside the renewal window is renewed by apply, with a new key', async () => {
    const before = provider.observe('site') as CertLive;
    const oldKey = readFileSync(paths.key, 'utf8');
    clock = new Date(before.notAfter.getTime() - 29 * DAY);
    expect(provider.reasons(want, before)).toEqual([expect.stringMatching(/^expiry: 29 days left/)]);
    await provider.apply('update', want);
    const after = provider.observe('site') as CertLive;
    expect(after.fingerprint).not.toBe(before.fingerprint);
    expect(readFileSync(paths.key, 'utf8')).not.toBe(oldKey);
    clock = new Date();
    expect(provider.diff(want, after)).toBe('none');
  });

  it('a certificate replaced by hand is seen as drift (fingerprint), and so is a garbled one', async () => {
    const good = readFileSync(paths.cert, 'utf8');
    const other = mkdtempSync(join(tmpdir(), 'hop3-certs-other-'));
    const p2 = certProvider({ config: loadConfig({ HOP3_HOME: other }, 0), layout: layoutOf(other), log: createLogger('silent'), exec: createExec() });
    await p2.apply('create', want);
    writeFileSync(paths.cert, readFileSync(join(other, 'certs', 'site', 'cert.pem')));
    rmSync(other, { recursive: true, force: true });
    const swapped = provider.observe('site') as CertLive;
    expect(swapped.keyMatches).toBe(false);
    expect(provider.reasons(want, swapped)).toContain('replaced: cert.pem is not the certificate hop3 stored');
    writeFileSync(paths.cert, 'not a certificate\n');
    expect(provider.diff(want, provider.observe('site') as CertLive)).toBe('update');
    writeFileSync(paths.cert, good);
    expect(provider.diff(want, provider.observe('site') as CertLive)).toBe('none');
  });

  it('a deleted bundle.pem (what the proxy reads) is drift', () => {
    const bundle = join(layout.certs, 'site', 'bundle.pem');
    const content = readFileSync(bundle, 'utf8');
    rmSync(bundle);
    expect(provider.reasons(want, provider.observe('site') as CertLive)).toEqual(['replaced: bundle.pem is not key.pem, cert.pem and chain.pem']);
    writeFileSync(bundle, content);
    expect(provider.diff(want, provider.observe('site') as CertLive)).toBe('none');
  });

  it('observe on an unreadable certificate is Unknown, not absent', () => {
    mkdirSync(join(layout.certs, 'odd', 'cert.pem'), { recursive: true });
    writeFileSync(join(layout.certs, 'odd', 'key.pem'), 'k');
    expect(provider.observe('odd')).toBe(UNKNOWN);
  });

  it('an unreadable record makes the certificate Unknown too (not "replaced by hand")', async () => {
    await provider.apply('create', { ...want, name: 'rec' });
    const record = join(layout.certs, 'rec', 'record.json');
    rmSync(record);
    mkdirSync(record);
    expect(provider.observe('rec')).toBe(UNKNOWN);
    rmSync(join(layout.certs, 'rec'), { recursive: true });
  });

  it('a failed issuance keeps the stored certificate and records the error', async () => {
    const before = readFileSync(paths.cert, 'utf8');
    const acmeLess = certProvider({ config, layout, log: createLogger('silent'), exec: createExec() });
    const err = await acmeLess.apply('update', { ...want, mode: 'acme' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Hop3Error);
    expect((err as Hop3Error).code).toBe('ACME_NOT_CONFIGURED');
    expect(readFileSync(paths.cert, 'utf8')).toBe(before);
    expect(acmeLess.lastError('site')).toMatchObject({ code: 'ACME_NOT_CONFIGURED' });
  });

  it('delete → observe is absent', async () => {
    await provider.apply('delete', want);
    expect(provider.observe('site')).toBeNull();
  });

  it.each([
    [{ ...want, name: '../etc' }, 'certificate name'],
    [{ ...want, name: 'challenges' }, 'is reserved'],
    [{ ...want, names: ['a.test\n  ssl_certificate /etc/shadow'] }, 'is not a DNS name'],
    [{ ...want, names: ['*.site.test'] }, 'is not a DNS name'],
    [{ ...want, names: [] }, 'at least one DNS name'],
  ])('refuses bad input %j and changes nothing', async (bad, message) => {
    const err = await provider.apply('create', bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Hop3Error);
    expect((err as Hop3Error).code).toBe('CERT_INVALID');
    expect((err as Hop3Error).message).toContain(message);
    expect(provider.observe('site')).toBeNull();
  });
});

