/**
 * The pre-receive hook of every app repository. git runs it with the pushed refs on stdin and
 * relays its output to the pusher as `remote:` lines. For the deploy branch it uploads the
 * pushed commit as a release and follows it; a non-zero exit rejects the push, so the branch
 * only moves when the new release serves.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { call, clientConfig } from '../cli/client.js';
import { followRelease, lastEventId } from '../cli/follow.js';
import { asHop3Error } from '../lib/errors.js';
import { run } from '../lib/exec.js';
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
    const dir = mkdtempSync(join(tmpdir(), 'hop3-push-'));
    try {
      // git archive sees the pushed objects, still in the push's quarantine.
      await run(['git', 'archive', '--format=tar.gz', '-o', join(dir, 'src.tar.gz'), sha]);
      const after = await lastEventId(cfg, app).catch(() => 0);
      const archive = readFileSync(join(dir, 'src.tar.gz')).toString('base64');
      const r = await call<{ version: number }>(cfg, 'apps.deploy', { app, archive, commit: sha, ref, old });
      await followRelease(cfg, app, r.version, after, out);
      const status = await call<{ urls: string[] }>(cfg, 'apps.status', { app });
      out(`-----> ${app} v${r.version} is serving at ${status.urls.join(' ')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

main(process.argv[2] ?? '').catch((err: unknown) => {
  const e = asHop3Error(err);
  out(`!      ${e.message}`);
  if (e.hint) out(`!      hint: ${e.hint}`);
  out('!      push rejected; the previous release keeps serving');
  process.exitCode = 1;
});
