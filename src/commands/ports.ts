import { createServer } from 'node:net';
import { userError } from '../lib/errors.js';

function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/**
 * Pick loopback ports for a new release's processes: not held by any release that may run,
 * and free right now (other hop3 instances or programs may share the range).
 */
export async function allocatePorts(names: string[], inUse: Set<number>, range: { from: number; to: number }): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const span = range.to - range.from + 1;
  let candidate = range.from + Math.floor(Math.random() * span);
  for (const name of names) {
    let found = false;
    for (let tries = 0; tries < span && !found; tries++, candidate = range.from + ((candidate - range.from + 1) % span)) {
      if (inUse.has(candidate) || !(await isFree(candidate))) continue;
      out[name] = candidate;
      inUse.add(candidate);
      found = true;
    }
    if (!found) throw userError('PORTS_EXHAUSTED', `no free port left in ${range.from}-${range.to}`, { hint: 'widen HOP3_PORT_RANGE' });
  }
  return out;
}
