import { existsSync } from 'node:fs';
import { asHop3Error } from '../lib/errors.js';
import { ExecError } from '../lib/exec.js';
import { deployBranchesOf, pushLockPath, repoPath } from '../git/repo.js';
import type { AppRecord, ReleaseRecord } from '../store/types.js';
import { DAEMON } from '../commands/authorize.js';
import { rollback } from '../commands/releases.js';
import type { Hop3 } from './hop3.js';

/** Long enough for an SSH push in flight at start (its hook rides out a restart for 15 s). */
export const PUSH_LOCK_WAIT_S = 60;
/** flock's exit status when the lock could not be had in time (`-E`). */
const LOCK_TIMED_OUT = 75;

/**
 * What a branch points at, read while holding the app's push lock so that no push is half-way
 * through moving it: the commit, null when there is no such branch, UNKNOWN when the lock could
 * not be had within `waitS` (a push still in flight) or git could not be asked.
 */
async function tipOf(h: Hop3, app: string, ref: string, waitS: number): Promise<string | null | 'unknown'> {
  try {
    const r = await h.exec.run(['flock', '-E', String(LOCK_TIMED_OUT), ...(waitS === 0 ? ['-n'] : ['-w', String(waitS)]), pushLockPath(h.layout, app),
      'git', '-C', repoPath(h.layout, app), 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`], { timeoutMs: (waitS + 10) * 1000 });
    return r.stdout.trim();
  } catch (err) {
    // rev-parse --verify --quiet exits 1, saying nothing, for a ref that does not exist.
    return err instanceof ExecError && err.exitCode === 1 && err.output.trim() === '' ? null : 'unknown';
  }
}

/** Whether the app's live push release was rolled back (or needed not be): false when it could not tell yet. */
async function rollBackIfUnlanded(h: Hop3, app: AppRecord, live: ReleaseRecord, waitS: number): Promise<boolean> {
  if (!existsSync(repoPath(h.layout, app.name))) return true;
  // The branch the push deployed; releases recorded before hop3 kept it fall back to today's.
  const refs = live.ref ? [live.ref] : deployBranchesOf(app).map((b) => `refs/heads/${b}`);
  const tips = await Promise.all(refs.map((ref) => tipOf(h, app.name, ref, waitS)));
  // Unknown is not missing: without a clear answer nothing is rolled back.
  if (tips.includes('unknown')) return false;
  if (tips.includes(live.commit!)) return true;
  h.store.addEvent(app.name, 'push.unlanded', { release: live.version, commit: live.commit!, branches: tips.filter((t): t is string => t !== null) });
  h.log.warn({ app: app.name, release: live.version, commit: live.commit }, 'a push went live but git never recorded it: rolling back');
  // Resolves once the rollback release is recorded; the reconciler then rolls it out.
  await rollback(h, DAEMON, { app: app.name, onlyFrom: live.version }).catch((err: unknown) => {
    h.log.warn({ app: app.name, err: asHop3Error(err).message }, 'could not roll back a push git never recorded');
  });
  return true;
}

/**
 * A daemon killed between a push's switch and git's answer leaves the app serving a commit that
 * git refused to record: the pusher was told the push failed, and the branch did not move. At
 * start, once no push to the app is in flight, such a release is rolled back to the one live
 * before it, so what serves is what the repository and the pusher were told.
 *
 * `waitS` 0 checks only the apps no push holds (before the API answers, so no reader sees the
 * unlanded release as settled); it returns the apps it could not check, for a waiting call once
 * an in-flight push can reach the API again.
 */
export async function rollBackUnlandedPushes(h: Hop3, waitS: number, only?: Set<string>): Promise<Set<string>> {
  const unchecked = new Set<string>();
  await Promise.all(h.store.listApps().filter((app) => !only || only.has(app.name)).map(async (app) => {
    // The release record: the live release is what serves, whatever the app was asked to run.
    const live = h.store.listReleases(app.name).find((r) => r.status === 'live');
    if (live?.source !== 'push' || !live.commit) return;
    if (!(await rollBackIfUnlanded(h, app, live, waitS))) unchecked.add(app.name);
  }));
  return unchecked;
}
