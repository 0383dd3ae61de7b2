import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { call, clientConfig } from '../cli/client.js';
import { asHop3Error, userError } from '../lib/errors.js';
import { APP_NAME_PATTERN } from '../manifest/app-name.js';
import { KEY_NAME_PATTERN } from './authorized-keys.js';

/**
 * The forced command of every authorized key. sshd hands over what the client asked for in
 * SSH_ORIGINAL_COMMAND; only git's own services on an app repository are run, with an argv
 * (never a shell). Pushes to one app are serialized with a lock held for the whole session,
 * so a second push waits, sees the first one's commit and deploys on top.
 */
export async function gitSsh(opts: { home: string; api: string; key: string }, original: string | undefined): Promise<number> {
  const m = /^(git-receive-pack|git-upload-pack) '?\/?([^'/]+?)(?:\.git)?'?$/.exec(original ?? '');
  if (!m) throw userError('SSH_COMMAND_REFUSED', 'this key may only run git push and git fetch of an app repository (USER@HOST:APP)', { hint: 'git remote add hop3 hop3@HOST:APP' });
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

/**
 * The forced command's arguments, exactly `--home HOME --api HOST:PORT --key NAME` in that
 * order. Nothing else is accepted: through sudo these arguments reach a program run as root, and
 * the sudo rule can only pin them down to the key name's glob.
 */
export function parseSshArgs(argv: string[]): { home: string; api: string; key: string } {
  const [h, home, a, api, k, key] = argv;
  if (argv.length !== 6 || h !== '--home' || a !== '--api' || k !== '--key'
    || !/^\/[A-Za-z0-9._/-]*$/.test(home!) || !/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(api!) || !KEY_NAME_PATTERN.test(key!)) {
    throw userError('SSH_COMMAND_BROKEN', `the forced command's arguments are not --home HOME --api HOST:PORT --key NAME: ${JSON.stringify(argv)}`, {
      hint: 're-add the key with hop3-server ssh-key add, or run hop3-server setup',
    });
  }
  return { home: home!, api: api!, key: key! };
}

/** Run the forced command with its arguments; errors reach the SSH client on stderr. */
export async function runSshCommand(argv: string[]): Promise<void> {
  try {
    process.exitCode = await gitSsh(parseSshArgs(argv), process.env.SSH_ORIGINAL_COMMAND);
  } catch (err) {
    const e = asHop3Error(err);
    process.stderr.write(`error: ${e.message}\n${e.hint ? `hint: ${e.hint}\n` : ''}`);
    process.exitCode = 1;
  }
}
