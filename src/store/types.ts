import type { AppSpec } from '../manifest/types.js';
import type { ScaleCounts } from '../manifest/instances.js';
import type { DriftKind } from './drift.js';
import type { Hop3Event } from './events.js';

export type { DriftKind } from './drift.js';

export type DesiredState = 'running' | 'stopped' | 'paused';
export type SyncStatus = 'Synced' | 'OutOfSync';
export type Health = 'Healthy' | 'Progressing' | 'Degraded' | 'Missing' | 'Unknown';
export type HealPolicy = 'heal' | 'report';
export type ReleaseSource = 'push' | 'rpc' | 'gitops' | 'rollback' | 'config';
export type ReleaseStatus = 'pending' | 'built' | 'live' | 'retired' | 'failed';

export interface AppRecord {
  name: string;
  generation: number;
  observedGeneration: number;
  desiredState: DesiredState;
  desiredRelease: number | null;
  currentRelease: number | null;
  restartCount: number;
  healPolicy: HealPolicy;
  /** Branch whose pushes deploy; null: main or master. */
  deployBranch: string | null;
  owner: string;
  lifecycle: unknown;
  sync: SyncStatus;
  health: Health;
  message: string;
  createdAt: string;
  updatedAt: string;
}

export interface BuildArtifact {
  /**
   * `command`: processes are commands run from the source tree (Node, Go, generic); `rack` and
   * `php`: the same, except the default web process, which the runtime's server plugin runs.
   */
  kind: 'virtualenv' | 'static' | 'command' | 'rack' | 'php';
  /** Release directory holding `src/`, relative to HOP3_HOME. */
  dir: string;
  /** The virtualenv (possibly shared between releases), relative to HOP3_HOME. */
  venv?: string;
  /** `command`, `rack`, `php`: directories (relative to HOP3_HOME) put first on the processes' PATH. */
  path?: string[];
  /** `rack`: the app's own gem directory (GEM_HOME), relative to HOP3_HOME. */
  gems?: string;
  /** `rack`, `php`: the process server's plugin that runs the default web process, as the builder found it. */
  plugin?: string;
  metadata: Record<string, unknown>;
}

export interface ReleaseRecord {
  app: string;
  version: number;
  source: ReleaseSource;
  commit: string | null;
  spec: AppSpec;
  env: Record<string, string>;
  artifact: BuildArtifact | null;
  /** Loopback port by process instance (`web`, `web.2`: see instanceName). */
  ports: Record<string, number>;
  /** Instances by process type this release runs (`hop3 scale`); absent or unlisted: one. */
  scale?: ScaleCounts;
  /** The branch a push deployed (`refs/heads/...`); null for other sources. */
  ref?: string | null;
  status: ReleaseStatus;
  message: string;
  createdAt: string;
}

export interface DriftRecord {
  app: string;
  resource: string;
  kind: DriftKind;
  desired: string;
  observed: string;
  detectedAt: string;
  action: 'healed' | 'reported';
}

export type EventRecord = Hop3Event & {
  id: number;
  app: string | null;
  at: string;
};

/** An addon instance: its type (an addon plugin's) and its password, sealed (see credentials.ts). */
export interface AddonRecord {
  name: string;
  type: string;
  credentials: string;
  createdAt: string;
}

export interface AttachmentRecord {
  addon: string;
  app: string;
  /** The variable the app gets the connection URL in. */
  env: string;
  /** The app's own login's password, sealed (see credentials.ts); null for an attachment recorded before apps had their own. */
  credentials: string | null;
  createdAt: string;
}

/**
 * A detached app's login, to be dropped (see state/008_login_tombstones.sql): what was its
 * attachment, with its addon's type (which server, which kind of login).
 */
export interface LoginTombstone {
  id: number;
  addon: string;
  type: string;
  app: string;
  /** The login's password, sealed as it was in the attachment. */
  credentials: string;
  createdAt: string;
}
