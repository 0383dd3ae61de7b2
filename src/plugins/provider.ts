import type { Logger } from '../lib/logger.js';
import type { Health } from '../store/types.js';
import type { Unknown } from '../lib/unknown.js';
import type { Layout } from '../lib/layout.js';
import type { Hop3Event } from '../store/events.js';

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
  /** Record an event of the owner (a certificate renewed): what an apply did that is no drift. */
  event?: (e: Hop3Event) => void;
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
  /**
   * Its observe looks only at the desired resources it is given and lists no others (it never
   * prunes) but those `hasRetired` says the owner has: with none of either it has nothing to look
   * at, so it is not asked. The conformance test holds it to that.
   */
  observesDesiredOnly?: boolean;
  /**
   * Cheap and synchronous (no I/O beyond records kept in memory): whether the owner has resources
   * the records retired that observe lists besides the desired ones (see `retired`).
   */
  hasRetired?(owner: string): boolean;
  /** Pure. */
  diff(desired: D, live: L): Diff;
  /**
   * Pure. A difference that time or the records bring about (a certificate inside its renewal
   * window, a renewal asked for), not one made behind hop3's back: it is applied whatever the
   * heal policy and is not drift. Absent: every difference outside a desired change is drift.
   */
  expected?(desired: D, live: L): boolean;
  /** Idempotent: applying the same op twice changes nothing more. */
  apply(op: Op, name: string, desired: D | null, live: L | null, ctx: ApplyContext): Promise<void>;
  /** One line for drift reports and dry runs (no secrets). */
  describe(value: D | L): string;
  /** How healthy a live resource is, when that says more than present/absent. */
  health?(live: L): Health;
  /**
   * A live resource that is there only in part (a config without its link): its repair is
   * reported as `missing` rather than `changed`.
   */
  partial?(live: L): boolean;
  /**
   * A live resource whose data is gone (a database dropped by hand): its repair recreates it
   * empty, so the heal policy decides even in a pass that applies a desired change or a rollout.
   */
  dataLost?(live: L): boolean;
  /**
   * Kinds whose resources may still send work to this one (a proxy site to a process): while
   * any of them is UNKNOWN nothing of this kind is deleted, and a delete first waits for their
   * provider's `settle()`.
   */
  retireAfter?: readonly string[];
  /** Resolves once what earlier applies replaced has finished its work (requests drained). */
  settle?(): Promise<void>;
  /**
   * Pure. A live resource the records retired (a detached app's login, kept as a tombstone until
   * it is seen gone): its delete is a desired change, applied whatever the heal policy, not drift.
   */
  retired?(live: L): boolean;
  /**
   * A resource of this kind that is no longer desired may be deleted by a later pass: while one
   * cannot be seen, a rollout goes on (nothing of the kind is deleted unseen) instead of waiting.
   * One that is desired and cannot be seen still holds the rollout back.
   */
  retiresLater?: boolean;
  /**
   * Only deletes: its desired resources say what to keep (a release directory is made by its
   * build, not by this provider). Its deletes are policy, not drift.
   */
  pruneOnly?: boolean;
  /**
   * A change the resource's own supervisor already repaired (a process it restarted): recorded
   * once as healed drift whatever the heal policy, then acknowledged so it is not found again.
   */
  selfHealed?(name: string, live: L): SelfHealed | null;
  acknowledge?(name: string, live: L): void;
  /** Drop what the provider remembers of an owner (after destroy). */
  forget?(owner: string): void;
  /** Directories its resources live in, watched for changes made behind hop3's back. */
  watchPaths?(): string[];
  /** The owner of a file in one of its watchPaths, or null when the file is not one of its own. */
  ownerOf?(path: string): string | null;
  /** Every owner that has resources of this kind on the machine (found even without a record). */
  owners?(): string[];
  /**
   * Call `onChange(owner)` when what is live changed on its own in a way no watched file or
   * process shows (a proxy config changed through the proxy's own API). Returns the unsubscribe.
   */
  watch?(onChange: (owner: string) => void): () => void;
  /** Present when its resources belong to the host rather than to an app (see HostResources). */
  host?: HostResources;
  /** How the conformance test round-trips this provider (tests/unit/plugins-conformance.test.ts). */
  conformance?: ConformanceFixture;
}

/**
 * Resources of the host (a server every app of some kind needs: the process supervisor, the
 * proxy's server, an addon server): the host pass observes, plans and applies them like an app's,
 * at start before any app pass, whenever `glance` changes, and on every resync.
 */
export interface HostResources {
  /** Pure: the host resources of this kind that should exist (none when running them is not hop3's business). */
  desired(): DesiredResource[];
  /**
   * Kinds of app resources that need these running: while one is down, the apps that have such a
   * resource are Degraded, and once it runs again the outage is healed drift of each (resource:
   * this provider's kind).
   */
  neededBy: readonly string[];
  /**
   * Cheap and synchronous (a pid file and /proc, no spawn): a token that changes whenever what
   * `observe` would see may have changed. Looked at every 250 ms; a change triggers a host pass.
   */
  glance(): string;
}

/** What a supervisor repaired by itself, as a drift finding says it. */
export interface SelfHealed {
  resource: string;
  desired: string;
  observed: string;
}

/**
 * What the conformance test needs to round-trip a provider: create → observe → diff is none;
 * delete → observe is absent; an unreadable target observes as UNKNOWN.
 */
export interface ConformanceFixture {
  /** A desired resource of the provider's kind for `owner`, under `layout`. */
  sample(layout: Layout, owner: string): DesiredResource;
  /** Make what observe reads of `r` unreadable (hop3 runs as root: file modes would not do). */
  breakTarget(r: DesiredResource): void;
  repairTarget(r: DesiredResource): void;
  /** Its observation needs a running host server: round-tripped in tests/integration/providers.test.ts. */
  needsServer?: boolean;
}
