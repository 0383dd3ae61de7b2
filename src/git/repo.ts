import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { apiAddress, type Config } from '../config.js';
import { Hop3Error, userError } from '../lib/errors.js';
import type { Exec } from '../lib/exec.js';
import { unpackArchive, type UnpackLimits } from '../lib/unpack-archive.js';
import { writeIfDifferent } from '../lib/fs-atomic.js';
import { secureAppDirs, type Layout } from '../lib/layout.js';
import { PROJECT_ROOT } from '../lib/paths.js';

export const ZERO_SHA = /^0+$/;
export const DEFAULT_DEPLOY_BRANCHES = ['main', 'master'];

/** The branches whose pushes deploy an app. */
export const deployBranchesOf = (app: { deployBranch: string | null } | null) => (app?.deployBranch ? [app.deployBranch] : DEFAULT_DEPLOY_BRANCHES);

/** Held by every push to an app, over SSH and HTTP alike, so pushes to one app happen one at a time. */
export const pushLockPath = (layout: Layout, app: string) => join(repoPath(layout, app), 'hop3-push.lock');

/** The ref updates a pre-receive hook reads, split into those that deploy and those only stored. */
export function splitPush(lines: string, deployBranches: string[]) {
  const updates = lines.split('\n').filter(Boolean).map((l) => {
    const [old, sha, ref] = l.split(' ') as [string, string, string];
    return { old, sha, ref, branch: ref.replace(/^refs\/heads\//, '') };
  });
  const deploys = updates.filter((u) => u.ref.startsWith('refs/heads/') && deployBranches.includes(u.branch));
  return { stored: updates.filter((u) => !deploys.includes(u)), deploys };
}

export const repoPath = (layout: Layout, app: string) => join(layout.app(app), 'git');

/** Every value in the hook is a path, URL or name hop3 produced; refuse anything a shell would read. */
function shellSafe(value: string): string {
  if (!/^[A-Za-z0-9._/:-]+$/.test(value)) {
    throw new Hop3Error('UNSAFE_HOOK_VALUE', `refusing to write ${JSON.stringify(value)} into a git hook`);
  }
  return `'${value}'`;
}

export function preReceiveHook(config: Config, app: string): string {
  const api = `http://${apiAddress(config)}`;
  return [
    '#!/bin/sh',
    '# Installed by hop3: a push to the deploy branch becomes a release; if it fails, the push is rejected.',
    `HOP3_HOME=${shellSafe(config.home)} HOP3_API_URL=${shellSafe(api)} exec ${shellSafe(process.execPath)} ${shellSafe(join(PROJECT_ROOT, 'dist', 'src', 'git', 'pre-receive.js'))} ${shellSafe(app)}`,
    '',
  ].join('\n');
}

/** Create the app's bare repository (first push) and keep its hook current. Idempotent. */
export async function ensureRepo(exec: Exec, config: Config, layout: Layout, app: string): Promise<string> {
  const path = repoPath(layout, app);
  if (!existsSync(join(path, 'HEAD'))) {
    await exec.run(['git', 'init', '--bare', '--quiet', '--initial-branch=main', path]);
    await exec.run(['git', '-C', path, 'config', 'http.receivepack', 'true']);
    secureAppDirs(layout, app); // git made them world-readable; the source is the app's own
  }
  // git itself refuses a pack larger than an app may be, before unpacking its objects.
  const maxInput = String(config.maxAppBytes);
  const current = await exec.run(['git', '-C', path, 'config', '--get', 'receive.maxInputSize']).then((r) => r.stdout.trim(), () => '');
  if (current !== maxInput) await exec.run(['git', '-C', path, 'config', 'receive.maxInputSize', maxInput]);
  writeIfDifferent(join(path, 'hooks', 'pre-receive'), preReceiveHook(config, app), 0o755);
  return path;
}

/**
 * Unpack a commit of the app's repository into `dest`, streamed from `git archive` under the
 * same limits as an upload. While a push is being received its objects are still in the push's
 * quarantine directory (inside the repository's objects/), which the hook names.
 */
export async function extractCommit(exec: Exec, layout: Layout, app: string, commit: string, quarantine: string | null, dest: string, limits: UnpackLimits): Promise<void> {
  const repo = repoPath(layout, app);
  const objects = join(repo, 'objects');
  const env: Record<string, string> = {};
  if (quarantine !== null) {
    quarantine = resolve(quarantine); // git names it through the repository's ./objects
    if (dirname(quarantine) !== objects || !/^(tmp_objdir-)?incoming-[A-Za-z0-9_]+$/.test(basename(quarantine))) {
      throw userError('QUARANTINE_INVALID', `${quarantine} is not a push quarantine of ${app}`);
    }
    env.GIT_OBJECT_DIRECTORY = quarantine;
    env.GIT_ALTERNATE_OBJECT_DIRECTORIES = objects;
  }
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit)) throw userError('COMMIT_UNKNOWN', `${JSON.stringify(commit)} is not a commit id`);
  try {
    await exec.run(['git', '-C', repo, 'cat-file', '-e', `${commit}^{commit}`], { env });
  } catch (err) {
    throw userError('COMMIT_UNKNOWN', `cannot read commit ${commit} of ${app}`, { cause: err });
  }
  await exec.runPiped(['git', '-C', repo, 'archive', '--format=tar', commit], (tar) => unpackArchive(tar, false, dest, limits), { env });
}

/** The commit a branch points at in the app's repository, or null. */
export async function refValue(exec: Exec, layout: Layout, app: string, ref: string): Promise<string | null> {
  const path = repoPath(layout, app);
  if (!existsSync(path)) return null;
  const r = await exec.run(['git', '-C', path, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`]).catch(() => null);
  return r ? r.stdout.trim() : null;
}
