import type { Exec } from '../../lib/exec.js';
import type { Config } from '../../config.js';
import type { Layout } from '../../lib/layout.js';
import type { Logger } from '../../lib/logger.js';

export const CERT_MODES = ['acme', 'self-signed'] as const;
export type CertMode = (typeof CERT_MODES)[number];

/** What the records ask for: one certificate, stored under certs/<name>/, covering `names`. */
export interface CertDesired {
  name: string;
  names: string[];
  mode: CertMode;
  /**
   * When `hop3 certs renew` last asked for a new certificate (ISO time): one stored before it
   * (issuedAt earlier, or unknown) is renewed. Null or absent: no request.
   */
  renewRequestedAt?: string | null;
}

/** What hop3 wrote down when it last stored a certificate (or last failed to). */
export interface CertRecord {
  mode: CertMode;
  names: string[];
  /** SHA-256 of cert.pem as hop3 wrote it: a file replaced by hand no longer matches. */
  fingerprint: string | null;
  issuedAt: string | null;
  lastError: { at: string; code: string; message: string } | null;
  /**
   * The stored certificate is a self-signed stand-in, made because the first issuance in `mode`
   * failed: the app's names get HTTPS at once, and the next pass tries the real issuance again.
   */
  standIn?: boolean;
  /**
   * false: stored, but the proxy was not told to load it yet (a daemon killed in between); the
   * next pass only has the proxy load it. Absent: loaded.
   */
  activated?: boolean;
  /** The fingerprint of a certificate being stored over this one (set until it is). */
  storing?: string;
}

/** A stored certificate, as read from disk. */
export interface CertLive {
  name: string;
  names: string[];
  issuer: string;
  notBefore: Date;
  notAfter: Date;
  fingerprint: string;
  /** cert.pem and key.pem belong together (a key swapped by hand does not). */
  keyMatches: boolean;
  /** bundle.pem, what the proxy reads, is key.pem + cert.pem + chain.pem as stored. */
  bundleMatches: boolean;
  record: CertRecord | null;
}

export type CertChange = 'none' | 'update';

export interface CertContext {
  config: Pick<Config, 'acme' | 'certRenewDays'>;
  layout: Pick<Layout, 'certs' | 'challenges' | 'secrets'>;
  log: Logger;
  exec: Exec;
  /** The clock the renewal window is measured with (tests move it). */
  now?: () => Date;
}
