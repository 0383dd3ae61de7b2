/**
 * How a client waits for what it asked for, so that its exit code matches what went live: a
 * command that gives up (--timeout, Ctrl-C) cancels the release it started, and one that is
 * told not to wait (--detach) says so and how to follow the rollout.
 */
import { Option } from 'commander';
import { asHop3Error, userError } from '../lib/errors.js';
import { call, type ClientConfig } from './client.js';
import { followRelease, settledByRecord } from './follow.js';
import { wholeNumber } from './options.js';

export interface WaitOptions {
  timeout: number;
  detach?: boolean;
}

const MAX_TIMEOUT_S = 86_400;

export const timeoutOption = () =>
  new Option('--timeout <seconds>', 'give up waiting after this long, cancelling the release this command started').argParser(wholeNumber(1, MAX_TIMEOUT_S, 'seconds')).default(900);
export const detachOption = () => new Option('--detach', 'return once the change is recorded; it rolls out without this command');

export const followHint = (app: string) => `follow it with \`hop3 events ${app}\` or \`hop3 status ${app}\``;

/** Aborted on SIGINT or SIGTERM (once: a second one ends the client at once). */
export function interruption(): AbortSignal {
  const ac = new AbortController();
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.once(s, () => ac.abort(`interrupted (${s})`));
  return ac.signal;
}

/**
 * Follow a release this command recorded until it serves. Giving up cancels it; if it settled
 * first, its record decides (live: success, failed: its reason).
 */
export async function awaitOwnRelease(
  cfg: ClientConfig, app: string, version: number, after: number, o: WaitOptions, signal: AbortSignal, write: (line: string) => void,
  deadline = Date.now() + o.timeout * 1000,
): Promise<void> {
  try {
    await followRelease(cfg, app, version, after, write, Math.max(0, deadline - Date.now()), signal);
  } catch (err) {
    const code = asHop3Error(err).code;
    if (code !== 'DEPLOY_TIMEOUT' && code !== 'DEPLOY_ABORTED') throw err;
    const why = code === 'DEPLOY_TIMEOUT' ? `the client gave up after ${o.timeout} s (--timeout)` : `the client was ${String(signal.reason)}`;
    await cancelOrSettled(cfg, app, version, why, write);
  }
}

/** Cancel a release the client gave up on; resolves only if it went live before the cancel. */
export async function cancelOrSettled(cfg: ClientConfig, app: string, version: number, why: string, write: (line: string) => void): Promise<void> {
  const c = await call<{ cancelled: boolean; status: string }>(cfg, 'releases.cancel', { app, version: `v${version}`, reason: why });
  if (c.cancelled) {
    throw userError('DEPLOY_CANCELLED', `release v${version} of ${app} was cancelled: ${why}`, {
      hint: 'the previous release keeps serving; with --detach a release rolls out without the client',
    });
  }
  if (!(await settledByRecord(cfg, app, version))) throw userError('DEPLOY_UNSETTLED', `release v${version} of ${app} could not be cancelled (it is ${c.status})`, { hint: followHint(app) });
  write(`-----> v${version} went live before it could be cancelled`);
}
