import type { DriftFinding } from './drift.js';

/** Every kind of event hop3 records, with its payload. The CLI renders each one. */
export type Hop3Event =
  | { kind: 'release.created'; data: { release: number; source: string } }
  | { kind: 'build.started'; data: { release: number; builder: string } }
  | { kind: 'build.succeeded'; data: { release: number; artifact: string } }
  | { kind: 'output'; data: { release: number; phase: string; line: string } }
  | { kind: 'release.live'; data: { release: number } }
  | { kind: 'release.failed'; data: { release: number; code: string; message: string; hint?: string } }
  | { kind: 'config.changed'; data: { set?: string[]; unset?: string[]; restoredFrom?: number } }
  /** `hop3 scale`: the counts asked for (process type → instances). */
  | { kind: 'app.scaled'; data: { counts: Record<string, number> } }
  | { kind: 'drift'; data: DriftFinding }
  | { kind: 'app.destroyed'; data: Record<string, never> }
  /** Attached to an addon: its processes get the URL in `env` (the URL itself is never in an event). */
  | { kind: 'addon.attached'; data: { addon: string; env: string } }
  /** `manifest`: its [[addons]] entry was removed from hop3.toml (the addon itself is kept). */
  | { kind: 'addon.detached'; data: { addon: string; env: string; reason?: 'manifest'; /** Recorded before apps had logins of their own: it shared the addon's password. */ shared?: true } }
  | { kind: 'push.unlanded'; data: { release: number; commit: string; branches: string[] } }
  | { kind: 'cert.renewal-requested'; data: { requestedAt: string } }
  /** A certificate replaced for a reason that is no drift (its window, a request, new names). */
  | { kind: 'cert.renewed'; data: { names: string[]; notAfter: string; reasons: string[] } }
  /** An issuance failed (once per distinct failure); `standIn`: a self-signed stand-in serves meanwhile. */
  | { kind: 'cert.failed'; data: { names: string[]; code: string; message: string; hint?: string; standIn: boolean } }
  /**
   * One run of a cron entry: how it ended and the tail of its output (control characters
   * replaced, bounded; `dropped` lines not kept). `unobserved`: it ran under a hop3-server that was
   * killed, so its exit status and output were not seen.
   */
  | { kind: 'cron.ran'; data: { process: string; release: number; schedule: string; startedAt: string; seconds: number; outcome: CronOutcome; exitCode: number | null; output: string[]; dropped: number } };

export type CronOutcome = 'succeeded' | 'failed' | 'timed-out' | 'stopped' | 'unobserved';

export type EventKind = Hop3Event['kind'];
