import type { DriftFinding } from '../store/drift.js';
import type { DesiredState, HealPolicy, ReleaseRecord } from '../store/types.js';
import type { DesiredResource, Observed, Op } from '../plugins/provider.js';

export type { DriftFinding };

import { UNKNOWN, type Unknown } from '../lib/unknown.js';

export { UNKNOWN, type Unknown };

export interface HealthCheck {
  /** One per instance of the web process: the switch waits until every one answers. */
  urls: string[];
  host: string;
  expectStatus: number;
  timeoutMs: number;
  /** The release's units and their logs: a unit that keeps dying fails the check early. */
  units: { name: string; log: string }[];
}

/** What the records say one app should be, with every config file already rendered. */
export interface DesiredApp {
  app: string;
  state: DesiredState;
  healPolicy: HealPolicy;
  /** Nothing new was asked since the last completed pass: any difference found is drift. */
  settled: boolean;
  /** The release to run: the desired one, or the live one when the desired one failed. */
  target: ReleaseRecord | null;
  health: HealthCheck | null;
  /** The request through the proxy that shows the app serves (host name and path), if it should. */
  probe?: { host: string; path: string };
  /**
   * Everything the app needs on the machine, as resources of registered providers (its files,
   * its processes, its site), paired with what they observe by key.
   */
  resources: DesiredResource[];
}

/** What is really on the machine for one app. */
export interface ObservedApp {
  /**
   * The builder that accepts the pending target's source tree, null when none does; looked at
   * only while the target is pending (accepting reads the tree: observation, not planning).
   */
  builder?: string | null;
  /** What each provider observed, by kind (UNKNOWN: its observation failed as a whole). */
  resources: Map<string, Observed<unknown> | Unknown>;
}

interface Base {
  /** Set when the action repairs drift rather than applying a desired change. */
  drift?: DriftFinding;
}

export type Action = Base &
  (
    /** `builder`: the one observation found accepts the source; null: none does (the build fails). */
    | { type: 'build'; version: number; builder: string | null }
    | { type: 'release-phase'; version: number; commands: string[] }
    | { type: 'await-healthy'; version: number; check: HealthCheck }
    | { type: 'mark-live'; version: number }
    | { type: 'resource'; op: Op; kind: string; name: string; resource: string; desired: unknown; live: unknown }
    /** A repair the resource's supervisor made itself, taken note of (see Provider.selfHealed). */
    | { type: 'acknowledge'; kind: string; name: string; resource: string; live: unknown }
  );

/**
 * The named phases of a pass, in the order their actions run. Zero downtime comes from the
 * order: the new release's resources are created and pass the health gate before the proxy
 * switches to them, and only then is anything of the old release deleted.
 */
export const PHASES = ['build', 'release', 'sync', 'health', 'switch', 'prune', 'live'] as const;
export type Phase = (typeof PHASES)[number];

export interface Plan {
  actions: Action[];
  /** Drift found, including what the heal policy leaves as reported. */
  findings: DriftFinding[];
  /** True when the plan moves the app to a release that is not live yet. */
  rollout: boolean;
}
