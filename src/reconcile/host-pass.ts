import { asHop3Error } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import type { DesiredResource, Provider } from '../plugins/provider.js';
import { observeResources } from './observe.js';
import { plan } from './plan.js';
import type { Action, DesiredApp, DriftFinding, ObservedApp } from './types.js';
import { UNKNOWN } from './types.js';
import type { PassOutcome } from './work-queue.js';

/**
 * The owner of host resources, in the work queue and in provider calls. No app can have this
 * name (app names are lowercase letters, digits and dashes).
 */
export const HOST_OWNER = '@host';

/** What a host outage does to the apps (they are the reconciler's). */
export interface HostEffects {
  /** The running apps that have a resource of one of `kinds` show the outage; returns them. */
  down(kinds: readonly string[], reason: string): string[];
  /** The host resource of `kind` runs again: the outage is healed drift of each of `apps`. */
  healed(kind: string, apps: string[], observed: string): void;
}

/** Figures of the last host pass, for tests and benchmarks. */
export interface HostPassResult {
  actions: Action[];
  findings: DriftFinding[];
  error: string | null;
}

/** A host resource that was found down, and the apps that have shown it since. */
interface Outage {
  apps: string[];
  observed: string;
}

const pidOf = (live: unknown): number | null =>
  (typeof live === 'object' && live !== null && typeof (live as { pid?: unknown }).pid === 'number' ? (live as { pid: number }).pid : null);

/**
 * The `host` owner's pass: observe the host resources every provider with `host` wants, plan
 * with the same planner as an app's (paired by key: missing → create, changed → update,
 * unknown → report only), apply. A server found down is an outage of the apps that need it until
 * it runs again. A failed apply throws: the work queue retries the pass with backoff.
 */
export class HostPass {
  private readonly providers: readonly Provider[];
  private readonly log: Logger;
  private readonly effects: HostEffects;
  /** The pid each host resource was last seen with, so an outage says which process is gone. */
  private readonly lastPid = new Map<string, number>();
  private readonly outages = new Map<string, Outage>();
  last: HostPassResult | null = null;

  constructor(providers: readonly Provider[], log: Logger, effects: HostEffects) {
    this.providers = providers;
    this.log = log;
    this.effects = effects;
  }

  private desired(): DesiredApp {
    return {
      app: HOST_OWNER, state: 'running', healPolicy: 'heal', settled: true, target: null, health: null,
      resources: this.providers.flatMap((p) => p.host?.desired() ?? []),
    };
  }

  private async observe(resources: DesiredResource[]): Promise<ObservedApp> {
    const observed: ObservedApp = { resources: await observeResources(this.providers, HOST_OWNER, resources) };
    for (const r of resources) {
      const live = observed.resources.get(r.kind);
      const pid = live === undefined || live === UNKNOWN ? null : pidOf(live.get(r.name));
      if (pid !== null) this.lastPid.set(r.kind, pid);
    }
    return observed;
  }

  async run(): Promise<PassOutcome> {
    const desired = this.desired();
    const observed = await this.observe(desired.resources);
    const p = plan(desired, observed, this.providers);
    for (const a of p.actions) if (a.type === 'resource' && a.op === 'create') this.begin(a.kind);
    for (const f of p.findings) {
      if (f.kind === 'unknown') this.log.warn({ resource: f.resource }, 'a host resource could not be observed: nothing is done to it');
    }
    const done: Action[] = [];
    let failure: unknown = null;
    for (const action of p.actions) {
      if (action.type !== 'resource') continue;
      const provider = this.providers.find((x) => x.kind === action.kind)!;
      try {
        await provider.apply(action.op, action.name, action.desired, action.live, { owner: HOST_OWNER, log: this.log });
        done.push(action);
        this.log.debug({ owner: HOST_OWNER, action: `${action.op}:${action.kind}` }, 'action done');
      } catch (err) {
        failure = err;
        break;
      }
    }
    // What was started runs with a new pid: look again (cheap), so a death of it names that pid.
    const now = done.some((a) => a.type === 'resource' && a.op === 'create') ? await this.observe(desired.resources) : observed;
    for (const [kind, outage] of this.outages) {
      const live = now.resources.get(kind);
      const running = live !== undefined && live !== UNKNOWN && [...live.values()].some((v) => pidOf(v) !== null);
      if (!running) continue;
      const restarted = done.some((a) => a.type === 'resource' && a.kind === kind && a.op === 'create');
      this.outages.delete(kind);
      this.effects.healed(kind, outage.apps, `${outage.observed}; ${restarted ? 'restarted' : 'running again'}`);
    }
    const error = failure === null ? null : asHop3Error(failure).message;
    this.last = { actions: p.actions, findings: p.findings, error };
    if (failure !== null) {
      this.log.error({ owner: HOST_OWNER, err: error }, 'could not start a host resource; the apps that need it stay Degraded');
      throw failure;
    }
  }

  /** A host resource is down: once per outage, the apps that need it show it. */
  private begin(kind: string): void {
    if (this.outages.has(kind)) return;
    const pid = this.lastPid.get(kind);
    const observed = pid === undefined ? 'not running' : `pid ${pid} is gone`;
    if (pid === undefined) this.log.info({ resource: kind }, 'a host resource is not running: starting it');
    else this.log.warn({ resource: kind, pid }, 'a host resource died: starting it again');
    const neededBy = this.providers.find((p) => p.kind === kind)?.host?.neededBy ?? [];
    this.outages.set(kind, { apps: this.effects.down(neededBy, `${kind} is down (${observed}); restarting it`), observed });
  }
}
