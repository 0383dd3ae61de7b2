/**
 * The pre-receive hook of every app repository. git runs it with the pushed refs on stdin and
 * relays its output to the pusher as `remote:` lines. For the deploy branch it has the daemon
 * deploy the pushed commit as a release and follows it; a non-zero exit rejects the push, so
 * the branch only moves when the new release serves, and a rejected push never goes live.
 */
import { readFileSync } from 'node:fs';
import { call, clientConfig } from '../cli/client.js';
import { followRelease, lastEventId } from '../cli/follow.js';
import { formatManifestDetach } from '../cli/format.js';
import { asHop3Error, userError } from '../lib/errors.js';
import { splitPush, ZERO_SHA } from './repo.js';

const out = (line: string) => process.stdout.write(`${line}\n`);
const cfg = clientConfig(process.env);

/** The release this push asked for (still being recorded, or recorded and waited for). */
let pending: Promise<{ app: string; version: number }> | null = null;

/** A push that is rejected takes its release with it (a no-op if that release already failed). */
async function cancelPending(reason: string): Promise<void> {
  const p = pending;
  pending = null;
  const r = await p?.catch(() => null);
  if (r) await call(cfg, 'releases.cancel', { app: r.app, version: `v${r.version}`, reason }).catch(() => undefined);
}

async function main(app: string): Promise<void> {
  const { deployBranches } = await call<{ deployBranches: string[] }>(cfg, 'git.info', { app });
  const { stored, deploys } = splitPush(readFileSync(0, 'utf8'), deployBranches);
  // One push, one release: a push that moved two deploy branches could only half succeed.
  if (deploys.length > 1) {
    throw userError('PUSH_SEVERAL_DEPLOY_BRANCHES', `this push updates ${deploys.map((u) => u.branch).join(' and ')}, each of which deploys ${app}`, {
      hint: 'push one deploy branch at a time',
    });
  }
  for (const u of stored) out(`-----> ${u.ref} stored (deploys happen from ${deployBranches.join(' or ')})`);
  const u = deploys[0];
  if (!u) return;
  if (ZERO_SHA.test(u.sha)) throw new Error(`deleting the deploy branch ${u.branch} is refused`);
  out(`-----> Deploying ${u.sha.slice(0, 12)} (${u.branch}) to ${app}`);
  const after = await lastEventId(cfg, app).catch(() => 0);
  // The daemon reads the commit from the repository, through the push's quarantine.
  const quarantine = process.env.GIT_QUARANTINE_PATH;
  const deploy = call<{ version: number; detached?: { addon: string; env: string }[] }>(cfg, 'apps.deploy', { app, commit: u.sha, ref: u.ref, old: u.old, ...(quarantine ? { quarantine } : {}) });
  pending = deploy.then((d) => ({ app, version: d.version }));
  pending.catch(() => undefined); // a refused deploy is reported through `deploy` below
  const r = await deploy;
  for (const d of r.detached ?? []) out(formatManifestDetach(d));
  await followRelease(cfg, app, r.version, after, out);
  pending = null;
  const status = await call<{ urls: string[] }>(cfg, 'apps.status', { app }).catch(() => ({ urls: [] }));
  out(`-----> ${app} v${r.version} is serving${status.urls.length ? ` at ${status.urls.join(' ')}` : ''}`);
}

async function reject(err: unknown): Promise<void> {
  const e = asHop3Error(err);
  await cancelPending(`the push was rejected: ${e.message}`);
  out(`!      ${e.message}`);
  if (e.hint) out(`!      hint: ${e.hint}`);
  out('!      push rejected; the previous release keeps serving');
  process.exitCode = 1;
}

// The pusher hung up or git was stopped: the push will not land, so neither may its release.
const interrupted = (why: string) => void cancelPending(`the push was interrupted (${why})`).finally(() => process.exit(1));
for (const signal of ['SIGTERM', 'SIGHUP', 'SIGINT', 'SIGPIPE'] as const) process.once(signal, () => interrupted(signal));
process.stdout.on('error', () => interrupted('the pusher hung up'));

main(process.argv[2] ?? '').catch(reject);
