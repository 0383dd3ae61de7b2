/** Consecutive failed requests through the proxy after which an app is Degraded. */
export const FAILS_TO_DEGRADE = 2;

interface ProbeState {
  failures: number;
  last: string;
  /** A host server the app needs went down; cleared by the next request that gets through. */
  down: string | null;
}

export interface ProbeVerdict {
  health: 'Degraded';
  message: string;
}

/**
 * What requests through the proxy said about each app: its health is Degraded while the last
 * ones failed (or while a server it needs was down and no request got through since).
 * Apps never probed have no verdict: their health is what the pass sees.
 */
export class ProbeBook {
  private readonly byApp = new Map<string, ProbeState>();

  verdict(app: string): ProbeVerdict | null {
    const s = this.byApp.get(app);
    if (!s) return null;
    if (s.down !== null) return { health: 'Degraded', message: s.down };
    if (s.failures >= FAILS_TO_DEGRADE) return { health: 'Degraded', message: `requests through the proxy fail (last: ${s.last})` };
    return null;
  }

  /** Record one probe; true when the app's verdict changed (its status needs a pass). */
  record(app: string, ok: boolean, detail: string): boolean {
    const before = JSON.stringify(this.verdict(app));
    const s = this.byApp.get(app) ?? { failures: 0, last: '', down: null };
    if (ok) {
      s.failures = 0;
      s.down = null;
    } else {
      s.failures++;
    }
    s.last = detail;
    this.byApp.set(app, s);
    return JSON.stringify(this.verdict(app)) !== before;
  }

  /** A server the app needs is down: Degraded until a request through the proxy succeeds. */
  markDown(app: string, reason: string): void {
    const s = this.byApp.get(app) ?? { failures: 0, last: '', down: null };
    s.down = reason;
    this.byApp.set(app, s);
  }

  /** Whether the app waits for a request that gets through to end an outage. */
  isDown(app: string): boolean {
    return (this.byApp.get(app)?.down ?? null) !== null;
  }

  forget(app: string): void {
    this.byApp.delete(app);
  }
}
