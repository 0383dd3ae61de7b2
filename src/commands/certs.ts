import { asHop3Error, userError } from '../lib/errors.js';
import { UNKNOWN } from '../lib/unknown.js';
import { certPaths, certProvider, readRecord, renewalRequested, type CertDesired } from '../plugins/certs/index.js';
import { desiredCertOf } from '../reconcile/desired-cert.js';
import { targetRelease } from '../reconcile/desired.js';
import type { AppRecord } from '../store/types.js';
import { admit } from './admit.js';
import type { Caller } from './authorize.js';
import { certView, type CertObservation, type CertView } from './cert-status.js';
import type { CommandContext } from './context.js';
import { requireApp } from './views.js';

/** The certificate the app's records ask for, or null ([tls] mode "off", or no release yet). */
function wanted(ctx: CommandContext, app: AppRecord): CertDesired | null {
  const release = targetRelease(app, (v) => ctx.store.getRelease(app.name, v));
  return desiredCertOf(app, release, ctx.store.certRenewalRequestedAt(app.name), ctx.config);
}

/** Reads what is stored for one certificate; a read that fails is `unknown`, never `missing`. */
function observed(ctx: CommandContext, desired: CertDesired): CertObservation {
  const provider = certProvider({ config: ctx.config, layout: ctx.layout, log: ctx.log, exec: ctx.exec });
  let live: CertObservation['live'];
  try {
    live = provider.observe(desired.name);
  } catch (err) {
    // A name the provider refuses (certs/challenges/ is reserved): nothing of it is read, and
    // no certificate can be issued for it, which is what the row says.
    const e = asHop3Error(err);
    const lastError = { at: new Date().toISOString(), code: e.code, message: e.message };
    return { live: null, record: { mode: desired.mode, names: desired.names, fingerprint: null, issuedAt: null, lastError }, reasons: [] };
  }
  const record = readRecord(certPaths(ctx.layout.certs, desired.name));
  const reasons = live === UNKNOWN || live === null ? [] : provider.reasons(desired, live);
  return { live, record, reasons };
}

function viewOf(ctx: CommandContext, desired: CertDesired): CertView {
  return certView(desired, observed(ctx, desired), new Date());
}

/** `hop3 certs [APP]`: every app with [tls] not off (or the one asked for), desired beside stored. */
export function listCerts(ctx: CommandContext, caller: Caller, q: { app?: string | undefined }): CertView[] {
  admit(caller, 'certs.read', q.app ?? null);
  const apps = q.app === undefined ? ctx.store.listApps() : [requireApp(ctx, q.app)];
  const views: CertView[] = [];
  for (const a of apps) {
    const desired = wanted(ctx, a);
    if (desired) views.push(viewOf(ctx, desired));
  }
  return views;
}

/**
 * `hop3 certs renew APP`: record that the app wants a certificate newer than now (a desired
 * change: a new generation), and let the loop issue it. A request still waiting for its
 * certificate is answered as it is, so repeating the command asks once.
 */
export async function renewCert(ctx: CommandContext, caller: Caller, p: { app: string }) {
  admit(caller, 'certs.renew', p.app);
  const app = requireApp(ctx, p.app);
  const desired = wanted(ctx, app);
  if (!desired) {
    const release = targetRelease(app, (v) => ctx.store.getRelease(app.name, v));
    throw userError('TLS_OFF', release
      ? `${app.name} has no certificate to renew: its [tls] mode is "off"`
      : `${app.name} has no certificate to renew: it has no release yet`, {
      hint: release ? 'set [tls] mode = "auto" (or "acme", "self-signed") in hop3.toml and deploy' : `deploy ${app.name} first`,
    });
  }
  const { record } = observed(ctx, desired);
  const pending = desired.renewRequestedAt ?? null;
  if (pending !== null && renewalRequested(desired, { record })) {
    return { app: app.name, requestedAt: pending, generation: app.generation, recorded: false };
  }
  const requestedAt = new Date().toISOString();
  await ctx.store.writeRetrying(() => {
    ctx.store.requestCertRenewal(app.name, requestedAt);
    ctx.store.addEvent(app.name, 'cert.renewal-requested', { requestedAt });
  });
  // The client follows the certificate itself (`certs.list`); an issuance can take a while.
  ctx.reconciler.trigger(app.name).catch((err: unknown) => ctx.log.warn({ app: app.name, err }, 'pass failed'));
  return { app: app.name, requestedAt, generation: requireApp(ctx, app.name).generation, recorded: true };
}
