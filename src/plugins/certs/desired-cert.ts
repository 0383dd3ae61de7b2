import type { Config } from '../../config.js';
import type { TlsSpec } from '../../manifest/types.js';
import type { CertDesired, CertMode } from './types.js';

/**
 * Names no public CA will issue for (RFC 6761, RFC 6762, RFC 8375, ICANN's .internal): an ACME
 * order for them can only fail, so `auto` gives them a self-signed certificate.
 */
const PRIVATE_SUFFIXES = ['localhost', 'local', 'test', 'example', 'invalid', 'internal', 'home.arpa', 'lan'];

/** A name a public ACME CA could validate: dotted, with an alphabetic top-level label that is not private (so no address). */
export function isPublicName(name: string): boolean {
  const labels = name.toLowerCase().split('.');
  if (labels.length < 2 || !/^[a-z]{2,63}$/.test(labels.at(-1)!)) return false;
  return !PRIVATE_SUFFIXES.some((s) => name === s || name.endsWith(`.${s}`));
}

/**
 * `[tls] mode` made concrete: `auto` is ACME only when the CA is configured and every name is
 * public (a CA cannot validate `app.localhost`, and one name it cannot prove fails the whole
 * order), otherwise self-signed; null when TLS is off.
 */
export function certMode(mode: TlsSpec['mode'], names: string[], acme: Config['acme']): CertMode | null {
  if (mode === 'off') return null;
  if (mode !== 'auto') return mode;
  return acme.directory !== null && acme.email !== null && names.every(isPublicName) ? 'acme' : 'self-signed';
}

/**
 * The certificate an app's `[tls]` asks for: one per app, named after it, covering its server
 * names; null when TLS is off. `renewRequestedAt`: when `hop3 certs renew` last asked for a new
 * one. Pure.
 */
export function desiredCert(app: string, names: string[], tls: TlsSpec, config: Pick<Config, 'acme'>, renewRequestedAt: string | null = null): CertDesired | null {
  // HTTP-01 cannot prove a wildcard, and one name a CA refuses fails the whole order: the
  // certificate covers the exact names (the app's own name is always one).
  const exact = names.filter((n) => !n.startsWith('*'));
  const mode = certMode(tls.mode, exact, config.acme);
  return mode === null ? null : { name: app, names: [...exact].sort(), mode, renewRequestedAt };
}
