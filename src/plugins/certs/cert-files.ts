import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { userError } from '../../lib/errors.js';
import { fileSignature, sameSignature } from '../../lib/file-signature.js';
import { writeFileAtomic, writeIfDifferent } from '../../lib/fs-atomic.js';
import { UNKNOWN, type Unknown } from '../../lib/unknown.js';
import type { CertLive, CertRecord } from './types.js';

/** A certificate's directory name: a plain token, so it can be a path segment and a config value. */
const CERT_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** A DNS name HTTP-01 can prove: lowercase labels, no wildcard. */
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** certs/challenges/ is served to the world: no certificate may live there. */
const RESERVED = new Set(['challenges']);

/** Whether `name` can name a certificate (a directory under certs/). */
export const isCertName = (name: string): boolean => !RESERVED.has(name) && CERT_NAME.test(name);

export function checkCertName(name: string): void {
  if (RESERVED.has(name)) {
    throw userError('CERT_INVALID', `certificate name ${JSON.stringify(name)} is reserved`, {
      hint: 'certs/challenges/ holds the ACME answers the proxy serves; name the certificate otherwise',
    });
  }
  if (!CERT_NAME.test(name)) {
    throw userError('CERT_INVALID', `certificate name ${JSON.stringify(name)} is not valid`, {
      hint: 'a certificate is named like an app: lowercase letters, digits and dashes, up to 63',
    });
  }
}

export function checkDnsNames(names: string[]): void {
  if (names.length === 0) throw userError('CERT_INVALID', 'a certificate needs at least one DNS name');
  for (const n of names) {
    if (!DNS_NAME.test(n)) {
      throw userError('CERT_INVALID', `${JSON.stringify(n)} is not a DNS name a certificate can be issued for`, {
        hint: 'lowercase letters, digits, dashes and dots; no wildcard (HTTP-01 cannot prove one)',
      });
    }
  }
}

export interface CertPaths {
  dir: string;
  cert: string;
  chain: string;
  fullchain: string;
  key: string;
  /** key.pem, then fullchain.pem, in one file (0600): what a proxy points both its certificate and key at. */
  bundle: string;
  record: string;
}

export function certPaths(certsDir: string, name: string): CertPaths {
  const dir = join(certsDir, name);
  return {
    dir,
    cert: join(dir, 'cert.pem'),
    chain: join(dir, 'chain.pem'),
    fullchain: join(dir, 'fullchain.pem'),
    key: join(dir, 'key.pem'),
    bundle: join(dir, 'bundle.pem'),
    record: join(dir, 'record.json'),
  };
}

export const fingerprintOf = (pem: string) => createHash('sha256').update(pem).digest('hex');

/** The content of a file; null when it is not there; UNKNOWN when it could not be read. */
function readOrAbsent(path: string): string | null | Unknown {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? null : UNKNOWN;
  }
}

/** hop3's record of a certificate; null when there is none (or it is garbled: nothing to trust). */
function parseRecord(text: string | null | Unknown): CertRecord | null | Unknown {
  if (text === UNKNOWN || text === null) return text;
  try {
    return JSON.parse(text) as CertRecord;
  } catch {
    return null;
  }
}

export function readRecord(paths: CertPaths): CertRecord | null {
  const record = parseRecord(readOrAbsent(paths.record));
  return record === UNKNOWN ? null : record;
}

export function writeRecord(paths: CertPaths, record: CertRecord): void {
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  writeIfDifferent(paths.record, `${JSON.stringify(record, null, 2)}\n`, 0o600);
}

/** The last observation of each certificate, by what its files looked like (see `fileSignature`); parsing and the key check cost about 0.25 ms a certificate. */
export type ObserveMemo = Map<string, { signature: Float64Array; live: CertLive; watched: readonly string[] }>;

function parse(name: string, cert: string, key: string, bundle: string | null, chain: string | null, record: CertRecord | null): CertLive {
  const bundleMatches = bundle !== null && bundle === `${key}${cert}${chain ?? ''}`;
  const fingerprint = fingerprintOf(cert);
  try {
    const x509 = new X509Certificate(cert);
    let keyMatches = false;
    try {
      keyMatches = x509.checkPrivateKey(createPrivateKey(key));
    } catch {
      keyMatches = false;
    }
    return {
      name, names: dnsNamesOf(x509), issuer: commonName(x509.issuer), notBefore: new Date(x509.validFrom),
      notAfter: new Date(x509.validTo), fingerprint, keyMatches, bundleMatches, record,
    };
  } catch {
    return { name, names: [], issuer: '', notBefore: new Date(0), notAfter: new Date(0), fingerprint, keyMatches: false, bundleMatches, record };
  }
}

/** The files whose signature tells whether a stored certificate changed. */
const watchedFiles = (p: CertPaths): readonly string[] => [p.cert, p.key, p.record, p.bundle];

/**
 * Read a stored certificate. Absent (null) when cert.pem or key.pem is missing; UNKNOWN when a
 * file is there but cannot be read. A file that does not parse is live with no names and an
 * expiry in the past, so the diff renews it instead of trusting it. `memo` spares reading and
 * parsing files whose signature has not changed since the last look.
 */
export function readStoredCert(certsDir: string, name: string, memo?: ObserveMemo): CertLive | null | Unknown {
  const seen = memo?.get(name);
  // chain.pem is served by nothing (bundle.pem holds the chain), so it is not looked at on every
  // pass; it is read again with the others when any of these changes.
  const watched = seen?.watched ?? watchedFiles(certPaths(certsDir, name));
  const sig = memo ? fileSignature(watched) : UNKNOWN;
  // Shared, not copied: a converged pass over many apps allocates nothing for its certificates.
  if (seen && sig !== UNKNOWN && sameSignature(seen.signature, sig)) return seen.live;
  const paths = certPaths(certsDir, name);
  const cert = readOrAbsent(paths.cert);
  const key = readOrAbsent(paths.key);
  const record = parseRecord(readOrAbsent(paths.record));
  const bundle = readOrAbsent(paths.bundle);
  const chain = readOrAbsent(paths.chain);
  // An unreadable record is not a missing one: a replaced-by-hand verdict would reissue.
  if (cert === UNKNOWN || key === UNKNOWN || record === UNKNOWN || bundle === UNKNOWN || chain === UNKNOWN) return UNKNOWN;
  if (cert === null || key === null) {
    memo?.delete(name);
    return null;
  }
  const live = Object.freeze(parse(name, cert, key, bundle, chain, record));
  if (memo && sig !== UNKNOWN) memo.set(name, { signature: sig, live, watched });
  return live;
}

function dnsNamesOf(x509: X509Certificate): string[] {
  const san = x509.subjectAltName ?? '';
  return san.split(', ').filter((s) => s.startsWith('DNS:')).map((s) => s.slice(4)).sort();
}

function commonName(dn: string): string {
  return /(?:^|\n)CN=([^\n]*)/.exec(dn)?.[1] ?? dn.replace(/\n/g, ', ');
}

export interface IssuedCert {
  /** The leaf, then the intermediates. */
  chain: string[];
  key: string;
}

/**
 * Store a certificate: the key first (0600), then the certificate files, then bundle.pem, then
 * the record with the new fingerprint. The separate files change one rename at a time, so a
 * reader between two renames can see a new key with the old certificate; bundle.pem holds the
 * pair in one file replaced by one rename, so a proxy that reads it (nginx's ssl_certificate and
 * ssl_certificate_key, Caddy's load_files both skip the other PEM blocks) sees one pair or the other.
 */
export function storeCert(paths: CertPaths, issued: IssuedCert, record: Omit<CertRecord, 'fingerprint'>): CertRecord {
  const [leaf, ...intermediates] = issued.chain.map((c) => (c.endsWith('\n') ? c : `${c}\n`));
  if (!leaf) throw new Error('storeCert: empty chain');
  const key = issued.key.endsWith('\n') ? issued.key : `${issued.key}\n`;
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  // First the record says what is being stored: files found half replaced after a kill are then
  // an interrupted store (stored again), not files changed by hand.
  const before = readRecord(paths);
  writeRecord(paths, { ...(before ?? { ...record, fingerprint: null, issuedAt: null }), storing: fingerprintOf(leaf) });
  writeFileAtomic(paths.key, key, 0o600);
  writeFileAtomic(paths.chain, intermediates.join(''), 0o644);
  writeFileAtomic(paths.fullchain, [leaf, ...intermediates].join(''), 0o644);
  writeFileAtomic(paths.cert, leaf, 0o644);
  writeFileAtomic(paths.bundle, [key, leaf, ...intermediates].join(''), 0o600);
  const full: CertRecord = { ...record, fingerprint: fingerprintOf(leaf) };
  writeRecord(paths, full);
  return full;
}

export function removeCert(paths: CertPaths): void {
  rmSync(paths.dir, { recursive: true, force: true });
}
