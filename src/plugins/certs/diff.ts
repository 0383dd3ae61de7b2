import type { CertChange, CertDesired, CertLive } from './types.js';

const DAY_MS = 86_400_000;

/** `hop3 certs renew` asked for a certificate newer than the one stored. */
export function renewalRequested(desired: Pick<CertDesired, 'renewRequestedAt'>, live: Pick<CertLive, 'record'>): boolean {
  const asked = desired.renewRequestedAt;
  if (!asked) return false;
  const issued = live.record?.issuedAt;
  return !issued || Date.parse(issued) < Date.parse(asked);
}

/** Why a stored certificate no longer does; empty when it does. Pure. */
export function certDiffReasons(desired: CertDesired, live: CertLive, renewDays: number, now: Date): string[] {
  const reasons: string[] = [];
  const wanted = [...desired.names].sort();
  if (wanted.join(' ') !== live.names.join(' ')) reasons.push(`names: has [${live.names.join(', ')}], wants [${wanted.join(', ')}]`);
  const left = (live.notAfter.getTime() - now.getTime()) / DAY_MS;
  if (left < renewDays) reasons.push(`expiry: ${Math.max(0, Math.floor(left))} days left, renewed under ${renewDays}`);
  if (live.record?.fingerprint !== live.fingerprint) reasons.push('replaced: cert.pem is not the certificate hop3 stored');
  else if (!live.keyMatches) reasons.push('replaced: key.pem does not belong to cert.pem');
  else if (!live.bundleMatches) reasons.push('replaced: bundle.pem is not key.pem, cert.pem and chain.pem');
  if (live.record && live.record.mode !== desired.mode) reasons.push(`mode: ${live.record.mode}, wants ${desired.mode}`);
  else if (live.record?.standIn) reasons.push(`stand-in: a self-signed certificate serves until the ${desired.mode} issuance succeeds`);
  if (renewalRequested(desired, live)) reasons.push(`renewal requested at ${desired.renewRequestedAt}`);
  return reasons;
}

/** A certificate is never edited in place: every difference is a new issuance over the old one. */
export function certDiff(desired: CertDesired, live: CertLive, renewDays: number, now: Date): CertChange {
  return certDiffReasons(desired, live, renewDays, now).length === 0 ? 'none' : 'update';
}
