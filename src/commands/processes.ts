import { instanceName } from '../manifest/instances.js';
import { parseUnitName } from '../plugins/deployers/unit-name.js';
import type { UnitStatus } from '../plugins/types.js';
import type { ReleaseRecord } from '../store/types.js';
import { admit } from './admit.js';
import type { Caller } from './authorize.js';
import type { CommandContext } from './context.js';
import { requireApp } from './views.js';

/** One process instance as `hop3 ps` shows it. */
export interface ProcessView {
  process: string;
  index: number;
  /** null: not running (missing) or the supervisor could not be asked. */
  pid: number | null;
  state: 'running' | 'starting' | 'crashing' | 'missing' | 'unknown';
  /** Seconds since its current process started; null when not known. */
  uptime: number | null;
  /** Times it was found restarted without hop3 asking (its drift findings). */
  restarts: number;
  release: string;
  port: number | null;
}

/** Supervisor stats are keyed by the unit's config file name (`<unit>.<ext>`). */
const unitOfFile = (file: string) => file.replace(/\.[a-z]+$/, '');

function stateOf(s: UnitStatus): ProcessView['state'] {
  if (s.cursed) return 'crashing';
  return s.ready ? 'running' : 'starting';
}

/**
 * `hop3 ps`: the app's process instances as the supervisor reports them (observed, not inferred
 * from the records): every unit of the app it runs, whatever release, and each instance the
 * release to run should have but that it does not run (missing).
 */
export async function listProcesses(ctx: CommandContext, caller: Caller, name: string, now = Date.now()): Promise<ProcessView[]> {
  admit(caller, 'apps.read', name);
  const app = requireApp(ctx, name);
  const stats = await ctx.plugins.supervisor.stats().catch(() => null);
  const releases = new Map<number, ReleaseRecord | null>();
  const releaseOf = (v: number) => {
    if (!releases.has(v)) releases.set(v, ctx.store.getRelease(app.name, v));
    return releases.get(v) ?? null;
  };
  const drift = ctx.store.listDrift(app.name, 1000);
  const restarts = (unit: string) => drift.filter((d) => d.resource === `process:${unit}`).length;
  const rows = new Map<string, ProcessView>();
  for (const [file, s] of stats ?? []) {
    const unit = unitOfFile(file);
    const u = parseUnitName(unit);
    if (u?.app !== app.name) continue;
    rows.set(unit, {
      process: u.process, index: u.index, pid: s.pid, state: stateOf(s),
      uptime: s.startedAt === undefined ? null : Math.max(0, Math.round(now / 1000 - s.startedAt)),
      restarts: restarts(unit), release: `v${u.version}`, port: releaseOf(u.version)?.ports[instanceName(u.process, u.index)] ?? null,
    });
  }
  const target = [app.desiredRelease, app.currentRelease].map((v) => (v === null ? null : releaseOf(v))).find((r) => r?.artifact && r.status !== 'failed');
  const deployer = target?.artifact ? ctx.plugins.deployers.find((d) => d.accept(target.artifact!)) : undefined;
  if (app.desiredState === 'running' && target && deployer) {
    for (const unit of deployer.plan(target, { restartCount: app.restartCount }).units) {
      const u = parseUnitName(unit.name);
      if (!u || rows.has(unit.name)) continue;
      rows.set(unit.name, {
        process: u.process, index: u.index, pid: null, state: stats ? 'missing' : 'unknown', uptime: null,
        restarts: restarts(unit.name), release: `v${u.version}`, port: target.ports[instanceName(u.process, u.index)] ?? null,
      });
    }
  }
  const version = (r: ProcessView) => Number(r.release.slice(1));
  return [...rows.values()].sort((a, b) => version(b) - version(a) || a.process.localeCompare(b.process) || a.index - b.index);
}
