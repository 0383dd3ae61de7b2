import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { SpawnError } from '../lib/exec.js';
import { userError } from '../lib/errors.js';
import type { Layout } from '../lib/layout.js';
import type { Logger } from '../lib/logger.js';
import { recordGroup, stopRecordedGroup } from '../lib/process-group.js';
import { admit } from './admit.js';
import type { Caller } from './authorize.js';
import type { CommandContext } from './context.js';
import type { Emit } from './stream.js';
import { requireApp } from './views.js';

/** A one-off command is stopped after this unless the call asks for less or more (at most a day). */
export const RUN_TIMEOUT_DEFAULT_S = 3600;

export interface RunInput {
  app: string;
  /** Program and arguments, an argv array: nothing is ever interpolated into a shell string. */
  command: string[];
  timeout?: number;
}

export interface RunOutcome {
  app: string;
  release: string;
  /** null when a signal ended it. */
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
}

const WHY_NOT_STARTED: Record<string, string> = {
  ENOENT: "not found on the release's PATH",
  EACCES: 'not executable',
};

/**
 * Run a command of the app's live release, in its source directory with the environment its
 * processes get (addon URLs included), in a process group of its own. Its output goes to `emit`
 * as it comes (`{fd, data}`, data base64: it may be any bytes); `signal` (the client went away,
 * the daemon stops) and the time limit stop the group.
 */
export async function runOneOff(ctx: CommandContext, caller: Caller, q: RunInput, emit: Emit, signal: AbortSignal): Promise<RunOutcome> {
  admit(caller, 'apps.run', q.app);
  if (!q.command[0]) throw userError('PARAMS_INVALID', 'apps.run: command: the program to run is empty', { hint: 'name a program, e.g. `hop3 run APP -- ls -l`' });
  const app = requireApp(ctx, q.app);
  if (app.desiredState === 'stopped') throw userError('APP_NOT_RUNNING', `${q.app} is stopped`, { hint: `start it first: hop3 start ${q.app}` });
  const release = app.currentRelease === null ? null : ctx.store.getRelease(app.name, app.currentRelease);
  if (!release?.artifact) throw userError('NO_LIVE_RELEASE', `${q.app} has no live release to run a command in`, { hint: `deploy it first, or see \`hop3 releases ${q.app}\`` });
  const deployer = ctx.plugins.deployers.find((d) => d.accept(release.artifact!));
  if (!deployer?.oneOff) throw userError('RUN_UNSUPPORTED', `${q.app} runs no commands (a ${release.artifact.kind} release)`, { hint: 'only apps with processes have an environment to run a command in' });
  const addons = ctx.plugins.addons.attached(ctx.store.attachments({ app: app.name }), (addon) => ctx.store.getAddon(addon)).env;
  const { env, cwd } = deployer.oneOff({ ...release, env: { ...release.env, ...addons } });
  const version = `v${release.version}`;
  // The program only: its arguments may carry secrets.
  ctx.log.info({ app: app.name, release: version, program: q.command[0] }, 'one-off command started');
  let group: string | null = null;
  try {
    const r = await ctx.exec.runStreamed(q.command, {
      cwd, env, signal, timeoutMs: (q.timeout ?? RUN_TIMEOUT_DEFAULT_S) * 1000,
      onSpawn: (pid) => {
        group = join(ctx.layout.run, `${RUN_GROUP_PREFIX}${app.name}-${pid}.pgid`);
        recordGroup(group, pid, `one-off command of ${app.name} ${version}`);
      },
      onOutput: (fd, chunk) => emit({ fd, data: chunk.toString('base64') }),
    });
    ctx.log.info({ app: app.name, release: version, exitCode: r.exitCode, signal: r.signal, timedOut: r.timedOut, aborted: r.aborted }, 'one-off command ended');
    return { app: app.name, release: version, exitCode: r.exitCode, signal: r.signal, timedOut: r.timedOut };
  } catch (err) {
    if (!(err instanceof SpawnError)) throw err;
    throw userError('RUN_START_FAILED', `${q.command[0]} could not be started in ${q.app} ${version}: ${WHY_NOT_STARTED[err.errno] ?? err.message}`, {
      hint: 'the command runs without a shell: name a program (or `sh -c "..."`) found on the PATH of the app\'s processes',
      details: { errno: err.errno },
    });
  } finally {
    if (group !== null) rmSync(group, { force: true });
  }
}

/** Each running one-off command's group is recorded as `run/run-APP-PGID.pgid` while it runs. */
const RUN_GROUP_PREFIX = 'run-';

/**
 * Stop the one-off commands a killed daemon left running (nobody reads their output, and their
 * time limit was the dead daemon's to enforce); a recycled pid is never signalled.
 */
export async function stopLeftoverRuns(layout: Layout, log: Logger): Promise<void> {
  const files = existsSync(layout.run) ? readdirSync(layout.run).filter((f) => f.startsWith(RUN_GROUP_PREFIX) && f.endsWith('.pgid')) : [];
  await Promise.all(files.map(async (f) => {
    const stopped = await stopRecordedGroup(join(layout.run, f));
    if (stopped) log.warn({ pgid: stopped.pgid, what: stopped.what }, 'stopped a one-off command a previous hop3-server left running');
  }));
}
