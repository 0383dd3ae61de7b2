import type { Config } from '../../config.js';
import type { TlsSpec } from '../../manifest/types.js';
import type { CertDesired } from './types.js';

/** Names no public CA can validate: reserved for local use (RFC 6761, 6762, ICANN's .internal). */
const PRIVATE_SUFFIXES = ['localhost', 'test', 'local', 'internal', 'invalid', 'example'];
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Whether a public ACME CA could prove `name`: a dotted name outside the reserved suffixes, not an address. */
export function isPublicName(name: string): boolean {
  if (IPV4.test(name) || name.includes(':') || !name.includes('.')) return false;
  const tld = name.slice(name.lastIndexOf('.') + 1);
  return !PRIVATE_SUFFIXES.includes(tld);
}

/**
 * The certificate an app's `[tls]` asks for, covering its server names; null when TLS is off.
 * `auto` is ACME only when the CA is configured and every name is public: a CA cannot validate
 * `app.localhost`, and one name it cannot prove fails the whole order. Pure.
 */
export function desiredCert(app: string, names: string[], tls: TlsSpec, config: Pick<Config, 'acme'>): CertDesired | null {
  if (tls.mode === 'off') return null;
  const acmeReady = config.acme.directory !== null && config.acme.email !== null;
  const mode = tls.mode === 'auto' ? (acmeReady && names.every(isPublicName) ? 'acme' : 'self-signed') : tls.mode;
  return { name: app, names: [...names].sort(), mode };
}
