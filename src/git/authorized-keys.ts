import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../lib/paths.js';
import { userError } from '../lib/errors.js';
import { readTextOrNull, writeFileAtomic } from '../lib/fs-atomic.js';
import type { Layout } from '../lib/layout.js';
import type { Config } from '../config.js';

const KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) ([A-Za-z0-9+/]+={0,3})(?: (.*))?$/;
const NAME = /^[A-Za-z0-9._@-]{1,64}$/;
const MARK = / hop3:([A-Za-z0-9._@-]+)$/;

export interface SshKey {
  name: string;
  type: string;
}

export const authorizedKeysPath = (layout: Layout) => join(layout.home, '.ssh', 'authorized_keys');

function read(layout: Layout): string[] {
  return (readTextOrNull(authorizedKeysPath(layout)) ?? '').split('\n').filter(Boolean);
}

export function listKeys(layout: Layout): SshKey[] {
  return read(layout).flatMap((line) => {
    const name = MARK.exec(line)?.[1];
    const type = line.split(' ').find((p) => KEY.test(`${p} AAAA`)) ?? '?';
    return name ? [{ name, type }] : [];
  });
}

/**
 * Authorize a public key for git push over SSH. The key may run nothing but hop3's forced
 * command: no shell, no forwarding, no pty.
 */
export function addKey(config: Config, layout: Layout, publicKey: string, name?: string): SshKey {
  const m = KEY.exec(publicKey.trim());
  if (!m) throw userError('SSH_KEY_INVALID', 'not an OpenSSH public key line (type, base64 key, optional comment)', { hint: 'pass the .pub file, e.g. ~/.ssh/id_ed25519.pub' });
  const keyName = name ?? (m[3] ?? '').trim().replace(/[^A-Za-z0-9._@-]/g, '_').slice(0, 64);
  if (!NAME.test(keyName)) throw userError('SSH_KEY_NAME_INVALID', `key name ${JSON.stringify(keyName)} must be 1-64 letters, digits, '.', '_', '@' or '-'`, { hint: 'pass --name NAME' });
  const lines = read(layout);
  if (lines.some((l) => MARK.exec(l)?.[1] === keyName)) throw userError('SSH_KEY_EXISTS', `a key named ${keyName} is already authorized`, { hint: 'remove it first, or pick another --name' });
  if (lines.some((l) => l.includes(` ${m[2]} `))) throw userError('SSH_KEY_EXISTS', 'this key is already authorized');
  // Paths and names here are hop3's own (validated HOP3_HOME, project root, key name); the
  // node that runs this admin command runs the forced command too (sshd's PATH may hold an older one).
  const command = `${process.execPath} ${join(PROJECT_ROOT, 'dist', 'src', 'git', 'ssh-entry.js')} --home ${config.home} --api ${config.listen.host}:${config.listen.port} --key ${keyName}`;
  if (!/^[A-Za-z0-9._/:@ -]+$/.test(command)) throw userError('SSH_COMMAND_UNSAFE', `cannot write a forced command for ${command}`);
  const line = `command="${command}",restrict,no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty ${m[1]} ${m[2]} hop3:${keyName}`;
  mkdirSync(join(layout.home, '.ssh'), { recursive: true, mode: 0o700 });
  writeFileAtomic(authorizedKeysPath(layout), [...lines, line, ''].join('\n'), 0o600);
  return { name: keyName, type: m[1]! };
}

export function removeKey(layout: Layout, name: string): void {
  const lines = read(layout);
  const kept = lines.filter((l) => MARK.exec(l)?.[1] !== name);
  if (kept.length === lines.length) throw userError('SSH_KEY_NOT_FOUND', `no key named ${name}`, { hint: 'see `hop3-server ssh-key list`' });
  writeFileAtomic(authorizedKeysPath(layout), kept.length ? `${kept.join('\n')}\n` : '', 0o600);
}
