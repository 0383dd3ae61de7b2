import { existsSync } from 'node:fs';
import { asHop3Error } from '../lib/errors.js';
import { ExecError } from '../lib/exec.js';
import { deployBranchesOf, pushLockPath, repoPath } from '../git/repo.js';
import type { AppRecord, ReleaseRecord } from '../store/types.js';
import { DAEMON } from '../commands/authorize.js';
import { rollback } from '../commands/releases.js';
import type { Hop3 } from './hop3.js';

/** Long enough for an SSH push in flight at start (its hook rides out a restart for 15 s). */
const PUSH_LOCK_WAIT_S = 60;
/** flock's exit status when the lock could not be had in time (`-E`). */
const LOCK_TIMED_OUT = 75;

/**
 * What a branch points at, read while holding the app's push lock so that no push is half-way
 * through moving it: the commit, null when there is no such branch, UNKNOWN when the lock could
 * not be had (a push still in flight) or git could not be asked.
 */
async function tipOf(h: Hop3, app: string, ref: string): Promise<string | null | 'unknown'> {
  try {
    const r = await h.exec.run(['flock', '-E', String(LOCK_TIMED_OUT), '-w', String(PUSH_LOCK_WAIT_S), pushLockPath(h.layout, app),
      'git', '-C', repoPath(h.layout, app), 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { timeoutMs: (PUSH_LOCK_WAIT_S + 10) * 1000 });
    return r.stdout.trim();
  } catch (err) {
    // rev-parse --verify --quiet exits 1, saying nothing, for a ref that does not exist.
    return err instanceof ExecError && err.exitCode === 1 && err.output.trim() === '' ? null : 'unknown';
  }
}

async function rollBackIfUnlanded(h: Hop3, app: AppRecord, live: ReleaseRecord): Promise<void> {
  if (!existsSync(repoPath(h.layout, app.name))) return;
  // The branch the push deployed; releases recorded before hop3 kept it fall back to today's.
  const refs = live.ref ? [live.ref] : deployBranchesOf(app).map((b) => `refs/heads/${b}`);
  const tips = await Promise.all(refs.map((ref) => tipOf(h, app.name, ref)));
  // Unknown is not missing: without a clear answer nothing is rolled back.
  if (tips.includes(live.commit!) || tips.includes('unknown')) return;
  h.store.addEvent(app.name, 'push.unlanded', { release: live.version, commit: live.commit!, branches: tips.filter((t): t is string => t !== null) });
  h.log.warn({ app: app.name, release: live.version, commit: live.commit }, 'a push went live but git never recorded it: rolling back');
  await rollback(h, DAEMON, { app: app.name, onlyFrom: live.version }).catch((err: unknown) => {
    h.log.warn({ app: app.name, err: asHop3Error(err).message }, 'could not roll back a push git never recorded');
  });
}

/**
 * A daemon killed between a push's switch and git's answer leaves the app serving a commit that
 * git refused to record: the pusher was told the push failed, and the branch did not move. At
 * start, once no push to the app is in flight, such a release is rolled back to the one live
 * before it, so what serves is what the repository and the pusher were told.
 */
export function rollBackUnlandedPushes(h: Hop3): Promise<void> {
  const checks = h.store.listApps().flatMap((app) => {
    // The release record, not the app's currentRelease: a daemon killed right after marking a
    // release live had not recorded the app's status yet.
    const live = h.store.listReleases(app.name).find((r) => r.status === 'live');
    return live?.source === 'push' && live.commit ? [rollBackIfUnlanded(h, app, live)] : [];
  });
  return Promise.all(checks).then(() => undefined);
}
