import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../lib/paths.js';
import { userError } from '../lib/errors.js';
import { readTextOrNull, writeFileAtomic } from '../lib/fs-atomic.js';
import type { Layout } from '../lib/layout.js';
import { apiAddress, type Config } from '../config.js';

const KEY = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) ([A-Za-z0-9+/]+={0,3})(?: (.*))?$/;
/** Key names: written into the forced command, the key line's comment and the sudo rule's argument. */
export const KEY_NAME_PATTERN = /^[A-Za-z0-9._@-]{1,64}$/;
const MARK = / hop3:([A-Za-z0-9._@-]+)$/;
/** The end of a line hop3 wrote: key type, base64 key, hop3:NAME. */
const TAIL = / (ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) ([A-Za-z0-9+/]+={0,3}) hop3:([A-Za-z0-9._@-]{1,64})$/;

export interface SshKey {
  name: string;
  type: string;
}

/**
 * How the forced command runs. `direct`: as the account sshd logged the key in as, which is
 * the account hop3-server runs as. `sudo`: the key logs in as the HOP3_SSH_USER account that
 * `hop3-server setup` made (as root), whose sudo rule runs exactly hop3's entry point as root.
 */
export type SshForm = 'direct' | 'sudo';

/** The program sshd runs for every key: hop3's node, the entry point and its fixed arguments. */
export interface SshEntryPoint {
  node: string;
  entry: string;
  home: string;
  api: string;
}

export function sshEntryPoint(config: Config): SshEntryPoint {
  // The node that runs this admin command runs the forced command too (sshd's PATH may hold an older one).
  return { node: process.execPath, entry: join(PROJECT_ROOT, 'dist', 'src', 'git', 'ssh-entry.js'), home: config.home, api: apiAddress(config) };
}

export const authorizedKeysPath = (layout: Layout) => join(layout.home, '.ssh', 'authorized_keys');

/**
 * The file's mode: in the sudo form sshd reads it as HOP3_SSH_USER while root owns it, so it
 * is world-readable (public keys only); otherwise only its owner reads it.
 */
const fileMode = (form: SshForm) => (form === 'sudo' ? 0o644 : 0o600);

/**
 * The forced command of a key (sshd runs it with the account's shell). Every word is hop3's own
 * (node binary, entry point, validated HOP3_HOME and API address, key name) and must be plain:
 * nothing a shell or the authorized_keys syntax would read.
 */
export function forcedCommand(ep: SshEntryPoint, keyName: string, form: SshForm): string {
  const command = `${form === 'sudo' ? 'sudo -n ' : ''}${ep.node} ${ep.entry} --home ${ep.home} --api ${ep.api} --key ${keyName}`;
  const plainPath = (p: string) => /^\/[A-Za-z0-9._/-]*$/.test(p);
  if (!plainPath(ep.node) || !plainPath(ep.entry) || !plainPath(ep.home) || !/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(ep.api) || !KEY_NAME_PATTERN.test(keyName)) {
    throw userError('SSH_COMMAND_UNSAFE', `cannot write a forced command for ${command}`);
  }
  return command;
}

/** One authorized_keys line: the forced command, no shell, no forwarding, no pty. */
export function renderKeyLine(ep: SshEntryPoint, form: SshForm, key: { type: string; key: string; name: string }): string {
  return `command="${forcedCommand(ep, key.name, form)}",restrict,no-port-forwarding,no-X11-forwarding,no-agent-forwarding,no-pty ${key.type} ${key.key} hop3:${key.name}`;
}

function read(layout: Layout): string[] {
  return (readTextOrNull(authorizedKeysPath(layout)) ?? '').split('\n').filter(Boolean);
}

function write(layout: Layout, lines: string[], form: SshForm): void {
  const dir = join(layout.home, '.ssh');
  mkdirSync(dir, { recursive: true, mode: form === 'sudo' ? 0o755 : 0o700 });
  if (form === 'sudo') chmodSync(dir, 0o755);
  writeFileAtomic(authorizedKeysPath(layout), lines.length ? `${lines.join('\n')}\n` : '', fileMode(form));
  chmodSync(authorizedKeysPath(layout), fileMode(form)); // whatever the umask
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
export function addKey(config: Config, layout: Layout, publicKey: string, name?: string, form: SshForm = 'direct'): SshKey {
  const m = KEY.exec(publicKey.trim());
  if (!m) throw userError('SSH_KEY_INVALID', 'not an OpenSSH public key line (type, base64 key, optional comment)', { hint: 'pass the .pub file, e.g. ~/.ssh/id_ed25519.pub' });
  const keyName = name ?? (m[3] ?? '').trim().replace(/[^A-Za-z0-9._@-]/g, '_').slice(0, 64);
  if (!KEY_NAME_PATTERN.test(keyName)) throw userError('SSH_KEY_NAME_INVALID', `key name ${JSON.stringify(keyName)} must be 1-64 letters, digits, '.', '_', '@' or '-'`, { hint: 'pass --name NAME' });
  const lines = read(layout);
  if (lines.some((l) => MARK.exec(l)?.[1] === keyName)) throw userError('SSH_KEY_EXISTS', `a key named ${keyName} is already authorized`, { hint: 'remove it first, or pick another --name' });
  if (lines.some((l) => l.includes(` ${m[2]} `))) throw userError('SSH_KEY_EXISTS', 'this key is already authorized');
  const line = renderKeyLine(sshEntryPoint(config), form, { type: m[1]!, key: m[2]!, name: keyName });
  write(layout, [...lines, line], form);
  return { name: keyName, type: m[1]! };
}

export function removeKey(layout: Layout, name: string, form: SshForm = 'direct'): void {
  const lines = read(layout);
  const kept = lines.filter((l) => MARK.exec(l)?.[1] !== name);
  if (kept.length === lines.length) throw userError('SSH_KEY_NOT_FOUND', `no key named ${name}`, { hint: 'see `hop3-server ssh-key list`' });
  write(layout, kept, form);
}

/**
 * The file with every line hop3 wrote rendered again in `form` (and the current entry point);
 * other lines are kept as they are. Pure: `rewriteKeys` writes it.
 */
export function rewriteKeyLines(text: string, ep: SshEntryPoint, form: SshForm): { text: string; changed: number; keys: number } {
  let changed = 0;
  let keys = 0;
  const lines = text.split('\n').filter(Boolean).map((line) => {
    const m = TAIL.exec(line);
    if (!m) return line;
    keys++;
    const fresh = renderKeyLine(ep, form, { type: m[1]!, key: m[2]!, name: m[3]! });
    if (fresh !== line) changed++;
    return fresh;
  });
  return { text: lines.length ? `${lines.join('\n')}\n` : '', changed, keys };
}

/** Rewrite the keys hop3 authorized in `form` (keys added before setup keep working after it). */
export function rewriteKeys(config: Config, layout: Layout, form: SshForm): { changed: number; keys: number } {
  const before = readTextOrNull(authorizedKeysPath(layout)) ?? '';
  const r = rewriteKeyLines(before, sshEntryPoint(config), form);
  if (r.text !== before) write(layout, r.text.split('\n').filter(Boolean), form);
  return { changed: r.changed, keys: r.keys };
}
