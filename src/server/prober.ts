import PQueue from 'p-queue';
import { errorMessage } from '../lib/errors.js';
import { httpGet } from '../lib/http-get.js';
import type { Hop3 } from './hop3.js';

/** Requests in flight at once, across apps. */
const CONCURRENCY = 4;
/** A failed request is repeated this soon, so one blip does not wait a whole period. */
const RETRY_MS = 1000;
const TICK_MS = 250;

/** One request through the proxy: any answer below 500 means the path to the app works. */
async function probeOnce(port: number, host: string, path: string, timeoutMs: number): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await httpGet(`http://127.0.0.1:${port}${path}`, host, timeoutMs, { statusOnly: true });
    return { ok: res.status < 500, detail: `HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, detail: errorMessage(err) };
  }
}

/**
 * Health from looking: every running app gets a GET through the proxy with its host name, on
 * its health check path (a static site on /), once per HOP3_PROBE_SECONDS, spread over the
 * period and a few at a time, outside the reconcile passes. A changed verdict (failing, or getting through again) makes a pass record the health.
 */
export function startProber(h: Hop3): () => Promise<void> {
  const period = h.config.probeMs;
  const timeoutMs = Math.min(2000, period);
  const queue = new PQueue({ concurrency: CONCURRENCY });
  const next = new Map<string, number>();
  const inFlight = new Set<string>();
  let stopped = false;

  const tick = () => {
    const now = Date.now();
    const targets = h.reconciler.probeTargets();
    const current = new Set(targets.map((t) => t.app));
    for (const app of next.keys()) if (!current.has(app)) next.delete(app);
    // After an outage, the apps it touched are asked first: their health waits on it.
    for (const app of h.reconciler.outageApps()) if (!inFlight.has(app)) next.set(app, Math.min(next.get(app) ?? now, now));
    for (const { app, host, path } of targets) {
      // A new app's first request lands somewhere in the period, so 1000 apps do not all go at once.
      if (!next.has(app)) next.set(app, now + Math.floor(Math.random() * period));
      if (next.get(app)! > now || inFlight.has(app)) continue;
      inFlight.add(app);
      void queue.add(async () => {
        const { ok, detail } = await probeOnce(h.config.httpPort, host, path, timeoutMs);
        inFlight.delete(app);
        if (stopped) return;
        next.set(app, Date.now() + (ok ? period : Math.min(period, RETRY_MS)));
        h.reconciler.probed(app, ok, detail);
      });
    }
  };
  const timer = setInterval(tick, Math.min(TICK_MS, period));

  return async () => {
    stopped = true;
    clearInterval(timer);
    queue.clear();
    await queue.onIdle();
  };
}
