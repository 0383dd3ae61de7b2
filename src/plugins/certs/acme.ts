import { Agent } from 'node:https';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import acme from 'acme-client';
import { operationalError, userError, errorMessage } from '../../lib/errors.js';
import { readTextOrNull, writeFileAtomic, writeIfDifferent } from '../../lib/fs-atomic.js';
import type { IssuedCert } from './cert-files.js';
import type { CertContext } from './types.js';

/** An ACME token is base64url (RFC 8555 §8.1); anything else never becomes a file name. */
const TOKEN = /^[A-Za-z0-9_-]{1,256}$/;
/** Each request to the CA; a stalled CA fails the pass instead of holding it. */
const REQUEST_TIMEOUT_MS = 15_000;
/** One issuance, polls included: a CA whose validation never ends holds no pass longer. */
const ISSUE_TIMEOUT_MS = 120_000;

export interface AcmeAccount {
  key: string;
  email: string;
}

/** The account key and email, kept under secrets/ (0600); the key is made on first use. */
export const accountKeyPath = (ctx: CertContext) => join(ctx.layout.secrets, 'acme-account-key.pem');

export async function acmeAccount(ctx: CertContext): Promise<AcmeAccount> {
  const email = ctx.config.acme.email;
  if (!email) throw userError('ACME_NOT_CONFIGURED', 'HOP3_ACME_EMAIL is not set', { hint: 'set HOP3_ACME_EMAIL (and HOP3_ACME_DIRECTORY) to issue ACME certificates' });
  const keyPath = accountKeyPath(ctx);
  mkdirSync(ctx.layout.secrets, { recursive: true, mode: 0o700 });
  let key = readTextOrNull(keyPath);
  if (key === null) {
    key = (await acme.crypto.createPrivateEcdsaKey('P-256')).toString();
    writeFileAtomic(keyPath, key, 0o600);
  }
  writeIfDifferent(join(ctx.layout.secrets, 'acme-account.json'), `${JSON.stringify({ email })}\n`, 0o600);
  return { key, email };
}

function challengePath(ctx: CertContext, token: string): string {
  if (!TOKEN.test(token)) throw operationalError('ACME_BAD_TOKEN', `the ACME server sent a challenge token that is not base64url: ${JSON.stringify(token.slice(0, 80))}`);
  return join(ctx.layout.challenges, token);
}

/**
 * An agent that remembers the last socket error (a refused connection, a certificate it does
 * not trust): acme-client loses it, see `clientFor`.
 */
class RecordingAgent extends Agent {
  lastError: Error | null = null;

  override createConnection(...args: Parameters<Agent['createConnection']>): ReturnType<Agent['createConnection']> {
    const socket = super.createConnection(...args);
    socket?.once('error', (err: Error) => {
      this.lastError = err;
    });
    return socket;
  }
}

type AcmeHttp = { request(url: string, method: string, opts?: Record<string, unknown>): Promise<unknown> };

/**
 * The ACME client for one issuance. acme-client sends every request through one axios instance
 * it shares module-wide, so nothing is set there: this client's own requests get the CA to
 * trust (an agent of their own), a timeout, and no library retries (hop3's work queue retries a
 * failed pass with its own backoff; the library's would hold a pass for 75 s). With its retries
 * off, acme-client replaces a failure without an HTTP answer by a TypeError; the real cause is
 * taken back from the agent or the timeout.
 */
function clientFor(ctx: CertContext, directoryUrl: string, accountKey: string, overall: AbortSignal): acme.Client {
  const caFile = ctx.config.acme.caFile;
  let ca: string | undefined;
  if (caFile) {
    const text = readTextOrNull(caFile);
    if (text === null) throw userError('CONFIG_INVALID', `HOP3_ACME_CA_FILE=${caFile} does not exist`, { hint: 'name a PEM file with the CA that signed the ACME server\'s certificate' });
    ca = text;
  }
  const agent = new RecordingAgent({ keepAlive: false, ...(ca ? { ca } : {}) });
  const client = new acme.Client({ directoryUrl, accountKey, backoffAttempts: 20, backoffMin: 200, backoffMax: 2000 });
  const http = (client as unknown as { http: AcmeHttp }).http;
  const request = http.request.bind(http);
  http.request = async (url, method, opts = {}) => {
    agent.lastError = null;
    const timeout = AbortSignal.timeout(REQUEST_TIMEOUT_MS);
    const signal = AbortSignal.any([timeout, overall]);
    if (overall.aborted) throw operationalError('ACME_UNREACHABLE', `the issuance was stopped: ${overall.reason instanceof Error ? overall.reason.message : String(overall.reason)}`);
    try {
      return await request(url, method, { ...opts, httpsAgent: agent, signal, retryAttempt: Number.MAX_SAFE_INTEGER });
    } catch (err) {
      const what = `${method.toUpperCase()} ${url}`;
      if (timeout.aborted) throw operationalError('ACME_UNREACHABLE', `${what}: no answer within ${REQUEST_TIMEOUT_MS / 1000} s`, { cause: err });
      if (overall.aborted) throw operationalError('ACME_UNREACHABLE', `${what}: the issuance was stopped (over ${ISSUE_TIMEOUT_MS / 1000} s, or cancelled)`, { cause: err });
      // Set by the socket's error event while the request ran (not visible to narrowing).
      const cause = agent.lastError as Error | null;
      if (cause) throw operationalError('ACME_UNREACHABLE', `${what}: ${cause.message}`, { cause });
      throw err;
    }
  };
  return client;
}

/**
 * Issue a certificate for `names` through HTTP-01: each answer is a file in certs/challenges/,
 * which the proxy serves at /.well-known/acme-challenge/<token> on the HTTP port.
 */
export async function issueAcme(ctx: CertContext, names: string[], signal?: AbortSignal): Promise<IssuedCert> {
  const directoryUrl = ctx.config.acme.directory;
  const missing = ([['HOP3_ACME_DIRECTORY', directoryUrl], ['HOP3_ACME_EMAIL', ctx.config.acme.email]] as const).filter(([, v]) => !v).map(([k]) => k);
  if (!directoryUrl || missing.length > 0) {
    throw userError('ACME_NOT_CONFIGURED', `[tls] mode = "acme" needs HOP3_ACME_DIRECTORY and HOP3_ACME_EMAIL set for hop3-server: ${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set`, {
      hint: 'set both and restart hop3-server, or use [tls] mode = "auto" or "self-signed"; the certificate stored, if any, keeps serving',
    });
  }
  const account = await acmeAccount(ctx);
  const overall = AbortSignal.any([AbortSignal.timeout(ISSUE_TIMEOUT_MS), ...(signal ? [signal] : [])]);
  const client = clientFor(ctx, directoryUrl, account.key, overall);
  const key = await acme.crypto.createPrivateEcdsaKey('P-256');
  const [, csr] = await acme.crypto.createCsr({ commonName: names[0]!, altNames: names }, key);
  mkdirSync(ctx.layout.challenges, { recursive: true });
  const written: string[] = [];
  try {
    const pem = await client.auto({
      csr,
      email: account.email,
      termsOfServiceAgreed: true,
      challengePriority: ['http-01'],
      // acme-client's own check fetches http://NAME:80/ through the system resolver; the CA's
      // validation is the one that counts, and it reaches the proxy on its own terms.
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        const path = challengePath(ctx, challenge.token);
        writeFileAtomic(path, keyAuthorization, 0o644);
        written.push(path);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        rmSync(challengePath(ctx, challenge.token), { force: true });
      },
    });
    return { chain: acme.crypto.splitPemChain(pem), key: key.toString() };
  } catch (err) {
    throw operationalError('CERT_ISSUE_FAILED', `the ACME server did not issue a certificate for ${names.join(', ')}: ${errorMessage(err)}`, {
      hint: `check that ${directoryUrl} answers and that it reaches this machine's HTTP port for /.well-known/acme-challenge/; the current certificate, if any, keeps serving`,
      details: { names, directory: directoryUrl },
      cause: err,
    });
  } finally {
    for (const path of written) rmSync(path, { force: true });
  }
}
