/**
 * The pre-receive hook of every app repository. git runs it with the pushed refs on stdin and
 * relays its output to the pusher as `remote:` lines. For the deploy branch it has the daemon
 * deploy the pushed commit as a release and follows it; a non-zero exit rejects the push, so
 * the branch only moves when the new release serves.
 */
import { readFileSync } from 'node:fs';
import { call, clientConfig } from '../cli/client.js';
import { followRelease, lastEventId } from '../cli/follow.js';
import { asHop3Error } from '../lib/errors.js';
import { ZERO_SHA } from './repo.js';

const out = (line: string) => process.stdout.write(`${line}\n`);

async function main(app: string): Promise<void> {
  const cfg = clientConfig(process.env);
  const input = readFileSync(0, 'utf8');
  const updates = input.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string, string]);
  const { deployBranches } = await call<{ deployBranches: string[] }>(cfg, 'git.info', { app });
  for (const [old, sha, ref] of updates) {
    const branch = ref.replace(/^refs\/heads\//, '');
    if (!ref.startsWith('refs/heads/') || !deployBranches.includes(branch)) {
      out(`-----> ${ref} stored (deploys happen from ${deployBranches.join(' or ')})`);
      continue;
    }
    if (ZERO_SHA.test(sha)) throw new Error(`deleting the deploy branch ${branch} is refused`);
    out(`-----> Deploying ${sha.slice(0, 12)} (${branch}) to ${app}`);
    const after = await lastEventId(cfg, app).catch(() => 0);
    // The daemon reads the commit from the repository, through the push's quarantine.
    const quarantine = process.env.GIT_QUARANTINE_PATH;
    const r = await call<{ version: number }>(cfg, 'apps.deploy', { app, commit: sha, ref, old, ...(quarantine ? { quarantine } : {}) });
    await followRelease(cfg, app, r.version, after, out);
    const status = await call<{ urls: string[] }>(cfg, 'apps.status', { app });
    out(`-----> ${app} v${r.version} is serving at ${status.urls.join(' ')}`);
  }
}

main(process.argv[2] ?? '').catch((err: unknown) => {
  const e = asHop3Error(err);
  out(`!      ${e.message}`);
  if (e.hint) out(`!      hint: ${e.hint}`);
  out('!      push rejected; the previous release keeps serving');
  process.exitCode = 1;
});
