import { userError } from '../lib/errors.js';
import { countOf, MAX_INSTANCES, PORT_KINDS, SCALABLE_KINDS, type ScaleCounts } from '../manifest/instances.js';
import type { ReleaseRecord } from '../store/types.js';
import { admit } from './admit.js';
import type { Caller } from './authorize.js';
import type { CommandContext } from './context.js';
import { newRelease, recorded, rollOut } from './release-records.js';
import { requireApp } from './views.js';

export interface ScaleInput {
  app: string;
  /** Process type → instances. */
  counts: Record<string, unknown>;
  requestId?: string | undefined;
}

/**
 * Check asked-for counts against the release they would apply to: each names a process type of
 * its Procfile that runs as a process, with a whole count in 0..MAX_INSTANCES; the process that
 * serves HTTP keeps at least one (stopping or pausing the app is how it serves none). Pure.
 */
export function checkCounts(base: Pick<ReleaseRecord, 'version' | 'spec'>, counts: Record<string, unknown>): ScaleCounts {
  const types = base.spec.processes.map((p) => p.name);
  if (Object.keys(counts).length === 0) {
    throw userError('SCALE_COUNT_INVALID', 'no count given', { hint: `e.g. hop3 scale APP ${types[0] ?? 'web'}=2` });
  }
  for (const [name, count] of Object.entries(counts)) {
    const proc = base.spec.processes.find((p) => p.name === name);
    if (!proc) {
      throw userError('SCALE_PROCESS_UNKNOWN', `v${base.version} has no process type ${JSON.stringify(name).slice(0, 80)}`, {
        hint: types.length ? `its Procfile has: ${types.join(', ')}` : 'its Procfile has no process types', details: { process: name.slice(0, 80) },
      });
    }
    if (!SCALABLE_KINDS.has(proc.kind)) {
      throw userError('SCALE_PROCESS_NOT_RUNNABLE', `${name} is a ${proc.kind} entry, not a process that runs: it cannot be scaled`, {
        hint: `scalable: ${base.spec.processes.filter((p) => SCALABLE_KINDS.has(p.kind)).map((p) => p.name).join(', ') || 'none'}`, details: { process: name },
      });
    }
    if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > MAX_INSTANCES) {
      throw userError('SCALE_COUNT_INVALID', `${name}=${String(count).slice(0, 40)}: a count is a whole number from 0 to ${MAX_INSTANCES}`, { details: { process: name } });
    }
    if (count === 0 && PORT_KINDS.has(proc.kind)) {
      throw userError('SCALE_WEB_ZERO', `${name} serves the app's requests: it cannot be scaled to 0`, {
        hint: 'to run no process, use `hop3 stop APP` (or `hop3 pause APP` to keep answering 503)', details: { process: name },
      });
    }
  }
  return counts as ScaleCounts;
}

/**
 * `hop3 scale APP web=3 worker=2`: record the counts and make a new release from the same
 * build with them (as a config change does), so the new instances start beside the running
 * ones, pass the health gate, and only then does the proxy switch and the old ones retire.
 * Counts that change nothing record nothing.
 */
export async function scale(ctx: CommandContext, caller: Caller, p: ScaleInput) {
  admit(caller, 'apps.scale', p.app);
  const name = requireApp(ctx, p.app).name;
  let counts: ScaleCounts = {};
  const release = await rollOut(ctx, name, false, async (desire) => {
    // Chosen under the lock: a deploy that was in progress is the base once it is live.
    const app = requireApp(ctx, name);
    const base = [app.desiredRelease, app.currentRelease]
      .map((v) => (v === null ? null : ctx.store.getRelease(app.name, v)))
      .find((r) => r?.artifact && r.status !== 'failed');
    if (!base) throw userError('SCALE_NO_RELEASE', `${name} has no built release to scale`);
    counts = checkCounts(base, p.counts);
    const wanted = { ...ctx.store.getScale(name), ...counts };
    if (Object.keys(counts).every((k) => countOf(base.scale, k) === counts[k])) {
      // Already what runs; the records still take the counts (a later release runs them).
      await ctx.store.writeRetrying(() => ctx.store.setScale(name, counts));
      return null;
    }
    return newRelease(ctx, name, { source: 'config', commit: base.commit, spec: base.spec, artifact: base.artifact, scale: wanted, requestId: p.requestId }, {
      before: () => {
        ctx.store.setScale(name, counts);
        ctx.store.addEvent(name, 'app.scaled', { counts });
      },
      after: desire,
    });
  }, p.requestId);
  return { app: name, counts, ...(release ? recorded(ctx, name, release) : {}) };
}
