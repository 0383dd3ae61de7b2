import { mkdirSync } from 'node:fs';
import { asHop3Error, operationalError } from '../../lib/errors.js';
import type { Unknown } from '../../lib/unknown.js';
import { certPaths, checkCertName, type ObserveMemo, checkDnsNames, readRecord, readStoredCert, removeCert, storeCert, writeRecord, type IssuedCert } from './cert-files.js';
import { certDiff, certDiffReasons, certNeedsActivationOnly, certRenewalOnly } from './diff.js';
import { issueSelfSigned } from './self-signed.js';
import type { CertChange, CertContext, CertDesired, CertLive, CertRecord } from './types.js';

export type { CertChange, CertContext, CertDesired, CertLive, CertMode, CertRecord } from './types.js';
export { certDiff, certDiffReasons, certRenewalOnly, renewalRequested } from './diff.js';
export { certPaths, readRecord } from './cert-files.js';
export { desiredCert, isPublicName } from './desired-cert.js';

export type CertOp = 'create' | 'update' | 'delete';

/**
 * TLS certificates as resources (Pulumi's dynamic provider shape): `observe` reads what is
 * stored under HOP3_HOME/certs/<name>/, `diff` says whether it still does, `apply` issues,
 * renews or deletes. A failed issuance leaves the stored certificate as it was, records the
 * error next to it and throws.
 */
export interface CertProvider {
  kind: 'certificate';
  observe(name: string): CertLive | null | Unknown;
  diff(desired: CertDesired, live: CertLive): CertChange;
  /** Why `diff` is not `none`, for drift reports and events. */
  reasons(desired: CertDesired, live: CertLive): string[];
  /** The difference is a renewal (window, request, names, mode, stand-in), not drift. */
  renewalOnly(desired: CertDesired, live: CertLive): boolean;
  /** All it needs is for the proxy to load it. */
  activationOnly(desired: CertDesired, live: CertLive): boolean;
  /** `stored`: what the record of a newly stored certificate also says (that it is not loaded yet). */
  apply(op: CertOp, desired: CertDesired, stored?: Pick<CertRecord, 'activated'>, signal?: AbortSignal): Promise<CertRecord | null>;
  /** Record that the proxy was told to load the stored certificate. */
  markActivated(name: string): void;
  /** The last failure recorded for a certificate, if its last issuance failed. */
  lastError(name: string): CertRecord['lastError'];
}

export function certProvider(ctx: CertContext): CertProvider {
  const now = ctx.now ?? (() => new Date());
  const renewDays = ctx.config.certRenewDays;
  const memo: ObserveMemo = new Map();

  async function issue(desired: CertDesired, dir: string, signal?: AbortSignal): Promise<IssuedCert> {
    if (desired.mode !== 'acme') return issueSelfSigned(ctx.exec, dir, desired.names);
    // Loaded on first use: acme-client and its crypto libraries cost a daemon that issues no
    // ACME certificate tens of MB.
    const { issueAcme } = await import('./acme.js');
    return issueAcme(ctx, desired.names, signal);
  }

  return {
    kind: 'certificate',
    observe(name) {
      checkCertName(name);
      return readStoredCert(ctx.layout.certs, name, memo);
    },
    diff: (desired, live) => certDiff(desired, live, renewDays, now()),
    reasons: (desired, live) => certDiffReasons(desired, live, renewDays, now()),
    renewalOnly: (desired, live) => certRenewalOnly(desired, live, renewDays, now()),
    activationOnly: (desired, live) => certNeedsActivationOnly(desired, live, renewDays, now()),
    markActivated(name) {
      const paths = certPaths(ctx.layout.certs, name);
      const record = readRecord(paths);
      if (record && record.activated === false) {
        const { activated: _, ...loaded } = record;
        writeRecord(paths, loaded);
      }
    },
    lastError: (name) => readRecord(certPaths(ctx.layout.certs, name))?.lastError ?? null,
    async apply(op, desired, stored = {}, signal) {
      checkCertName(desired.name);
      const paths = certPaths(ctx.layout.certs, desired.name);
      if (op === 'delete') {
        memo.delete(desired.name);
        removeCert(paths);
        return null;
      }
      checkDnsNames(desired.names);
      mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
      const before = readRecord(paths);
      const started = Date.now();
      try {
        const issued = await issue(desired, paths.dir, signal);
        const record = storeCert(paths, issued, { mode: desired.mode, names: [...desired.names].sort(), issuedAt: now().toISOString(), lastError: null, ...stored });
        ctx.log.info({ cert: desired.name, names: desired.names, mode: desired.mode, ms: Date.now() - started }, 'certificate stored');
        return record;
      } catch (err) {
        const e = asHop3Error(err);
        // The old certificate stays; only the record learns of the failure.
        writeRecord(paths, {
          mode: before?.mode ?? desired.mode,
          names: before?.names ?? [...desired.names].sort(),
          fingerprint: before?.fingerprint ?? null,
          issuedAt: before?.issuedAt ?? null,
          lastError: { at: now().toISOString(), code: e.code, message: e.message },
          ...(before?.standIn ? { standIn: true } : {}),
        });
        ctx.log.warn({ cert: desired.name, code: e.code, err: e.message }, 'certificate not issued; the stored one, if any, is kept');
        throw e.category === 'internal' ? operationalError('CERT_ISSUE_FAILED', e.message, { cause: err, hint: 'the stored certificate, if any, keeps serving' }) : e;
      }
    },
  };
}

