import PQueue from 'p-queue';
import { asHop3Error, isTerminal } from '../lib/errors.js';
import type { DeployStep } from '../lifecycle/machine.js';
import type { AppRecord, Health, ReleaseStatus, SyncStatus } from '../store/types.js';
import { desiredApp, targetRelease } from './desired.js';
import { acceptingBuilder, execute, interrupted, SHUTDOWN, type ExecContext } from './execute.js';
import { observeResources } from './observe.js';
import { plan } from './plan.js';
import { ProbeBook } from './probes.js';
import type { Action, DesiredApp, DriftFinding, ObservedApp, Plan } from './types.js';
import { UNKNOWN } from './types.js';
import { WorkQueue, type PassOutcome } from './work-queue.js';
import type { ReconcilerDeps } from './deps.js';
import type { Provider } from '../plugins/provider.js';
import { HOST_OWNER, HostPass, type HostPassResult } from './host-pass.js';

/** The lifecycle step an action of a rollout belongs to. */
function stepOf(action: Action, providerOf: (kind: string) => Provider | undefined): DeployStep | null {
  switch (action.type) {
    case 'build': return 'building';
    case 'release-phase': return 'releasing';
    case 'await-healthy': return 'verifying';
    case 'resource': {
      if (action.op === 'delete') return 'retiring';
      const p = providerOf(action.kind);
      // A kind with a health of its own runs (a process); the others are configuration.
      return p?.phase === 'switch' ? 'switching' : p?.health ? 'starting' : 'configuring';
    }
    default: return null;
  }
}

/** How an action is named in logs: its type, or for a resource its op and kind. */
const actionName = (a: Action) => (a.type === 'resource' ? `${a.op}:${a.kind}` : a.type);

/** Passes that may run at once (each app one at a time); its builds are limited separately. */
const PASS_CONCURRENCY = 16;
/** The long, heavy actions: HOP3_DEPLOY_CONCURRENCY of them at a time, across apps. */
const HEAVY: ReadonlySet<Action['type']> = new Set(['build', 'release-phase']);

/**
 * A pass that leaves an app Progressing (it acted, or a process is not up yet) looks again this
 * soon: the change it waits for (a respawn, a readiness flip) may already have been signalled
 * before the pass ran, so no trigger would come.
 */
const PROGRESSING_REQUEUE_MS = 500;
/** Every app waits on the host's servers: a start that fails (its port taken) is tried again soon. */
const HOST_RETRY_MAX_MS = 2000;

/** Figures of the last pass, for tests and benchmarks. */
export interface PassResult {
  app: string;
  actions: Action[];
  findings: DriftFinding[];
  error: string | null;
}

/**
 * Observe → plan → execute, per app, level-triggered. A trigger only names an app: every pass
 * reads the records and looks at the machine afresh.
 */
export class Reconciler {
  private readonly d: ReconcilerDeps;
  private readonly queue: WorkQueue;
  /** Reported findings already recorded, so a standing one is not written on every pass. */
  private readonly reported = new Map<string, Set<string>>();
  /** Rendered desired state per app, reused while the records behind it are unchanged. */
  private readonly desiredCache = new Map<string, { key: string; desired: DesiredApp }>();
  readonly lastPass = new Map<string, PassResult>();
  /** The rollout in flight per app, so cancelling its release stops it. */
  private readonly rollouts = new Map<string, { version: number; abort: AbortController }>();
  /** Builds and release commands wait here, so a few long builds never hold up drift repair. */
  private readonly heavy: PQueue;
  /** What requests through the proxy said, per app (filled by the prober, outside the passes). */
  private readonly probes = new ProbeBook();
  /** The `host` owner: the servers every app of some kind needs. */
  private readonly host: HostPass;

  constructor(deps: ReconcilerDeps) {
    this.d = deps;
    this.heavy = new PQueue({ concurrency: deps.config.deployConcurrency });
    this.host = new HostPass(deps.plugins.hostProviders, deps.log, {
      down: (kinds, reason) => this.hostDown(kinds, reason),
      healed: (kind, apps, observed) => this.hostHealed(kind, apps, observed),
    });
    this.queue = new WorkQueue((key) => (key === HOST_OWNER ? this.host.run() : this.pass(key)), {
      concurrency: Math.max(PASS_CONCURRENCY, deps.config.deployConcurrency),
      maxDelayFor: (key) => (key === HOST_OWNER ? HOST_RETRY_MAX_MS : undefined),
      onError: (app, err, retry) => {
        const e = asHop3Error(err);
        deps.log.warn({ [app === HOST_OWNER ? 'owner' : 'app']: app, code: e.code, err: e.message, retryInMs: retry }, 'reconcile failed; will retry');
      },
    });
  }

  /** A desired change or a step of a rollout: pass now, even if the app is backing off. */
  trigger(app: string): Promise<void> {
    return this.queue.trigger(app);
  }

  /** Something changed on the machine: pass soon, but an app backing off waits for its retry. */
  notice(app: string): Promise<void> {
    return this.queue.trigger(app, { respectBackoff: true });
  }

  /** Something may have changed on the host (a server's pid): a host pass soon, after its backoff. */
  noticeHost(): Promise<void> {
    return this.queue.trigger(HOST_OWNER, { respectBackoff: true });
  }

  /** The periodic resync: the host and every app, each after its backoff. */
  triggerAll(): Promise<void> {
    const { store } = this.d;
    const ahead = store.readAheadForPasses();
    return Promise.all([this.noticeHost(), ...store.appNames().map((a) => this.notice(a))]).then(() => undefined).finally(() => store.endReadAhead(ahead));
  }

  /**
   * At daemon start, before any trigger: one host pass (the servers apps need are started or
   * adopted). Throws what kept one from starting (its port taken), so the daemon stops there.
   */
  async startHost(): Promise<void> {
    await this.host.run();
  }

  /** What the last host pass planned and whether it failed. */
  get lastHostPass(): HostPassResult | null {
    return this.host.last;
  }

  /**
   * Stop the rollout of a release that was just failed in the records (cancelled): its build or
   * release command is killed, and the next pass retires whatever it started.
   */
  abortRollout(app: string, version: number): void {
    const r = this.rollouts.get(app);
    if (r?.version === version) {
      r.abort.abort();
      return;
    }
    const { lifecycles, store } = this.d;
    if (lifecycles.state(app).startsWith('deploying')) lifecycles.send(app, { type: 'FAIL', serving: store.getApp(app)?.currentRelease != null });
    void this.trigger(app);
  }

  /**
   * Stop taking work. Rollouts in flight are interrupted (a health check that drips, a long
   * build), not failed: their releases resume at the next start.
   */
  close(): Promise<void> {
    const closing = this.queue.close();
    for (const r of this.rollouts.values()) r.abort.abort(SHUTDOWN);
    return closing;
  }

  /** `desiredStatus`: the desired release's status when the app's record was read with it. */
  private desired(app: AppRecord, desiredStatus?: ReleaseStatus | null): DesiredApp {
    // Only the target's status to tell whether the cached desired state still holds: a release
    // record is immutable but for its status, and parsing one is most of a converged pass.
    const status = (v: number) => (v === app.desiredRelease && desiredStatus ? { version: v, status: desiredStatus } : this.d.store.releaseStatus(app.name, v));
    const look = targetRelease(app, status);
    const key = `${app.generation}/${app.observedGeneration}/${app.desiredState}/${look?.version}/${look?.status}`;
    const cached = this.desiredCache.get(app.name);
    if (cached?.key === key) return cached.desired;
    const target = look && this.d.store.getRelease(app.name, look.version);
    // A renewal request bumps the generation, so the key above covers it.
    const { store, plugins } = this.d;
    const attached = plugins.addons.attached(store.attachments({ app: app.name }), (addon) => store.getAddon(addon));
    const desired = desiredApp(app, target, plugins, this.d.config, store.listReleases(app.name), store.certRenewalRequestedAt(app.name), attached);
    this.desiredCache.set(app.name, { key, desired });
    return desired;
  }

  /**
   * Desired state for an app that has no record: nothing at all. A destroy removes everything
   * before it deletes the record, so whatever is left is drift (unexpected), and is removed.
   */
  private nothing(name: string): DesiredApp {
    return {
      app: name, state: 'stopped', healPolicy: 'heal', settled: true, target: null, health: null, resources: [],
    };
  }

  /** Plan one app without acting (used by tests and the benchmark). */
  async dryRun(name: string, app = this.d.store.getApp(name), desiredStatus?: ReleaseStatus | null): Promise<{ desired: DesiredApp; observed: ObservedApp; plan: Plan }> {
    const desired = app ? this.desired(app, desiredStatus) : this.nothing(name);
    const observed: ObservedApp = { resources: await observeResources(this.d.plugins.providers, name, desired.resources) };
    const pending = desired.state === 'running' && desired.target?.status === 'pending' ? desired.target : null;
    if (pending) observed.builder = acceptingBuilder({ ...this.d, app: name }, pending);
    return { desired, observed, plan: plan(desired, observed, this.d.plugins.providers) };
  }

  private async pass(name: string): Promise<PassOutcome> {
    const { store, lifecycles } = this.d;
    const read = store.getAppForPass(name);
    const app = read?.app ?? null;
    let run;
    try {
      run = await this.dryRun(name, app, read?.desiredStatus);
    } catch (err) {
      // A release whose configs cannot be rendered never goes live; anything else is retried.
      const target = app && targetRelease(app, (v) => store.getRelease(name, v));
      if (!app || !target || target.status === 'live' || !isTerminal(err)) throw err;
      await this.failRelease(app, target.version, err);
      return;
    }
    const { desired, observed, plan: p } = run;
    const target = desired.target;

    const rolling = app && p.rollout && target ? { version: target.version, abort: new AbortController() } : null;
    if (rolling) {
      if (!lifecycles.state(name).startsWith('deploying')) lifecycles.send(name, { type: 'DEPLOY' });
      this.rollouts.set(name, rolling);
      // Cancelled before this pass registered itself: the records already say so.
      if (store.getRelease(name, rolling.version)?.status === 'failed') rolling.abort.abort();
    }
    let failure: unknown = null;
    let done = 0;
    try {
      if (p.actions.length > 0) ({ failure, done } = await this.apply(name, p.actions, rolling));
    } finally {
      if (rolling) this.rollouts.delete(name);
    }
    if (p.findings.length > 0) this.record(name, p.findings, p.actions.slice(0, done), failure ? { action: p.actions[done], error: asHop3Error(failure).message } : null);
    else this.reported.delete(name); // nothing stands
    this.remember(name, p, failure);
    if (!app) return;

    if (failure && rolling && isTerminal(failure)) {
      await this.failRelease(app, rolling.version, failure);
      this.status(app, desired, observed, asHop3Error(failure).message);
      return;
    }
    if (failure) {
      this.status(app, desired, observed, asHop3Error(failure).message);
      throw failure;
    }
    if (p.actions.some((a) => a.type === 'build')) {
      // Half a rollout: the generation is seen through only once the release is live or failed.
      this.status(app, desired, observed, null, true, false);
      void this.trigger(name); // built: the next pass rolls the release out
      return;
    }
    this.settleLifecycle(name, desired, p.rollout);
    // A new release that passed its health check starts with a clean slate: what requests got
    // through to the old one says nothing about it.
    if (p.rollout || desired.state !== 'running') this.probes.forget(name);
    const health = this.status(app, desired, observed, null, p.actions.length > 0);
    return health === 'Progressing' ? { requeueAfter: PROGRESSING_REQUEUE_MS } : undefined;
  }

  /**
   * The new release never took traffic: mark it failed (unless it was cancelled, which did);
   * the next pass retires its processes.
   */
  private async failRelease(app: AppRecord, version: number, err: unknown): Promise<void> {
    const { store, lifecycles } = this.d;
    const e = asHop3Error(err);
    const failed = store.failRelease(app.name, version, e.message);
    // What the failure pushes past retention goes before anyone hears of it (the follower of the
    // deploy reads the directories next), so the same pass prunes it.
    await this.retain(app.name);
    if (failed) store.addEvent(app.name, 'release.failed', { release: version, code: e.code, message: e.message, hint: e.hint });
    lifecycles.send(app.name, { type: 'FAIL', serving: app.currentRelease !== null && app.currentRelease !== version });
    void this.trigger(app.name);
  }

  /** Observe, plan and apply only what retention prunes (the providers that only delete). */
  private async retain(name: string): Promise<void> {
    const app = this.d.store.getApp(name);
    if (!app) return;
    try {
      const providers = this.d.plugins.providers.filter((p) => p.pruneOnly);
      const desired = this.desired(app);
      const observed: ObservedApp = { resources: await observeResources(providers, name, desired.resources) };
      const ctx: ExecContext = { ...this.d, app: name };
      for (const action of plan(desired, observed, providers).actions) {
        if (action.type === 'resource' && action.op === 'delete') await execute(ctx, action);
      }
    } catch (err) {
      // The next pass plans the same prune again.
      this.d.log.warn({ app: name, err: asHop3Error(err).message }, 'retention could not prune yet');
    }
  }

  /** Run a plan's actions in order, up to the first that fails. */
  private async apply(name: string, actions: Action[], rolling: { version: number; abort: AbortController } | null): Promise<{ failure: unknown; done: number }> {
    const { lifecycles, log } = this.d;
    const ctx: ExecContext = { ...this.d, app: name, signal: rolling?.abort.signal };
    const providerOf = (kind: string) => this.d.plugins.providers.find((pr) => pr.kind === kind);
    let done = 0;
    for (const action of actions) {
      if (rolling?.abort.signal.aborted) return { failure: interrupted(rolling.abort.signal, rolling.version), done };
      const step = stepOf(action, providerOf);
      if (rolling && step) lifecycles.send(name, { type: 'STEP', step });
      try {
        await (HEAVY.has(action.type) ? this.heavy.add(() => execute(ctx, action)) : execute(ctx, action));
        done++;
        if (action.type !== 'acknowledge') log.debug({ app: name, action: actionName(action) }, 'action done');
      } catch (err) {
        return { failure: rolling?.abort.signal.aborted ? interrupted(rolling.abort.signal, rolling.version) : err, done };
      }
    }
    return { failure: null, done };
  }

  private remember(name: string, p: Plan, failure: unknown): void {
    const error = failure ? asHop3Error(failure).message : null;
    const last = this.lastPass.get(name);
    // A converged pass like the last one keeps its record: one kept per app and pass would be
    // garbage the heap grows for.
    if (last && error === null && last.error === null && p.actions.length === 0 && last.actions.length === 0 && p.findings.length === 0 && last.findings.length === 0) return;
    this.lastPass.set(name, { app: name, actions: p.actions, findings: p.findings, error });
  }

  /** Move the machine to where a completed pass left the app. */
  private settleLifecycle(name: string, desired: DesiredApp, rollout: boolean): void {
    const { lifecycles } = this.d;
    const state = lifecycles.state(name);
    if (desired.state === 'stopped') {
      if (state !== 'stopped') lifecycles.send(name, { type: 'STOP' });
      return;
    }
    if (desired.target?.status !== 'live' && !rollout) return;
    if (state === 'stopped' || state === 'failed') lifecycles.send(name, { type: 'DEPLOY' });
    if (lifecycles.state(name).startsWith('deploying')) lifecycles.send(name, { type: 'DEPLOYED' });
    if (desired.state === 'paused' && lifecycles.state(name) === 'running') lifecycles.send(name, { type: 'PAUSE' });
    if (desired.state === 'running' && state === 'paused') lifecycles.send(name, { type: 'RESUME' });
  }

  /**
   * Record drift: healed findings once their action ran, reported ones once while they stand. A
   * repair that failed (a CA that does not answer) is reported, with why, once while it stands.
   */
  private record(app: string, findings: DriftFinding[], done: Action[], failed: { action: Action | undefined; error: string } | null): void {
    const healed = new Set(done.map((a) => a.drift).filter(Boolean));
    const standing = new Set<string>();
    const before = this.reported.get(app) ?? new Set<string>();
    const unhealed = failed?.action?.drift;
    if (unhealed) findings = findings.map((f) => (f === unhealed ? { ...f, action: 'reported', observed: `${f.observed}; repair failed: ${failed.error}` } : f));
    for (const f of findings) {
      if (f.action === 'healed') {
        if (!healed.has(f)) continue;
        this.d.store.addDrift({ app, ...f });
        this.d.store.addEvent(app, 'drift', { ...f });
        continue;
      }
      const key = `${f.resource}|${f.kind}|${f.observed}`;
      standing.add(key);
      if (before.has(key)) continue;
      this.d.store.addDrift({ app, ...f });
      this.d.store.addEvent(app, 'drift', { ...f });
    }
    this.reported.set(app, standing);
  }

  /**
   * Record what the pass saw and did; `app` is the record the pass started from. `complete`:
   * the pass saw the desired state through (not a build that a rollout pass still follows).
   */
  private status(app: AppRecord, desired: DesiredApp, observed: ObservedApp, error: string | null, acted = false, complete = true): Health {
    // A pass that changed nothing (the common, converged case) reads nothing more.
    const changed = acted || error !== null;
    const fresh = changed ? (this.d.store.getApp(app.name) ?? app) : app;
    const target = changed ? targetRelease(fresh, (v) => this.d.store.getRelease(app.name, v)) : desired.target;
    const wanted = fresh.desiredRelease === null ? null
      : fresh.desiredRelease === target?.version ? target : this.d.store.getRelease(app.name, fresh.desiredRelease);
    let health: Health = 'Healthy';
    let message = '';
    const sync: SyncStatus = error === null && (wanted === null || wanted.status !== 'failed') ? 'Synced' : 'OutOfSync';
    if (wanted?.status === 'failed') message = `release v${wanted.version} failed: ${wanted.message}`;
    if (error !== null) message = error;
    if (desired.state === 'stopped' || (desired.state === 'paused' && target?.status === 'live')) {
      health = 'Missing';
      message ||= desired.state === 'paused' ? 'paused: the proxy answers 503 for it' : 'stopped';
    } else if (!target || target.status !== 'live') {
      health = error !== null || wanted?.status === 'failed' ? 'Degraded' : target ? 'Progressing' : 'Missing';
      message ||= target ? `deploying v${target.version}` : 'no release deployed';
    } else if (error !== null) {
      health = 'Degraded';
    } else {
      // A failed new release leaves the app OutOfSync, but its health is the live release's.
      health = this.resourceHealth(desired, observed, acted);
      // A request through the proxy is the last word: files and processes can look fine while it fails.
      const probe = desired.state === 'running' ? this.probes.verdict(app.name) : null;
      if (probe) {
        health = probe.health;
        message = probe.message;
      }
    }
    const next = {
      sync, health, message,
      // Only a pass that completed has seen its generation through; after a failure the next pass
      // still applies it as a desired change (not drift).
      observedGeneration: error === null && complete ? app.generation : fresh.observedGeneration,
      currentRelease: target?.status === 'live' ? target.version : fresh.currentRelease,
    };
    const same = (Object.keys(next) as (keyof typeof next)[]).every((k) => fresh[k] === next[k]);
    if (!same) this.d.store.setStatus(app.name, next);
    return health;
  }

  /**
   * The worst of the desired resources: anything that could not be observed makes it Unknown; a
   * provider that says more than present or absent (a process that keeps dying) is asked.
   */
  private resourceHealth(desired: DesiredApp, observed: ObservedApp, acted: boolean): Health {
    let health: Health = 'Healthy';
    for (const p of this.d.plugins.providers) {
      const live = observed.resources.get(p.kind);
      if (live === undefined) continue;
      if (live === UNKNOWN) return 'Unknown';
      for (const r of desired.resources) {
        if (r.kind !== p.kind) continue;
        const seen = live.get(r.name);
        if (seen === UNKNOWN) return 'Unknown';
        if (!p.health) continue;
        const h = seen == null ? 'Progressing' : p.health(seen);
        if (h === 'Unknown' || h === 'Degraded') return h;
        if (h === 'Progressing' || acted) health = 'Progressing';
      }
    }
    return health;
  }

  /** Apps that should answer a request through the proxy, with the host name and path to ask for. */
  probeTargets(): { app: string; host: string; path: string }[] {
    const targets: { app: string; host: string; path: string }[] = [];
    for (const [app, { desired }] of this.desiredCache) {
      if (desired.state === 'running' && desired.target?.status === 'live' && desired.probe) targets.push({ app, ...desired.probe });
    }
    return targets;
  }

  /** A request through the proxy answered (ok) or failed; a changed verdict makes a pass record it. */
  probed(app: string, ok: boolean, detail: string): void {
    if (this.probes.record(app, ok, detail)) void this.notice(app);
  }

  /** Apps that wait for a request to get through to end an outage (probed first). */
  outageApps(): string[] {
    return this.probeTargets().map((t) => t.app).filter((a) => this.probes.isDown(a));
  }

  /**
   * A host resource is down (the process supervisor, the proxy's server): every running app with
   * a resource of one of `kinds` shows the outage (Degraded) until a request through the proxy
   * gets through again. Returns those apps.
   */
  private hostDown(kinds: readonly string[], reason: string): string[] {
    const apps: string[] = [];
    for (const [app, { desired }] of this.desiredCache) {
      const needs = desired.resources.some((r) => kinds.includes(r.kind));
      if (!needs || desired.state !== 'running') continue;
      apps.push(app);
      this.probes.markDown(app, reason);
      void this.notice(app);
    }
    return apps;
  }

  /** It runs again: the outage is drift of each app it touched, healed. */
  private hostHealed(resource: string, apps: string[], observed: string): void {
    for (const app of apps) {
      if (!this.d.store.getApp(app)) continue;
      const f: DriftFinding = { resource, kind: 'missing', desired: 'running', observed, action: 'healed' };
      this.d.store.addDrift({ app, ...f });
      this.d.store.addEvent(app, 'drift', { ...f });
      void this.notice(app);
    }
  }

  /** Drop what the reconciler remembers of an app (after destroy). */
  forget(app: string): void {
    this.probes.forget(app);
    this.desiredCache.delete(app);
    this.reported.delete(app);
    for (const p of this.d.plugins.providers) p.forget?.(app);
  }
}
