import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { errorMessage } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';

const SYSCTL = '/proc/sys/net/ipv4/tcp_migrate_req';
/** Where `hop3-server setup` keeps the setting across reboots. */
export const SYSCTL_CONF = '/etc/sysctl.d/60-hop3-caddy.conf';

/*
 * Caddy 2.6 keeps serving across a config load by binding a new listening socket beside the
 * old one with SO_REUSEPORT, then closing the old one. Each such socket has its own accept
 * queue, and the kernel resets the connections still queued on a socket that closes, unless
 * `net.ipv4.tcp_migrate_req` is 1 (Linux 5.14+): then it moves them to the new socket. Caddy
 * has no setting of its own for this (no socket handover before 2.8's `fd/` listeners), so the
 * sysctl is the only fix. It is outside HOP3_HOME: `hop3-server setup` sets it on purpose, and
 * `serve` only says when it is off.
 */

/** Whether the kernel moves queued connections to the new listener. */
export function requestMigration(path = SYSCTL): 'on' | 'off' | 'unavailable' {
  try {
    return readFileSync(path, 'utf8').trim() === '0' ? 'off' : 'on';
  } catch {
    return 'unavailable';
  }
}

/** At `serve`: warn when a config load may reset connections, and say how to fix it. */
export function warnUnlessRequestMigration(log: Logger, path = SYSCTL): 'on' | 'off' | 'unavailable' {
  const state = requestMigration(path);
  if (state === 'unavailable') {
    log.warn({ sysctl: 'net.ipv4.tcp_migrate_req' }, 'this kernel has no net.ipv4.tcp_migrate_req (Linux < 5.14): a Caddy config load may reset a few connections that were waiting to be accepted');
  } else if (state === 'off') {
    log.warn({ sysctl: 'net.ipv4.tcp_migrate_req' },
      'net.ipv4.tcp_migrate_req is 0: a Caddy config load may reset a few connections that were waiting to be accepted; run hop3-server setup (as root), or sysctl -w net.ipv4.tcp_migrate_req=1');
  }
  return state;
}

/** At `setup` (root): turn it on now and at every boot. */
export function enableRequestMigration(path = SYSCTL, conf = SYSCTL_CONF): 'on' | 'set' | 'unavailable' {
  const state = requestMigration(path);
  if (state === 'unavailable') return state;
  mkdirSync(dirname(conf), { recursive: true });
  writeFileSync(conf, '# hop3 (HOP3_PROXY=caddy): a Caddy config load moves queued connections instead of resetting them\nnet.ipv4.tcp_migrate_req = 1\n');
  if (state === 'on') return 'on';
  try {
    writeFileSync(path, '1\n');
    return 'set';
  } catch (err) {
    throw new Error(`could not set net.ipv4.tcp_migrate_req: ${errorMessage(err)}`);
  }
}
