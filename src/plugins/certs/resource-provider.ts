import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { asHop3Error } from '../../lib/errors.js';
import { UNKNOWN } from '../../lib/unknown.js';
import type { ApplyContext, Observed, Provider } from '../provider.js';
import { certPaths, checkCertName, isCertName, storeCert } from './cert-files.js';
import { certProvider } from './index.js';
import { issueSelfSigned } from './self-signed.js';
import type { CertContext, CertDesired, CertLive, CertRecord } from './types.js';

/**
 * Makes the running proxy read certificate `name`'s files again (the file names stay the same,
 * so the site does not change): nginx's checked reload, Caddy's config reload. It may skip that
 * when no loaded site points at the certificate yet (the switch that does will load it).
 */
export type CertActivate = (name: string) => Promise<void>;

const isLive = (v: CertDesired | CertLive): v is CertLive => 'fingerprint' in v;

/**
 * TLS certificates as resources of kind `cert`, one per app (named after it), stored under
 * HOP3_HOME/certs/<app>/. Applied in `sync`, so a certificate is there before the switch points
 * a site at it. A proxy plugin brings it with its own `activate`.
 *
 * An issuance that fails never stops an app from going live:
 * - with nothing stored yet, a self-signed stand-in is stored (the record says so, with the
 *   error), so the site can point at a certificate at once; the diff asks for the real one on
 *   every later pass;
 * - with a certificate stored, it keeps serving; the record gets the error.
 * Inside a rollout the failure is only recorded; outside one it is thrown (not terminal), so the
 * work queue retries the app with its backoff. A failure is an event (`cert.failed`) when it is not
 * the one recorded last, so a retry that fails the same way adds none.
 *
 * A renewal (its window, a request, new names or mode, a stand-in awaiting its real certificate)
 * is expected, applied whatever the heal policy and recorded as `cert.renewed`; a certificate or
 * key changed by hand is drift.
 */
export function certResources(ctx: CertContext, activate: CertActivate): Provider<CertDesired, CertLive> {
  const engine = certProvider(ctx);
  const now = ctx.now ?? (() => new Date());

  async function standIn(desired: CertDesired, err: unknown): Promise<void> {
    const paths = certPaths(ctx.layout.certs, desired.name);
    const e = asHop3Error(err);
    const issued = await issueSelfSigned(ctx.exec, paths.dir, desired.names);
    storeCert(paths, issued, {
      mode: desired.mode, names: [...desired.names].sort(), issuedAt: now().toISOString(), standIn: true, activated: false,
      lastError: { at: now().toISOString(), code: e.code, message: e.message },
    });
    ctx.log.warn({ cert: desired.name, code: e.code }, 'certificate not issued; a self-signed stand-in serves until it is');
  }

  /** Say what failed, unless the record already said the same (a retry). */
  function failed(desired: CertDesired, err: unknown, before: CertRecord['lastError'], standIn: boolean, actx: ApplyContext): void {
    const e = asHop3Error(err);
    if (before && before.code === e.code && before.message === e.message) return;
    actx.event?.({ kind: 'cert.failed', data: { names: [...desired.names].sort(), code: e.code, message: e.message, ...(e.hint ? { hint: e.hint } : {}), standIn } });
  }

  return {
    kind: 'cert',
    phase: 'sync',
    async observe(owner, desired) {
      const seen: Observed<CertLive> = new Map();
      for (const r of desired) seen.set(r.name, engine.observe(r.name));
      // The owner's own certificate, when it is no longer wanted (TLS turned off): pruned.
      if (!seen.has(owner) && isCertName(owner)) {
        const live = engine.observe(owner);
        if (live !== null) seen.set(owner, live);
      }
      return seen;
    },
    diff: (desired, live) => engine.diff(desired, live),
    expected: (desired, live) => engine.renewalOnly(desired, live),
    async apply(op, name, desired, live, actx) {
      checkCertName(name);
      if (op === 'delete' || desired === null) {
        await engine.apply('delete', { name, names: [], mode: 'self-signed' });
        return;
      }
      // Stored before a daemon was killed, never loaded: the proxy loads it, nothing is issued.
      if (live !== null && engine.activationOnly(desired, live)) {
        await activate(name);
        engine.markActivated(name);
        return;
      }
      const renewal = live !== null && engine.renewalOnly(desired, live) ? engine.reasons(desired, live).filter((r) => !r.startsWith('stored, not yet loaded')) : null;
      const before = engine.lastError(name);
      try {
        // Until the proxy is told, the record says so: a kill in between is found by looking.
        await engine.apply(op === 'create' ? 'create' : 'update', desired, { activated: false }, actx.signal);
      } catch (err) {
        const stored = engine.observe(name);
        if (stored === UNKNOWN) throw err;
        failed(desired, err, before, stored === null || stored.record?.standIn === true, actx);
        if (stored === null) {
          await standIn(desired, err);
        } else if (!actx.signal) {
          // The stored certificate serves on; the pass fails, and the work queue retries it.
          throw err;
        } else {
          // A rollout is not held up by the CA: the next pass outside it retries.
          actx.log.warn({ cert: name, err: asHop3Error(err).message }, 'certificate not renewed during a rollout; retried by the next pass');
          return;
        }
      }
      await activate(name);
      engine.markActivated(name);
      const renewed = renewal && engine.observe(name);
      if (renewal && renewed && renewed !== UNKNOWN) {
        actx.event?.({ kind: 'cert.renewed', data: { names: renewed.names, notAfter: renewed.notAfter.toISOString(), reasons: renewal } });
      }
    },
    // A destroy cut short leaves the directory (a private key in it): the pass over an app with
    // no record prunes it.
    owners: () => {
      try {
        return readdirSync(ctx.layout.certs).filter(isCertName);
      } catch {
        return [];
      }
    },
    conformance: {
      sample: (_layout, owner) => ({ kind: 'cert', name: owner, spec: { name: owner, names: [`${owner}.localhost`], mode: 'self-signed', renewRequestedAt: null } }),
      // A directory where cert.pem belongs cannot be read as a file, even by root.
      breakTarget: (r) => {
        const { cert } = certPaths(ctx.layout.certs, r.name);
        rmSync(cert, { force: true });
        mkdirSync(cert, { recursive: true });
      },
      repairTarget: (r) => rmSync(certPaths(ctx.layout.certs, r.name).dir, { recursive: true, force: true }),
    },
    // A drift report of a certificate that is not renewed says why (the CA's last answer).
    describe: (v) => isLive(v)
      ? `${v.record?.standIn ? 'self-signed stand-in' : v.issuer || 'unparsable'} for ${v.names.join(', ')}, until ${v.notAfter.toISOString().slice(0, 10)}`
        + (v.record?.lastError ? `; last issuance failed (${v.record.lastError.code}): ${v.record.lastError.message}` : '')
      : `${v.mode} certificate for ${v.names.join(', ')}`,
  };
}

