import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { call, clientConfig } from '../cli/client.js';
import { userError } from '../lib/errors.js';
import { APP_NAME_PATTERN } from '../spec/index.js';

/**
 * The forced command of every authorized key. sshd hands over what the client asked for in
 * SSH_ORIGINAL_COMMAND; only git's own services on an app repository are run, with an argv
 * (never a shell). Pushes to one app are serialized with a lock held for the whole session,
 * so a second push waits, sees the first one's commit and deploys on top.
 */
export async function gitSsh(opts: { home: string; api: string; key: string }, original: string | undefined): Promise<number> {
  const m = /^(git-receive-pack|git-upload-pack) '?\/?([^'/]+?)(?:\.git)?'?$/.exec(original ?? '');
  if (!m) throw userError('SSH_COMMAND_REFUSED', 'this key may only run git push and git fetch to an app (git@host:APP)', { hint: 'git remote add hop3 hop3@HOST:APP' });
  const [, service, app] = m as unknown as [string, string, string];
  if (!APP_NAME_PATTERN.test(app)) throw userError('APP_NAME_INVALID', `${JSON.stringify(app)} is not an app name`, { hint: 'lowercase letters, digits and dashes' });
  const cfg = clientConfig({ HOP3_HOME: opts.home, HOP3_API_URL: `http://${opts.api}` });
  const repo = service === 'git-receive-pack'
    ? (await call<{ path: string }>(cfg, 'git.prepare', { app })).path
    : join(opts.home, 'apps', app, 'git');
  const argv = service === 'git-receive-pack' ? ['flock', join(repo, 'hop3-push.lock'), service, repo] : [service, repo];
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: 'inherit', env: { ...process.env, HOP3_SSH_KEY: opts.key } });
    child.on('close', (code) => resolve(code ?? 1));
  });
}
