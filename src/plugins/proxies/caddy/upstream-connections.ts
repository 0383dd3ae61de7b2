import { readFile } from 'node:fs/promises';
import type { Json } from './config.js';

/** The loopback ports a route proxies to (its `reverse_proxy` upstreams). */
export function upstreamPortsOf(route: Json | undefined): number[] {
  if (Array.isArray(route)) return route.flatMap(upstreamPortsOf);
  if (route === null || typeof route !== 'object') return [];
  const dial = typeof route.dial === 'string' ? /^127\.0\.0\.1:(\d+)$/.exec(route.dial) : null;
  return [...(dial ? [Number(dial[1])] : []), ...Object.values(route).flatMap(upstreamPortsOf)];
}

/**
 * Open TCP connections to 127.0.0.1 on one of `ports`, from the kernel's tables: a request
 * Caddy still proxies there holds one, ESTABLISHED (01); a connection Caddy has begun to close
 * carries no request any more, and TIME_WAIT or a listener none at all.
 */
export async function connectionsTo(ports: ReadonlySet<number>): Promise<number> {
  if (ports.size === 0) return 0;
  let n = 0;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    // Read without blocking the daemon: the tables grow with every connection on the machine.
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      const remote = f[2];
      const state = f[3];
      if (!remote || !state || state !== '01') continue;
      const [addr = '', port = ''] = remote.split(':');
      const loopback = addr === '0100007F' || addr === '0000000000000000FFFF00000100007F';
      if (loopback && ports.has(parseInt(port, 16))) n++;
    }
  }
  return n;
}
