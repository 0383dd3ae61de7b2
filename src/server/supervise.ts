import { errorMessage } from '../lib/errors.js';
import type { HostServer } from '../plugins/types.js';
import type { Hop3 } from './hop3.js';

const TICK_MS = 250;
/** After a failed restart (its port taken, say), the next try waits this long. */
const RETRY_MS = 2000;

/**
 * Watch the host servers every app needs (the process supervisor, the proxy's server) and
 * restart one within a tick of its death rather than at the next resync. While it is down the
 * apps that need it show Degraded; once it runs again the outage is recorded as healed drift
 * of each of them.
 */
export function superviseHostServers(h: Hop3, servers: HostServer[]): () => void {
  const lastPid = new Map<string, number>();
  const healing = new Set<string>();
  const outage = new Map<string, { apps: string[]; observed: string }>();
  const retryAt = new Map<string, number>();

  const heal = async (s: HostServer) => {
    healing.add(s.resource);
    try {
      let o = outage.get(s.resource);
      if (!o) {
        const pid = lastPid.get(s.resource);
        const observed = pid ? `pid ${pid} is gone` : 'not running';
        h.log.warn({ server: s.resource, pid }, 'a host server died: restarting it');
        o = { apps: h.reconciler.hostDown(s, `${s.resource} is down (${observed}); restarting it`), observed };
        outage.set(s.resource, o);
      }
      await s.ensureRunning();
      outage.delete(s.resource);
      retryAt.delete(s.resource);
      h.reconciler.hostHealed(s, o.apps, `${o.observed}; restarted`);
    } catch (err) {
      // Tried again shortly; the apps stay Degraded meanwhile.
      retryAt.set(s.resource, Date.now() + RETRY_MS);
      h.log.error({ server: s.resource, err: errorMessage(err) }, 'could not restart a host server');
    } finally {
      healing.delete(s.resource);
    }
  };

  const look = (heals: boolean) => {
    for (const s of servers) {
      if (healing.has(s.resource) || (retryAt.get(s.resource) ?? 0) > Date.now()) continue;
      const pid = s.pid();
      if (pid !== null) lastPid.set(s.resource, pid);
      if (heals && !s.alive()) void heal(s);
    }
  };
  look(false);
  const timer = setInterval(() => look(true), TICK_MS);
  return () => clearInterval(timer);
}
