import { asHop3Error, userError } from '../lib/errors.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventRecord } from '../store/types.js';
import { call, type ClientConfig } from './client.js';
import { formatEvent } from './format.js';

const UNREACHABLE_GRACE_MS = 15_000;

/** The id of the newest event of an app (0 when it has none), to follow what comes after. */
export async function lastEventId(cfg: ClientConfig, app: string): Promise<number> {
  const events = await call<EventRecord[]>(cfg, 'apps.events', { app, limit: 1 });
  return events.at(-1)?.id ?? 0;
}

type ReleaseRow = { version: string; status: string; message: string };

/** A release as its record says it is (releases.list), the source of every verdict. */
export async function releaseRecord(cfg: ClientConfig, app: string, version: number): Promise<ReleaseRow | null> {
  const rows = await call<ReleaseRow[]>(cfg, 'releases.list', { app });
  return rows.find((r) => r.version === `v${version}`) ?? null;
}

const failed = (app: string, version: number, message: string, hint?: string) =>
  userError('DEPLOY_FAILED', `release v${version} of ${app} failed: ${message}`, { hint: hint ?? 'the previous release keeps serving' });

/** Resolves if the record says the release served, throws if it failed, returns false if it is still on its way. */
export async function settledByRecord(cfg: ClientConfig, app: string, version: number): Promise<boolean> {
  const r = await releaseRecord(cfg, app, version);
  if (!r) throw userError('RELEASE_NOT_FOUND', `${app} has no release v${version}`, { hint: `see \`hop3 releases ${app}\`` });
  if (r.status === 'failed') throw failed(app, version, r.message || 'no reason recorded');
  return r.status === 'live' || r.status === 'retired';
}

/**
 * Print a release's progress (build output, steps) as it happens until it is live; throws
 * DEPLOY_FAILED with the reason when it fails. The verdict is the release's record: events
 * say when to look, and after the daemon comes back from a restart the record is read again
 * (a restart may have cancelled the release). `signal` ends the wait early (DEPLOY_ABORTED).
 */
export async function followRelease(
  cfg: ClientConfig, app: string, version: number, after: number, write: (line: string) => void, timeoutMs = 900_000, signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let cursor = after;
  let unreachableSince: number | null = null;
  while (Date.now() < deadline) {
    if (signal?.aborted) throw userError('DEPLOY_ABORTED', `stopped waiting for release v${version} of ${app}: ${String(signal.reason)}`, { hint: `see \`hop3 releases ${app}\`` });
    let events: EventRecord[];
    try {
      events = await call<EventRecord[]>(cfg, 'apps.events', { app, after: cursor, limit: 1000 });
      if (unreachableSince !== null) {
        unreachableSince = null;
        write('-----> hop3-server is back; reading the release record');
        if (await settledByRecord(cfg, app, version)) return;
      }
    } catch (err) {
      // A daemon restart takes a second or two; ride it out, then report it.
      unreachableSince ??= Date.now();
      if (asHop3Error(err).code !== 'API_UNREACHABLE' || Date.now() - unreachableSince > UNREACHABLE_GRACE_MS) throw err;
      await sleep(250);
      continue;
    }
    for (const e of events) {
      cursor = e.id;
      // A certificate not issued during the rollout is the pusher's news too (the release still goes live).
      const ours = e.kind === 'cert.failed' || ('release' in e.data && e.data.release === version);
      if (!ours) continue;
      write(e.kind === 'output' ? `       ${e.data.line}` : `-----> ${formatEvent(e).split('  ').slice(2).join('  ')}`);
      if (e.kind === 'release.failed') throw failed(app, version, e.data.message, e.data.hint);
      if (e.kind === 'release.live') return;
    }
    await sleep(50);
  }
  if (await settledByRecord(cfg, app, version)) return;
  throw userError('DEPLOY_TIMEOUT', `release v${version} of ${app} did not finish within ${timeoutMs / 1000} s`, { hint: `see \`hop3 events ${app}\`` });
}
