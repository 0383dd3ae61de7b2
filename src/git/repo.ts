import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { Hop3Error } from '../lib/errors.js';
import { run } from '../lib/exec.js';
import { writeIfDifferent } from '../lib/fs-atomic.js';
import type { Layout } from '../lib/layout.js';
import { PROJECT_ROOT } from '../lib/paths.js';

export const ZERO_SHA = /^0+$/;
export const DEFAULT_DEPLOY_BRANCHES = ['main', 'master'];

export const repoPath = (layout: Layout, app: string) => join(layout.app(app), 'git');

/** Every value in the hook is a path, URL or name hop3 produced; refuse anything a shell would read. */
function shellSafe(value: string): string {
  if (!/^[A-Za-z0-9._/:-]+$/.test(value)) {
    throw new Hop3Error('internal', 'UNSAFE_HOOK_VALUE', `refusing to write ${JSON.stringify(value)} into a git hook`);
  }
  return `'${value}'`;
}

export function preReceiveHook(config: Config, app: string): string {
  const host = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? '127.0.0.1' : config.listen.host;
  const api = `http://${host.includes(':') ? `[${host}]` : host}:${config.listen.port}`;
  return [
    '#!/bin/sh',
    '# Installed by hop3: a push to the deploy branch becomes a release; if it fails, the push is rejected.',
    `HOP3_HOME=${shellSafe(config.home)} HOP3_API_URL=${shellSafe(api)} exec ${shellSafe(process.execPath)} ${shellSafe(join(PROJECT_ROOT, 'dist', 'src', 'git', 'pre-receive.js'))} ${shellSafe(app)}`,
    '',
  ].join('\n');
}

/** Create the app's bare repository (first push) and keep its hook current. Idempotent. */
export async function ensureRepo(config: Config, layout: Layout, app: string): Promise<string> {
  const path = repoPath(layout, app);
  if (!existsSync(join(path, 'HEAD'))) {
    await run(['git', 'init', '--bare', '--quiet', '--initial-branch=main', path]);
    await run(['git', '-C', path, 'config', 'http.receivepack', 'true']);
  }
  writeIfDifferent(join(path, 'hooks', 'pre-receive'), preReceiveHook(config, app), 0o755);
  return path;
}

/** The commit a branch points at in the app's repository, or null. */
export async function refValue(layout: Layout, app: string, ref: string): Promise<string | null> {
  const path = repoPath(layout, app);
  if (!existsSync(path)) return null;
  const r = await run(['git', '-C', path, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`]).catch(() => null);
  return r ? r.stdout.trim() : null;
}
