/**
 * How `hop3 certs renew` waits: the request is recorded by the daemon, the certificate is
 * issued by a reconcile pass, and the client watches the stored certificate (`certs.list`) until
 * one issued at or after the request is there. Giving up does not take the request back.
 */
import { Option } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CertView } from '../commands/cert-status.js';
import { ERRORS, isErrorCode } from '../lib/error-codes.js';
import { userError } from '../lib/errors.js';
import { acrossRestart, call, type ClientConfig } from './client.js';
import { wholeNumber } from './options.js';

const POLL_MS = 500;

/** An issuance takes seconds (self-signed) to about a minute (ACME with a slow CA). */
export const RENEW_TIMEOUT_S = 120;

export const renewTimeoutOption = () =>
  new Option('--timeout <seconds>', 'give up waiting after this long (the request stays recorded)').argParser(wholeNumber(1, 86_400, 'seconds')).default(RENEW_TIMEOUT_S);
export const renewDetachOption = () => new Option('--detach', 'return once the request is recorded; the certificate is issued without this command');

export type RenewalProgress =
  | { kind: 'done' }
  /** An issuance after the request failed in a way a retry cannot fix (hop3 needs to be told otherwise). */
  | { kind: 'failed'; error: NonNullable<CertView['lastError']> }
  | { kind: 'waiting'; note: string };

const since = (at: string | null | undefined, requestedAt: string) => at !== null && at !== undefined && Date.parse(at) >= Date.parse(requestedAt);

/**
 * Pure: where a renewal requested at `requestedAt` stands, from the certificate's row. Done once
 * a certificate issued at or after the request is stored; a failure recorded since the request
 * ends the wait when its code is a user error (no ACME settings, a name no CA issues for),
 * otherwise the daemon retries it and the wait goes on.
 */
export function renewalProgress(view: CertView | undefined, requestedAt: string): RenewalProgress {
  if (!view) return { kind: 'waiting', note: 'no certificate is asked for any more' };
  if (view.notAfter !== null && since(view.issuedAt, requestedAt)) return { kind: 'done' };
  const err = view.lastError;
  if (err && since(err.at, requestedAt)) {
    if (isErrorCode(err.code) && ERRORS[err.code].category === 'user') return { kind: 'failed', error: err };
    return { kind: 'waiting', note: `issuance failed (${err.code}): ${err.message}; hop3-server tries again` };
  }
  return { kind: 'waiting', note: `waiting for a new certificate (now ${view.status})` };
}

/**
 * Follow a renewal until its certificate is stored; prints each new state to `write`. Throws
 * CERT_NOT_RENEWED when it fails for good, at `timeoutS`, or when `signal` aborts.
 */
export async function awaitRenewal(
  cfg: ClientConfig, app: string, requestedAt: string, timeoutS: number, signal: AbortSignal, write: (line: string) => void,
): Promise<CertView> {
  const deadline = Date.now() + timeoutS * 1000;
  const stays = `the request stays recorded and hop3-server goes on with it; see \`hop3 certs ${app}\``;
  let said = '';
  let last: RenewalProgress | null = null;
  for (;;) {
    const views = await acrossRestart(() => call<CertView[]>(cfg, 'certs.list', { app }));
    const view = views[0];
    const p = renewalProgress(view, requestedAt);
    if (p.kind === 'done') return view!;
    if (p.kind === 'failed') {
      throw userError('CERT_NOT_RENEWED', `no new certificate for ${app}: ${p.error.code}: ${p.error.message}`, { hint: 'fix what the error names; the certificate already stored, if any, keeps serving' });
    }
    if (p.note !== said) write(`-----> ${app}: ${p.note}`);
    said = p.note;
    last = p;
    const why = signal.aborted ? `the client was ${String(signal.reason)}` : Date.now() >= deadline ? `the client gave up after ${timeoutS} s (--timeout)` : null;
    if (why !== null) {
      throw userError('CERT_NOT_RENEWED', `no new certificate for ${app} yet: ${why}${last ? ` (${last.note})` : ''}`, { hint: stays });
    }
    try {
      await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())), undefined, { signal });
    } catch (err) {
      if (!signal.aborted) throw err;
    }
  }
}
