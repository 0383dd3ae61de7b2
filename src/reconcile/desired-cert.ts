import type { Config } from '../config.js';
import type { CertDesired, CertMode } from '../plugins/certs/index.js';
import type { AppRecord, ReleaseRecord } from '../store/types.js';
import { serverNames } from './desired.js';

/**
 * Names no public CA will issue for (RFC 6761, RFC 6762, RFC 8375, ICANN's .internal): an ACME
 * order for them can only fail, so `auto` gives them a self-signed certificate.
 */
const PRIVATE_SUFFIXES = ['localhost', 'local', 'test', 'example', 'invalid', 'internal', 'home.arpa', 'lan'];

/** A name a public ACME CA could validate: dotted, with an alphabetic top-level label that is not private. */
export function isPublicName(name: string): boolean {
  const labels = name.toLowerCase().split('.');
  if (labels.length < 2 || !/^[a-z]{2,63}$/.test(labels.at(-1)!)) return false;
  return !PRIVATE_SUFFIXES.some((s) => name === s || name.endsWith(`.${s}`));
}

/**
 * `[tls] mode` made concrete: `auto` is ACME when a directory and an email are configured and
 * every name is public (one certificate covers them all), otherwise self-signed.
 */
export function certMode(mode: ReleaseRecord['spec']['tls']['mode'], names: string[], acme: Config['acme']): CertMode | null {
  if (mode === 'off') return null;
  if (mode !== 'auto') return mode;
  return acme.directory !== null && acme.email !== null && names.every(isPublicName) ? 'acme' : 'self-signed';
}

/**
 * The certificate the records ask for: one per app, named after it, covering the names of the
 * release it runs; null when that release has [tls] mode "off" (or there is no release).
 * `renewRequestedAt`: when `hop3 certs renew` last asked for a new one. Pure.
 */
export function desiredCert(
  app: Pick<AppRecord, 'name'>, release: ReleaseRecord | null, renewRequestedAt: string | null, config: Config,
): CertDesired | null {
  if (!release) return null;
  const names = serverNames(app.name, release, config).sort();
  const mode = certMode(release.spec.tls.mode, names, config.acme);
  return mode === null ? null : { name: app.name, names, mode, renewRequestedAt };
}
