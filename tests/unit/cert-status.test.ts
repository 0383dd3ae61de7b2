import { describe, expect, it } from 'vitest';
import { renewalProgress } from '../../src/cli/cert-renewal.js';
import { certView, type CertObservation, type CertView } from '../../src/commands/cert-status.js';
import { loadConfig, type Config } from '../../src/config.js';
import { UNKNOWN } from '../../src/lib/unknown.js';
import { assertValidSpec, parseAppSpec } from '../../src/manifest/index.js';
import { certDiffReasons, renewalRequested, type CertDesired, type CertLive, type CertRecord } from '../../src/plugins/certs/index.js';
import { certMode, desiredCertOf as desiredCert, isPublicName } from '../../src/reconcile/desired-cert.js';
import type { ReleaseRecord } from '../../src/store/types.js';

const DAY = 86_400_000;
const now = new Date('2026-06-01T00:00:00Z');
const at = (days: number) => new Date(now.getTime() + days * DAY);
const desired: CertDesired = { name: 'blog', names: ['blog.test', 'www.blog.test'], mode: 'self-signed', renewRequestedAt: null };
const record = (over: Partial<CertRecord> = {}): CertRecord => ({
  mode: 'self-signed', names: ['blog.test', 'www.blog.test'], fingerprint: 'f1', issuedAt: at(-10).toISOString(), lastError: null, ...over,
});
const live = (over: Partial<CertLive> = {}): CertLive => ({
  name: 'blog', names: ['blog.test', 'www.blog.test'], issuer: 'blog.test', notBefore: at(-10), notAfter: at(80),
  fingerprint: 'f1', keyMatches: true, bundleMatches: true, record: record(), ...over,
});
/** What `hop3 certs` reads for one certificate: the provider's own reasons, at `now`. */
const seen = (l: CertLive | null | typeof UNKNOWN, rec: CertRecord | null = null, want = desired): CertObservation => ({
  live: l, record: l !== null && l !== UNKNOWN ? l.record : rec, reasons: l !== null && l !== UNKNOWN ? certDiffReasons(want, l, 30, now) : [],
});
const failure = { at: at(-1).toISOString(), code: 'ACME_UNREACHABLE', message: 'connect ECONNREFUSED 127.0.0.1:14000' };

describe('hop3 certs status (pure)', () => {
  it.each<[string, CertObservation, CertView['status']]>([
    ['a stored certificate with 80 days left', seen(live()), 'valid'],
    ['31 days left, renewal under 30', seen(live({ notAfter: at(31) })), 'valid'],
    ['29 days left: inside the renewal window', seen(live({ notAfter: at(29) })), 'renewing'],
    ['its names no longer those asked for', seen(live({ names: ['blog.test'] })), 'renewing'],
    ['cert.pem replaced by hand', seen(live({ fingerprint: 'f2' })), 'renewing'],
    ['past notAfter', seen(live({ notAfter: at(-1) })), 'expired'],
    ['expired, and its renewal failed: expired says more', seen(live({ notAfter: at(-1), record: record({ lastError: failure }) })), 'expired'],
    ['stored, and its renewal failed', seen(live({ notAfter: at(10), record: record({ lastError: failure }) })), 'error'],
    ['never stored, the first issuance failed', seen(null, record({ fingerprint: null, issuedAt: null, lastError: failure })), 'error'],
    ['stored once, its files deleted', seen(null, record()), 'missing'],
    ['never stored, nothing recorded', seen(null, null), 'pending'],
    ['its files could not be read', seen(UNKNOWN, record()), 'unknown'],
  ])('%s → %s', (_what, observation, status) => {
    expect(certView(desired, observation, now).status).toBe(status);
  });

  it('gives the names and mode asked for, the stored dates and issuer, and the last error', () => {
    const v = certView(desired, seen(live({ notAfter: at(10), record: record({ lastError: failure }) })), now);
    expect(v).toEqual({
      app: 'blog', names: ['blog.test', 'www.blog.test'], mode: 'self-signed', issuer: 'blog.test',
      notBefore: at(-10).toISOString(), notAfter: at(10).toISOString(), status: 'error', lastError: failure,
      issuedAt: at(-10).toISOString(), renewRequestedAt: null, reasons: [expect.stringMatching(/^expiry: 10 days left/)],
    });
    const none = certView(desired, seen(null, null), now);
    expect(none).toMatchObject({ issuer: null, notBefore: null, notAfter: null, lastError: null, issuedAt: null, reasons: [] });
  });

  it('a renewal asked for after the stored certificate was issued makes it renewing; one issued since does not', () => {
    const asked = { ...desired, renewRequestedAt: at(-1).toISOString() };
    expect(certView(asked, seen(live(), null, asked), now)).toMatchObject({ status: 'renewing', renewRequestedAt: asked.renewRequestedAt, reasons: [`renewal requested at ${asked.renewRequestedAt}`] });
    const reissued = live({ record: record({ issuedAt: at(0).toISOString() }) });
    expect(certView(asked, seen(reissued, null, asked), now).status).toBe('valid');
  });
});

describe('renewal requests in the certificate diff', () => {
  const asked = at(-1).toISOString();
  it.each<[string, string | null | undefined, string | null, boolean]>([
    ['no request', undefined, at(-10).toISOString(), false],
    ['no request (null)', null, at(-10).toISOString(), false],
    ['stored before the request', asked, at(-10).toISOString(), true],
    ['stored at the request', asked, asked, false],
    ['stored after the request', asked, at(0).toISOString(), false],
    ['never stored', asked, null, true],
  ])('%s → renew: %s', (_what, renewRequestedAt, issuedAt, renew) => {
    expect(renewalRequested({ renewRequestedAt }, { record: record({ issuedAt }) })).toBe(renew);
    expect(certDiffReasons({ ...desired, renewRequestedAt }, live({ record: record({ issuedAt }) }), 30, now).some((r) => r.startsWith('renewal requested'))).toBe(renew);
  });
});

describe('the certificate an app asks for (pure)', () => {
  const acme: Config['acme'] = { directory: 'https://acme.example.net/dir', email: 'ops@example.net', caFile: null };
  const noAcme: Config['acme'] = { directory: null, email: 'ops@example.net', caFile: null };

  it.each([
    ['blog.example.com', true], ['example.org', true], ['a.b.co', true],
    ['localhost', false], ['blog.localhost', false], ['nas.local', false], ['x.test', false], ['x.example', false],
    ['x.invalid', false], ['db.internal', false], ['pc.home.arpa', false], ['router.lan', false], ['intranet', false], ['10.0.0.1', false],
  ])('%s is public: %s', (name, pub) => {
    expect(isPublicName(name)).toBe(pub);
  });

  it.each<[string, 'auto' | 'acme' | 'self-signed' | 'off', string[], typeof acme, string | null]>([
    ['auto, ACME configured, public names', 'auto', ['blog.example.com'], acme, 'acme'],
    ['auto, ACME configured, one name private', 'auto', ['blog.example.com', 'blog.localhost'], acme, 'self-signed'],
    ['auto, no ACME directory', 'auto', ['blog.example.com'], noAcme, 'self-signed'],
    ['auto, no ACME email', 'auto', ['blog.example.com'], { ...acme, email: null }, 'self-signed'],
    ['acme is acme, whatever the names', 'acme', ['blog.localhost'], noAcme, 'acme'],
    ['self-signed', 'self-signed', ['blog.example.com'], acme, 'self-signed'],
    ['off', 'off', ['blog.example.com'], acme, null],
  ])('%s → %s', (_what, mode, names, settings, want) => {
    expect(certMode(mode, names, settings)).toBe(want);
  });

  const release = (toml: string): ReleaseRecord => ({
    app: 'blog', version: 1, source: 'rpc', commit: null, env: {}, artifact: null, ports: {}, ref: null, status: 'live', message: '', createdAt: '',
    spec: assertValidSpec(parseAppSpec({ 'hop3.toml': `[build]\nbuilder = "static"\n[run]\nstatic = "public"\n${toml}` })),
  });

  it('covers the app name under HOP3_DOMAIN and its domains, sorted, with the renewal request', () => {
    const config = loadConfig({ HOP3_HOME: '/tmp/hop3-unused', HOP3_DOMAIN: 'apps.example.com', HOP3_ACME_DIRECTORY: 'https://acme.example.net/dir', HOP3_ACME_EMAIL: 'ops@example.net' });
    expect(desiredCert({ name: 'blog' }, release('[domains]\nnames = ["www.blog.example.org"]\n'), '2026-05-31T00:00:00.000Z', config)).toEqual({
      name: 'blog', names: ['blog.apps.example.com', 'www.blog.example.org'], mode: 'acme', renewRequestedAt: '2026-05-31T00:00:00.000Z',
    });
    expect(desiredCert({ name: 'blog' }, release('[tls]\nmode = "off"\n'), null, config)).toBeNull();
    expect(desiredCert({ name: 'blog' }, null, null, config)).toBeNull();
    expect(desiredCert({ name: 'blog' }, release(''), null, loadConfig({ HOP3_HOME: '/tmp/hop3-unused' }))?.mode).toBe('self-signed');
  });
});

describe('hop3 certs renew: when the wait ends (pure)', () => {
  const requestedAt = '2026-06-01T00:00:00.000Z';
  const view = (over: Partial<CertView>): CertView => ({
    ...certView(desired, seen(live()), now), ...over,
  });
  it.each<[string, CertView | undefined, RenewalProgress['kind']]>([
    ['the stored certificate is older than the request', view({ issuedAt: '2026-05-20T00:00:00.000Z', status: 'renewing' }), 'waiting'],
    ['one issued at the request is stored', view({ issuedAt: requestedAt }), 'done'],
    ['one issued after the request is stored', view({ issuedAt: '2026-06-01T00:00:01.000Z' }), 'done'],
    ['stored since, but its files are gone again', view({ issuedAt: '2026-06-01T00:00:01.000Z', status: 'missing', notAfter: null, notBefore: null }), 'waiting'],
    ['an older failure, from before the request', view({ issuedAt: '2026-05-20T00:00:00.000Z', lastError: { at: '2026-05-31T00:00:00.000Z', code: 'ACME_NOT_CONFIGURED', message: 'x' } }), 'waiting'],
    ['the CA unreachable since the request: retried', view({ issuedAt: '2026-05-20T00:00:00.000Z', lastError: { at: '2026-06-01T00:00:02.000Z', code: 'ACME_UNREACHABLE', message: 'refused' } }), 'waiting'],
    ['ACME not configured since the request: no retry fixes it', view({ issuedAt: '2026-05-20T00:00:00.000Z', lastError: { at: '2026-06-01T00:00:02.000Z', code: 'ACME_NOT_CONFIGURED', message: 'HOP3_ACME_EMAIL is not set' } }), 'failed'],
    ['no certificate asked for any more', undefined, 'waiting'],
  ])('%s → %s', (_what, v, kind) => {
    expect(renewalProgress(v, requestedAt).kind).toBe(kind);
  });

  it('says why it is still waiting', () => {
    const p = renewalProgress(view({ issuedAt: '2026-05-20T00:00:00.000Z', lastError: { at: '2026-06-01T00:00:02.000Z', code: 'ACME_UNREACHABLE', message: 'refused' } }), requestedAt);
    expect(p).toEqual({ kind: 'waiting', note: 'issuance failed (ACME_UNREACHABLE): refused; hop3-server tries again' });
  });
});

type RenewalProgress = ReturnType<typeof renewalProgress>;
