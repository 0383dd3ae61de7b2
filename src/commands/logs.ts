import { setTimeout as sleep } from 'node:timers/promises';
import { userError } from '../lib/errors.js';
import { LogFollower, TAIL_BUDGET_BYTES, tailOfLog } from '../lib/log-files.js';
import { carryStamps, isoSeconds, mergeByTime, splitStamp, visible, type LogLine, type StampedLine } from '../lib/process-log.js';
import { cutLine } from '../reconcile/output-sink.js';
import type { AppRecord, ReleaseRecord } from '../store/types.js';
import { admit } from './admit.js';
import type { Caller } from './authorize.js';
import type { CommandContext } from './context.js';
import type { Emit } from './stream.js';
import { requireApp } from './views.js';

export const LOG_LINES_DEFAULT = 100;
/** How often a followed log is looked at (a line shows within this and the time to send it). */
export const FOLLOW_POLL_MS = 200;

export interface LogsInput {
  app: string;
  process?: string;
  lines?: number;
  follow?: boolean;
}

/** The release whose processes' logs are read: the live one, else the newest that was built (a stopped or failed app has logs too). */
function releaseOfLogs(ctx: CommandContext, app: AppRecord): ReleaseRecord | null {
  const live = app.currentRelease === null ? null : ctx.store.getRelease(app.name, app.currentRelease);
  return live?.artifact ? live : ctx.store.listReleases(app.name).find((r) => r.artifact !== null) ?? null;
}

/** Each process instance of the release and the log it writes, as its deployer says. */
function processLogs(ctx: CommandContext, release: ReleaseRecord | null): { type: string; process: string; log: string }[] {
  if (!release?.artifact) return [];
  const deployer = ctx.plugins.deployers.find((d) => d.accept(release.artifact!));
  return deployer ? deployer.plan(release, { restartCount: 0 }).units.map((u) => ({ type: u.process, process: u.instance, log: u.log })) : [];
}

type Tagged = StampedLine & { process: string };

/** What each log's tail may read at least, when many logs share one call's budget. */
const MIN_TAIL_SHARE_BYTES = 64 * 1024;

const shown = (l: Tagged): LogLine => ({ time: l.micros === null ? null : isoSeconds(l.micros), process: l.process, text: visible(cutLine(l.text)) });

/**
 * An app's process logs, merged in time order: the last `lines` (over all its processes, or the
 * one named), then with `follow` every line written after, until `signal` ends it.
 */
export async function logs(ctx: CommandContext, caller: Caller, q: LogsInput, emit: Emit, signal: AbortSignal): Promise<{ app: string; lines: number; ended?: string }> {
  admit(caller, 'apps.logs', q.app);
  const app = requireApp(ctx, q.app);
  const all = processLogs(ctx, releaseOfLogs(ctx, app));
  // --process web: every instance of web; --process web.2: that one.
  const units = q.process === undefined ? all : all.filter((u) => u.type === q.process || u.process === q.process);
  if (units.length === 0 && q.process !== undefined) {
    throw userError('PROCESS_NOT_FOUND', `${q.app} has no process ${q.process}`, {
      hint: all.length ? `its processes: ${all.map((u) => u.process).join(', ')}` : `${q.app} runs no processes`,
    });
  }
  const n = q.lines ?? LOG_LINES_DEFAULT;
  // Opened before the tail is read, which stops where following starts: no line is lost or shown twice.
  const followers = q.follow ? units.map((u) => new LogFollower(u.log)) : [];
  let count = 0;
  const send = async (lines: Tagged[]) => {
    for (const l of lines) {
      await emit(shown(l));
      count++;
    }
  };
  try {
    // One call reads about one budget over all the logs, however many instances the app runs.
    const share = Math.max(TAIL_BUDGET_BYTES / Math.max(units.length, 1), MIN_TAIL_SHARE_BYTES);
    const tails = units.map((u, i): Tagged[] =>
      carryStamps(tailOfLog(u.log, n, followers[i]?.startedAt ?? null, { bytes: share }).map(splitStamp)).map((l) => ({ ...l, process: u.process })));
    await send(mergeByTime(tails).slice(-n));
    const last = tails.map((t) => t.at(-1)?.micros ?? null);
    while (q.follow && !signal.aborted) {
      const fresh = followers.map((f, i): Tagged[] => {
        const lines = carryStamps(f.read().map(splitStamp), last[i]);
        if (lines.length) last[i] = lines.at(-1)!.micros;
        return lines.map((l) => ({ ...l, process: units[i]!.process }));
      });
      await send(mergeByTime(fresh));
      await sleep(FOLLOW_POLL_MS, undefined, { signal }).catch(() => undefined);
    }
    // Said when following ended for a reason of the daemon's (it stops), not the reader's.
    return { app: q.app, lines: count, ...(signal.aborted ? { ended: String(signal.reason) } : {}) };
  } finally {
    for (const f of followers) f.close();
  }
}
