import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { extractCommit, refValue, ZERO_SHA } from '../git/repo.js';
import { assertConfined, checkAppPaths, settleOwnership } from '../lib/confine.js';
import { userError } from '../lib/errors.js';
import { secureAppDirs } from '../lib/layout.js';
import { chunked, isGzip, unpackArchive } from '../lib/unpack-archive.js';
import { assertValidSpec, loadAppDir } from '../manifest/index.js';
import type { ReleaseRecord } from '../store/types.js';
import { HOST_OWNER } from '../reconcile/host-pass.js';
import { admit } from './admit.js';
import { afterRollout, revokeShared } from './addons.js';
import { manifestAddons, recordManifestAddons, type ManifestAddons } from './manifest-addons.js';
import type { Caller } from './authorize.js';
import type { CommandContext } from './context.js';
import { newRelease, recorded, rollOut } from './release-records.js';

/** An upload (`archive`) or a pushed commit (the git hook: `commit`, `ref`, `old`, `quarantine`). */
export interface DeployInput {
  app: string;
  /** Base64 of a (gzipped) tar of the app directory. */
  archive?: string | undefined;
  commit?: string | undefined;
  ref?: string | undefined;
  old?: string | undefined;
  /** The push's quarantine directory, where git keeps the objects it has not accepted yet. */
  quarantine?: string | undefined;
  requestId?: string | undefined;
}

/** `hop3 deploy` and `git push`: a new release of the app's code, rolled out in the background. */
export async function deploy(ctx: CommandContext, caller: Caller, p: DeployInput) {
  admit(caller, 'apps.deploy', p.app);
  const commit = p.commit ?? null;
  const limits = { maxBytes: ctx.config.maxAppBytes, maxFiles: ctx.config.maxAppFiles };
  // Without an upload, the commit comes from the app's repository (a push).
  const unpack = p.archive === undefined
    ? (dest: string) => extractCommit(ctx.exec, ctx.layout, p.app, commit!, p.quarantine ?? null, dest, limits)
    : (dest: string) => {
      const archive = Buffer.from(p.archive!, 'base64');
      return unpackArchive(chunked(archive), isGzip(archive), dest, limits).then(() => undefined);
    };
  return deployArchive(ctx, p.app, unpack, {
    commit,
    push: p.ref === undefined ? null : { ref: p.ref, old: p.old ?? '0'.repeat(40) },
    requestId: p.requestId,
  });
}

/**
 * Deploy an app directory that `unpack` writes (an upload or a pushed commit). The tree and the
 * spec are checked before anything is recorded: a link out of the app or a bad hop3.toml
 * changes nothing and the running release keeps serving.
 */
async function deployArchive(
  ctx: CommandContext, app: string, unpack: (dest: string) => Promise<void>,
  opts: { commit: string | null; push: { ref: string; old: string } | null; requestId?: string | undefined },
) {
  const appDir = ctx.layout.app(app);
  const incoming = join(appDir, 'releases', `.incoming-${randomBytes(6).toString('hex')}`);
  const src = join(incoming, 'src');
  mkdirSync(src, { recursive: true });
  try {
    await unpack(src);
    assertConfined(src);
    const spec = assertValidSpec(loadAppDir(src));
    checkAppPaths(src, spec);
    settleOwnership(src, ctx.plugins.proxy.fileReader());
    let addons: ManifestAddons | null = null;
    const release = await rollOut(ctx, app, true, async () => {
      if (opts.push) await checkBranchUnmoved(ctx, app, opts.push);
      addons = await manifestAddons(ctx, app, spec);
      const recording = addons;
      // The first deploy creates the app; a refused first deploy leaves nothing behind.
      const isNew = ctx.store.getApp(app) === null;
      ctx.store.createApp(app);
      let r: ReleaseRecord;
      try {
        r = await newRelease(ctx, app, { source: opts.push ? 'push' : 'rpc', commit: opts.commit, spec, artifact: null, requestId: opts.requestId, ref: opts.push?.ref ?? null }, {
          before: () => recordManifestAddons(ctx, app, recording),
        });
      } catch (err) {
        if (isNew) ctx.store.deleteApp(app);
        throw err;
      }
      const releaseDir = ctx.layout.releaseDir(app, r.version);
      rmSync(releaseDir, { recursive: true, force: true });
      renameSync(incoming, releaseDir);
      for (const d of ['data', 'log']) mkdirSync(join(appDir, d), { recursive: true, mode: 0o700 });
      secureAppDirs(ctx.layout, app);
      return r;
    }, opts.requestId);
    // Servers of addons the release brought start now, before its rollout looks at its instances.
    if (release.spec.addons.length > 0) await ctx.reconciler.trigger(HOST_OWNER);
    // Entries removed from hop3.toml: detached in the release, their logins tombstones that its
    // rollout drops (as after `addons detach`). Shared passwords of older attachments change once
    // it settles, without holding the deploy's answer for it.
    const detached = (addons as ManifestAddons | null)?.detach ?? [];
    if (detached.some((d) => d.credentials === null)) {
      void afterRollout(ctx, app).then(() => revokeShared(ctx, detached))
        .catch((err: unknown) => ctx.log.warn({ app, err }, 'the shared credentials of detached addons could not be changed'));
    }
    return { ...recorded(ctx, app, release), detached: detached.map((d) => ({ addon: d.addon, env: d.env })) };
  } finally {
    // A refused unpack may still be closing its last file.
    rmSync(incoming, { recursive: true, force: true, maxRetries: 5 });
  }
}

/**
 * A push deploys only if its branch still points where the pusher saw it: an HTTP push that
 * raced another would otherwise deploy code its branch then refuses to record.
 */
async function checkBranchUnmoved(ctx: CommandContext, app: string, push: { ref: string; old: string }): Promise<void> {
  const current = (await refValue(ctx.exec, ctx.layout, app, push.ref)) ?? '0'.repeat(40);
  if (current !== push.old && !(ZERO_SHA.test(current) && ZERO_SHA.test(push.old))) {
    throw userError('BRANCH_MOVED', `${push.ref} moved to ${current.slice(0, 12)} while this push was prepared`, { hint: 'fetch, rebase or merge, and push again' });
  }
}
