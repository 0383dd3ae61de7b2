import { readFileSync, writeFileSync } from 'node:fs';
import { errorMessage } from '../../../lib/errors.js';
import type { Logger } from '../../../lib/logger.js';

const SYSCTL = '/proc/sys/net/ipv4/tcp_migrate_req';

/**
 * Caddy 2.6 keeps serving across a config load by binding a new listening socket beside the
 * old one with SO_REUSEPORT, then closing the old one. Each such socket has its own accept
 * queue, and the kernel resets the connections still queued on a socket that closes, unless
 * `net.ipv4.tcp_migrate_req` is 1 (Linux 5.14+): then it moves them to the new socket. Caddy
 * has no setting of its own for this (no socket handover before 2.8's `fd/` listeners), so the
 * sysctl is the only fix: set when hop3 runs as root and it is 0, and warned about otherwise.
 */
export function ensureRequestMigration(log: Logger, path = SYSCTL): 'on' | 'set' | 'unavailable' {
  let value: string;
  try {
    value = readFileSync(path, 'utf8').trim();
  } catch {
    log.warn({ sysctl: 'net.ipv4.tcp_migrate_req' }, 'this kernel has no net.ipv4.tcp_migrate_req (Linux < 5.14): a Caddy config load may reset a few connections that were waiting to be accepted');
    return 'unavailable';
  }
  if (value !== '0') return 'on';
  try {
    writeFileSync(path, '1\n');
    log.info({ sysctl: 'net.ipv4.tcp_migrate_req', from: 0, to: 1 }, 'set net.ipv4.tcp_migrate_req=1 so a Caddy config load resets no waiting connection');
    return 'set';
  } catch (err) {
    log.warn({ sysctl: 'net.ipv4.tcp_migrate_req', err: errorMessage(err) },
      'net.ipv4.tcp_migrate_req is 0 and hop3 cannot set it (not root): a Caddy config load may reset a few connections that were waiting to be accepted; set it with `sysctl -w net.ipv4.tcp_migrate_req=1`');
    return 'unavailable';
  }
}
