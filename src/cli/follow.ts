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

/**
 * Print a release's progress (build output, steps) as it happens until it is live; throws
 * DEPLOY_FAILED with the reason when it fails.
 */
export async function followRelease(
  cfg: ClientConfig, app: string, version: number, after: number, write: (line: string) => void, timeoutMs = 900_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let cursor = after;
  let unreachableSince: number | null = null;
  while (Date.now() < deadline) {
    let events: EventRecord[];
    try {
      events = await call<EventRecord[]>(cfg, 'apps.events', { app, after: cursor, limit: 1000 });
      unreachableSince = null;
    } catch (err) {
      // A daemon restart takes a second or two; ride it out, then report it.
      unreachableSince ??= Date.now();
      if (asHop3Error(err).code !== 'API_UNREACHABLE' || Date.now() - unreachableSince > UNREACHABLE_GRACE_MS) throw err;
      await sleep(250);
      continue;
    }
    for (const e of events) {
      cursor = e.id;
      if (!('release' in e.data) || e.data.release !== version) continue;
      write(e.kind === 'output' ? `       ${e.data.line}` : `-----> ${formatEvent(e).split('  ').slice(2).join('  ')}`);
      if (e.kind === 'release.failed') {
        throw userError('DEPLOY_FAILED', `release v${version} of ${app} failed: ${e.data.message}`, { hint: e.data.hint ?? 'the previous release keeps serving' });
      }
      if (e.kind === 'release.live') return;
    }
    await sleep(50);
  }
  throw userError('DEPLOY_TIMEOUT', `release v${version} of ${app} did not finish within ${timeoutMs / 1000} s`, { hint: `see \`hop3 events ${app}\`` });
}
