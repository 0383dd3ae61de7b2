import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { defaultHome } from '../config.js';
import { Hop3Error, remoteError } from '../lib/errors.js';
import { METHOD_HEADER } from '../server/rpc-limits.js';

export interface ClientConfig {
  url: string;
  token: string | null;
}

/** HOP3_API_URL and HOP3_TOKEN, falling back to the admin token file when it is readable. */
export function clientConfig(env: Record<string, string | undefined>, uid = process.getuid?.() ?? 1000): ClientConfig {
  let token = env.HOP3_TOKEN || null;
  if (!token) {
    try {
      token = readFileSync(join(env.HOP3_HOME || defaultHome(env, uid), 'secrets', 'admin-token'), 'utf8').trim();
    } catch {
      token = null;
    }
  }
  return { url: (env.HOP3_API_URL || 'http://127.0.0.1:8000').replace(/\/$/, ''), token };
}

function requireToken(cfg: ClientConfig): void {
  if (!cfg.token) {
    throw new Hop3Error('NO_TOKEN', 'no API token', { hint: 'set HOP3_TOKEN, or run as a user who can read $HOP3_HOME/secrets/admin-token' });
  }
}

const causeOf = (err: unknown) => ((err as Error).cause as Error)?.message ?? (err as Error).message;

const unreachable = (cfg: ClientConfig, err: unknown) => new Hop3Error('API_UNREACHABLE', `cannot reach hop3-server at ${cfg.url}: ${causeOf(err)}`, {
  hint: 'is `hop3-server serve` running? set HOP3_API_URL if it listens elsewhere',
});

/** One call, one HTTP request (the answer is read by the caller, whole or as a stream). */
function post(cfg: ClientConfig, method: string, params: object, signal: AbortSignal | undefined): Promise<Response> {
  requireToken(cfg);
  return fetch(`${cfg.url}/rpc`, {
    method: 'POST',
    // The method up front: the daemon picks the body limit before it reads the body.
    headers: { 'content-type': 'application/json', authorization: `Bearer ${cfg.token}`, [METHOD_HEADER]: method },
    // One call per HTTP request: the exchange pairs the answer with its call, so any id will do.
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    signal,
  });
}

/** `signal` drops the request (a client that gives up waiting must not be held by it). */
export async function call<T = unknown>(cfg: ClientConfig, method: string, params: object = {}, opts: { signal?: AbortSignal } = {}): Promise<T> {
  const timeout = AbortSignal.timeout(600_000);
  const res = await post(cfg, method, params, opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout).catch((err: unknown) => {
    throw unreachable(cfg, err);
  });
  const body = (await res.json().catch(() => null)) as RpcAnswer<T> | null;
  if (!body) throw new Hop3Error('API_BAD_ANSWER', `hop3-server answered HTTP ${res.status} without JSON-RPC`);
  return answerOf(body);
}

type RpcAnswer<T> = { result?: T; error?: { code: number; message: string; data?: { code?: string; category?: string; hint?: string; details?: unknown } } };

function answerOf<T>(body: RpcAnswer<T>): T {
  if (body.error) {
    const d = body.error.data ?? {};
    const category = d.category === 'operational' || d.category === 'internal' ? d.category : 'user';
    throw remoteError(d.code ?? `RPC_${body.error.code}`, category, body.error.message, { hint: d.hint, details: d.details });
  }
  return body.result as T;
}

/** Longest line of a streamed answer the client takes (the daemon's pieces are far smaller). */
const MAX_STREAM_LINE = 4 * 1024 * 1024;

/**
 * Call a method that answers as a stream (`apps.logs`, `apps.run`): `onPiece` gets each piece as
 * it arrives (and holds the next ones while its promise is pending: a slow terminal slows the
 * daemon, nothing piles up here); the call's result is returned, or its error thrown. `signal`
 * hangs up, which ends the method on the daemon (a one-off command is stopped).
 */
export async function callStream<T = unknown>(
  cfg: ClientConfig, method: string, params: object, onPiece: (piece: unknown) => void | Promise<void>, opts: { signal?: AbortSignal } = {},
): Promise<T> {
  const res = await post(cfg, method, params, opts.signal).catch((err: unknown) => {
    throw opts.signal?.aborted ? err : unreachable(cfg, err);
  });
  if (!res.body || !(res.headers.get('content-type') ?? '').startsWith('application/x-ndjson')) {
    const body = (await res.json().catch(() => null)) as RpcAnswer<T> | null;
    if (!body) throw new Hop3Error('API_BAD_ANSWER', `hop3-server answered HTTP ${res.status} without JSON-RPC`);
    return answerOf(body);
  }
  const decoder = new TextDecoder();
  let pending = '';
  try {
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true });
      if (pending.length > MAX_STREAM_LINE) throw new Hop3Error('API_BAD_ANSWER', `hop3-server sent a line over ${MAX_STREAM_LINE} characters`);
      let nl: number;
      while ((nl = pending.indexOf('\n')) !== -1) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        const message = JSON.parse(line) as RpcAnswer<T> & { method?: string; params?: unknown };
        if (message.method !== undefined) await onPiece(message.params);
        else return answerOf(message);
      }
    }
  } catch (err) {
    if (err instanceof Hop3Error || opts.signal?.aborted) throw err;
    throw new Hop3Error('API_UNREACHABLE', `lost hop3-server at ${cfg.url} before it finished answering: ${causeOf(err)}`, {
      hint: 'was hop3-server stopped or killed? see its log',
    });
  }
  throw new Hop3Error('API_UNREACHABLE', `hop3-server at ${cfg.url} hung up before it finished answering`, { hint: 'was hop3-server stopped or killed? see its log' });
}

/** How long a client that records a change keeps sending it to a daemon that is restarting. */
const RESTART_GRACE_MS = 15_000;

/** Run `fn` again while the daemon cannot be reached, for as long as a restart takes. */
export async function acrossRestart<T>(fn: () => Promise<T>): Promise<T> {
  const since = Date.now();
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof Hop3Error) || err.code !== 'API_UNREACHABLE' || Date.now() - since > RESTART_GRACE_MS) throw err;
      await sleep(250);
    }
  }
}

/**
 * Call a method that records a release (deploy, config change, rollback) so that a daemon killed
 * before it answered cannot leave the outcome unknown: the call carries an id of this client's,
 * and is sent again while the daemon cannot be reached; the daemon answers a repeat with the
 * release the first one recorded, if it did, and records nothing new.
 */
export function callRecording<T = unknown>(cfg: ClientConfig, method: string, params: object): Promise<T> {
  const withId = { ...params, requestId: randomUUID() };
  return acrossRestart(() => call<T>(cfg, method, withId));
}
