import type { CertChange, CertDesired, CertLive } from './types.js';

const DAY_MS = 86_400_000;

/** `hop3 certs renew` asked for a certificate newer than the one stored. */
export function renewalRequested(desired: Pick<CertDesired, 'renewRequestedAt'>, live: Pick<CertLive, 'record'>): boolean {
  const asked = desired.renewRequestedAt;
  if (!asked) return false;
  const issued = live.record?.issuedAt;
  return !issued || Date.parse(issued) < Date.parse(asked);
}

/**
 * One reason a stored certificate no longer does. `renewal`: what time or the records bring
 * about (its window, a request, new names or mode, a stand-in awaiting its real certificate);
 * `drift`: files changed behind hop3's back.
 */
export interface CertReason {
  /** `activation`: stored, not yet loaded by the proxy; no new issuance is needed. */
  kind: 'renewal' | 'drift' | 'activation';
  text: string;
}

/** Why a stored certificate no longer does; empty when it does. Pure. */
export function certReasons(desired: CertDesired, live: CertLive, renewDays: number, now: Date): CertReason[] {
  const reasons: CertReason[] = [];
  const renewal = (text: string) => reasons.push({ kind: 'renewal', text });
  const drift = (text: string) => reasons.push({ kind: 'drift', text });
  const wanted = [...desired.names].sort();
  if (wanted.join(' ') !== live.names.join(' ')) renewal(`names: has [${live.names.join(', ')}], wants [${wanted.join(', ')}]`);
  const left = (live.notAfter.getTime() - now.getTime()) / DAY_MS;
  if (left < renewDays) renewal(`expiry: ${Math.max(0, Math.floor(left))} days left, renewed under ${renewDays}`);
  const consistent = live.record?.fingerprint === live.fingerprint && live.keyMatches && live.bundleMatches;
  if (!consistent && live.record?.storing !== undefined) renewal('interrupted: a certificate was being stored when hop3 stopped');
  else if (live.record?.fingerprint !== live.fingerprint) drift('replaced: cert.pem is not the certificate hop3 stored');
  else if (!live.keyMatches) drift('replaced: key.pem does not belong to cert.pem');
  else if (!live.bundleMatches) drift('replaced: bundle.pem is not key.pem, cert.pem and chain.pem');
  if (live.record && live.record.mode !== desired.mode) renewal(`mode: ${live.record.mode}, wants ${desired.mode}`);
  else if (live.record?.standIn) renewal(`stand-in: a self-signed certificate serves until the ${desired.mode} issuance succeeds`);
  if (renewalRequested(desired, live)) renewal(`renewal requested at ${desired.renewRequestedAt}`);
  if (live.record?.activated === false) reasons.push({ kind: 'activation', text: 'stored, not yet loaded by the proxy' });
  return reasons;
}

/** Why a stored certificate no longer does, as text; empty when it does. Pure. */
export function certDiffReasons(desired: CertDesired, live: CertLive, renewDays: number, now: Date): string[] {
  // Not loaded by the proxy yet says nothing against the certificate itself.
  return certReasons(desired, live, renewDays, now).filter((r) => r.kind !== 'activation').map((r) => r.text);
}

/**
 * The certificate differs only in ways a renewal is for: no file of it was changed by hand.
 * A certificate both due and tampered with is drift (repaired or reported as such). Pure.
 */
export function certRenewalOnly(desired: CertDesired, live: CertLive, renewDays: number, now: Date): boolean {
  const reasons = certReasons(desired, live, renewDays, now);
  return reasons.length > 0 && reasons.every((r) => r.kind !== 'drift');
}

/** All the certificate needs is for the proxy to load it (it was stored, then hop3 stopped). Pure. */
export function certNeedsActivationOnly(desired: CertDesired, live: CertLive, renewDays: number, now: Date): boolean {
  const reasons = certReasons(desired, live, renewDays, now);
  return reasons.length > 0 && reasons.every((r) => r.kind === 'activation');
}

/** A certificate is never edited in place: every difference is a new issuance over the old one. */
export function certDiff(desired: CertDesired, live: CertLive, renewDays: number, now: Date): CertChange {
  return certReasons(desired, live, renewDays, now).length === 0 ? 'none' : 'update';
}
