import type { Logger } from '../lib/logger.js';
import type { Health } from '../store/types.js';
import type { Unknown } from '../lib/unknown.js';

/**
 * Resources and providers (DESIGN.md): everything hop3 manages is a resource with a key
 * `{kind, name}`, owned by an app (or the host). Each kind belongs to one provider, in the shape
 * of Pulumi's ResourceProvider: observe what is live, diff it against what is desired, apply a
 * create, update, replace or delete. The planner pairs desired and live resources by key.
 */

export interface ResourceKey {
  kind: string;
  /** Unique within its kind, across owners (e.g. an app's name, a unit's name). */
  name: string;
}

export const keyOf = (k: ResourceKey): string => `${k.kind}:${k.name}`;

/** A resource as the records say it should be. `spec` is plain data: rendered, never I/O. */
export interface DesiredResource<D = unknown> extends ResourceKey {
  spec: D;
}

export type Diff = 'none' | 'update' | 'replace';
export type Op = 'create' | 'update' | 'replace' | 'delete';

/**
 * When a provider's creates and updates run within a pass: `sync` before the health gate (what
 * the new release needs), `switch` with the proxy switch. Deletes run in `prune`, after the
 * switch: create before delete.
 */
export type ApplyPhase = 'sync' | 'switch';

/** What an apply gets besides the resource: the owner, the pass's abort signal, a logger. */
export interface ApplyContext {
  owner: string;
  log: Logger;
  /** Aborted when the release this pass rolls out is cancelled, or the daemon stops. */
  signal?: AbortSignal;
}

/** Live state of each resource by name: null is absent, UNKNOWN could not be looked at. */
export type Observed<L> = Map<string, L | null | Unknown>;

export interface Provider<D = unknown, L = unknown> {
  kind: string;
  phase: ApplyPhase;
  /**
   * Look at the owner's resources of this kind: every desired name gets an entry, and live
   * resources of the owner that are not desired are listed too (they are pruned).
   * An observation that fails makes the resource UNKNOWN; it must never read as absent.
   */
  observe(owner: string, desired: DesiredResource<D>[]): Promise<Observed<L>>;
  /** Pure. */
  diff(desired: D, live: L): Diff;
  /** Idempotent: applying the same op twice changes nothing more. */
  apply(op: Op, name: string, desired: D | null, live: L | null, ctx: ApplyContext): Promise<void>;
  /** One line for drift reports and dry runs (no secrets). */
  describe(value: D | L): string;
  /** How healthy a live resource is, when that says more than present/absent. */
  health?(live: L): Health;
}
