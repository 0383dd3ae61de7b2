import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { operationalError, userError } from '../lib/errors.js';
import type { ShellCommand } from '../plugins/addons/instance-provider.js';
import { call, type ClientConfig } from './client.js';

/** What of the user's environment the client gets: its terminal and locale, never HOP3_TOKEN. */
const PASSED_ENV = ['PATH', 'HOME', 'USER', 'LOGNAME', 'TERM', 'LANG', 'LANGUAGE', 'LC_ALL', 'LC_CTYPE', 'LC_MESSAGES', 'TZ', 'PAGER', 'LESS', 'COLUMNS', 'LINES'];

/** The addon servers listen on the daemon's loopback: the client has to run on that machine. */
export function isLoopbackApi(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127(\.\d{1,3}){3}$/.test(host);
}

/**
 * `hop3 addons shell NAME`: the daemon says which client and how; the password goes in a 0600 file
 * of a private temporary directory (removed when the client exits) or the one variable the client
 * reads it from, never in argv. stdin, stdout and stderr are the client's: piped input is run as a
 * script. Returns the client's exit code.
 */
export async function runAddonShell(cfg: ClientConfig, addon: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  if (!isLoopbackApi(cfg.url)) {
    throw userError('ADDON_SHELL_REMOTE', `hop3 addons shell runs the addon's client on the daemon's machine, and HOP3_API_URL is ${cfg.url}`, {
      hint: `the addon servers listen on that machine's loopback only: run it there (e.g. ssh HOST hop3 addons shell ${addon})`,
    });
  }
  const cmd = await call<ShellCommand & { addon: string; type: string }>(cfg, 'addons.shell', { addon });
  const dir = mkdtempSync(join(tmpdir(), 'hop3-shell-'));
  try {
    const childEnv: Record<string, string> = {};
    for (const k of PASSED_ENV) if (env[k] !== undefined) childEnv[k] = env[k];
    Object.assign(childEnv, cmd.env);
    const args = [...cmd.args];
    if (cmd.file !== null) {
      const path = join(dir, 'credentials');
      writeFileSync(path, cmd.file.content, { mode: 0o600, flag: 'wx' });
      if (cmd.file.env !== undefined) childEnv[cmd.file.env] = path;
      if (cmd.file.flag !== undefined) args.unshift(`${cmd.file.flag}${path}`);
    }
    return await new Promise<number>((resolve, reject) => {
      const child = spawn(cmd.program, args, { stdio: 'inherit', env: childEnv });
      child.on('error', (err: NodeJS.ErrnoException) => {
        reject(err.code === 'ENOENT'
          ? operationalError('ADDON_SHELL_CLIENT_MISSING', `${cmd.program} (the ${cmd.type} client) is not installed on this machine`, { hint: 'hop3-server setup installs it with the addon servers' })
          : err);
      });
      child.on('exit', (code, signal) => resolve(code ?? (signal === null ? 1 : 128)));
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
