import { existsSync } from 'node:fs';
import { asHop3Error } from '../lib/errors.js';
import { run } from '../lib/exec.js';
import { deployBranchesOf, pushLockPath, repoPath } from '../git/repo.js';
import type { AppRecord, ReleaseRecord } from '../store/types.js';
import { rollback } from './apps.js';
import type { Hop3 } from './hop3.js';

/** Long enough for an SSH push in flight at start (its hook rides out a restart for 15 s). */
const PUSH_LOCK_WAIT_S = 60;

/**
 * The commit each deploy branch points at, read while holding the app's push lock, so no push is
 * half-way through moving one.
 */
async function branchTips(h: Hop3, app: AppRecord): Promise<string[]> {
  const repo = repoPath(h.layout, app.name);
  const tips: string[] = [];
  for (const branch of deployBranchesOf(app)) {
    const r = await run(['flock', '-w', String(PUSH_LOCK_WAIT_S), pushLockPath(h.layout, app.name),
      'git', '-C', repo, 'rev-parse', '--verify', '--quiet', `refs/heads/${branch}^{commit}`], { timeoutMs: (PUSH_LOCK_WAIT_S + 10) * 1000 }).catch(() => null);
    if (r) tips.push(r.stdout.trim());
  }
  return tips;
}

async function rollBackIfUnlanded(h: Hop3, app: AppRecord, live: ReleaseRecord): Promise<void> {
  if (!existsSync(repoPath(h.layout, app.name))) return;
  const tips = await branchTips(h, app);
  if (tips.includes(live.commit!)) return;
  h.store.addEvent(app.name, 'push.unlanded', { release: live.version, commit: live.commit!, branches: tips });
  h.log.warn({ app: app.name, release: live.version, commit: live.commit }, 'a push went live but git never recorded it: rolling back');
  await rollback(h, app.name, undefined, { onlyFrom: live.version }).catch((err: unknown) => {
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
