import type { CertDesired, CertLive, CertRecord } from '../plugins/certs/index.js';
import { UNKNOWN, type Unknown } from '../lib/unknown.js';

/**
 * What `hop3 certs` says of a certificate, worst first: `unknown` (its files could not be read),
 * `expired`, `error` (its last issuance failed; a stored one keeps serving), `missing` (stored
 * once, its files are gone), `pending` (never stored yet), `renewing` (inside the renewal window,
 * or no longer what the records ask for: the next pass issues a new one), `valid`.
 */
export const CERT_STATUSES = ['unknown', 'expired', 'error', 'missing', 'pending', 'renewing', 'valid'] as const;
export type CertStatus = (typeof CERT_STATUSES)[number];

/** One row of `hop3 certs`: what the records ask for beside what is stored. */
export interface CertView {
  app: string;
  /** The names the records ask for (the stored certificate's are in `reasons` when they differ). */
  names: string[];
  /** `acme` or `self-signed`: `[tls] mode`, with `auto` resolved. */
  mode: CertDesired['mode'];
  issuer: string | null;
  notBefore: string | null;
  notAfter: string | null;
  status: CertStatus;
  lastError: CertRecord['lastError'];
  /** When the stored certificate was issued. */
  issuedAt: string | null;
  /** When `hop3 certs renew` last asked for a new one. */
  renewRequestedAt: string | null;
  /** Why the stored certificate is about to be replaced (empty when it is not). */
  reasons: string[];
}

export interface CertObservation {
  live: CertLive | null | Unknown;
  /** hop3's record next to it (read even when cert.pem or key.pem is gone). */
  record: CertRecord | null;
  /** Why `diff` is not `none` (the certs provider's `reasons`); for a live certificate only. */
  reasons: string[];
}

/** Pure: the row for one certificate at `now`. */
export function certView(desired: CertDesired, seen: CertObservation, now: Date): CertView {
  const base = {
    app: desired.name, names: [...desired.names], mode: desired.mode,
    renewRequestedAt: desired.renewRequestedAt ?? null,
  };
  const { live, record } = seen;
  if (live === UNKNOWN) {
    return { ...base, issuer: null, notBefore: null, notAfter: null, status: 'unknown', lastError: record?.lastError ?? null, issuedAt: record?.issuedAt ?? null, reasons: [] };
  }
  if (live === null) {
    const lastError = record?.lastError ?? null;
    const status: CertStatus = lastError ? 'error' : record?.issuedAt ? 'missing' : 'pending';
    return { ...base, issuer: null, notBefore: null, notAfter: null, status, lastError, issuedAt: record?.issuedAt ?? null, reasons: [] };
  }
  const lastError = live.record?.lastError ?? null;
  const status: CertStatus = live.notAfter.getTime() <= now.getTime() ? 'expired' : lastError ? 'error' : seen.reasons.length > 0 ? 'renewing' : 'valid';
  return {
    ...base,
    issuer: live.issuer,
    notBefore: live.notBefore.toISOString(),
    notAfter: live.notAfter.toISOString(),
    status,
    lastError,
    issuedAt: live.record?.issuedAt ?? null,
    reasons: seen.reasons,
  };
}
