import { closeSync, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readSync, rmSync } from 'node:fs';
import { failpoint } from '../lib/failpoint.js';
import { basename, join } from 'node:path';
import { assertConfined, checkAppPaths, settleOwnership } from '../lib/confine.js';
import { errorMessage, operationalError, userError } from '../lib/errors.js';
import { httpGet } from '../lib/http-get.js';
import { secureAppDirs, type Layout } from '../lib/layout.js';
import { recordGroup, stopRecordedGroup } from '../lib/process-group.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ReconcilerDeps } from './deps.js';
import type { BuildArtifact, ReleaseRecord } from '../store/types.js';
import type { Hop3Event } from '../store/events.js';
import type { BuildContext } from '../plugins/types.js';
import type { Action, HealthCheck } from './types.js';
import { cutLine, outputSink } from './output-sink.js';

export interface ExecContext extends ReconcilerDeps {
  app: string;
  /** Aborted when the release this pass rolls out is cancelled, or the daemon stops (SHUTDOWN). */
  signal?: AbortSignal;
}

/** Build output and release-phase output become events (up to a cap), so `hop3 deploy` can stream them. */
const outputTo = (ctx: ExecContext, version: number, phase: string) =>
  outputSink(ctx.store, ctx.app, version, phase, ctx.config.maxOutputLines);

/** What a builder gets for one release (its accept() and build() read the same context). */
export function buildContext(ctx: Pick<ExecContext, 'app' | 'layout' | 'signal'>, release: ReleaseRecord, onLine: (line: string) => void, onSpawn?: (pid: number) => void): BuildContext {
  return {
    app: ctx.app, version: release.version, spec: release.spec, env: release.env, releaseDir: ctx.layout.releaseDir(ctx.app, release.version), onLine, signal: ctx.signal,
    ...(onSpawn ? { onSpawn } : {}),
  };
}

/** Which builder accepts a release's source tree (null: none). Reads the tree: part of observing. */
export function acceptingBuilder(ctx: Pick<ExecContext, 'app' | 'layout' | 'plugins'>, release: ReleaseRecord): string | null {
  const bctx = buildContext(ctx, release, () => undefined);
  return ctx.plugins.builders.find((b) => b.accept(bctx))?.name ?? null;
}

async function build(ctx: ExecContext, version: number, builderName: string | null): Promise<void> {
  const release = ctx.store.getRelease(ctx.app, version)!;
  const releaseDir = ctx.layout.releaseDir(ctx.app, version);
  // As for release commands: a build a killed daemon left running ends before this one starts.
  const group = commandGroupFile(ctx.layout, ctx.app, 'build');
  await stopLeftoverCommand(ctx, group, version, 'build');
  const output = outputTo(ctx, version, 'build');
  const bctx = buildContext(ctx, release, output.line, (pid: number) => recordGroup(group, pid, `build command of ${ctx.app} v${version}`));
  const builder = ctx.plugins.builders.find((b) => b.name === builderName);
  if (!builder) {
    output.close();
    throw operationalError('BUILDER_NONE', 'no builder accepts this app', { hint: 'add a package.json, a go.mod, a Cargo.toml, a requirements.txt, an index.html or a Procfile process (see "Runtimes" in the README)' });
  }
  ctx.store.addEvent(ctx.app, 'build.started', { release: version, builder: builder.name });
  let artifact: BuildArtifact;
  try {
    artifact = await builder.build(bctx);
  } finally {
    rmSync(group, { force: true });
    output.close();
  }
  // Build commands may have made links or the static root: they are held to what the app shipped.
  const src = join(releaseDir, 'src');
  assertConfined(src);
  checkAppPaths(src, release.spec);
  settleOwnership(src, ctx.plugins.proxy.fileReader());
  secureAppDirs(ctx.layout, ctx.app); // the virtualenvs the build made
  ctx.store.setReleaseArtifact(ctx.app, version, artifact);
  ctx.store.addEvent(ctx.app, 'build.succeeded', { release: version, artifact: artifact.kind });
}

async function releasePhase(ctx: ExecContext, version: number, commands: string[]): Promise<void> {
  const release = ctx.store.getRelease(ctx.app, version)!;
  const artifactDir = join(ctx.layout.home, release.artifact!.dir);
  const env = {
    ...release.env,
    // A command artifact names its own directories (node_modules/.bin, a Go binary's bin/).
    PATH: [...(release.artifact!.path ?? []).map((p) => join(ctx.layout.home, p)), join(ctx.layout.home, release.artifact!.venv ?? join(release.artifact!.dir, 'venv'), 'bin'), '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    HOME: join(ctx.layout.app(ctx.app), 'data'),
    LANG: 'C.UTF-8',
    HOP3_APP: ctx.app,
    HOP3_RELEASE: `v${version}`,
  };
  mkdirSync(env.HOME, { recursive: true, mode: 0o700 });
  // A daemon killed during a release command left it running: it ends before this one starts,
  // or a migration would run twice at once.
  const group = commandGroupFile(ctx.layout, ctx.app, 'release');
  await stopLeftoverCommand(ctx, group, version, 'release');
  const output = outputTo(ctx, version, 'release');
  try {
    for (const cmd of commands) {
      output.line(`-----> Running release command: ${cmd}`);
      try {
        await ctx.exec.run(['/bin/sh', '-c', cmd], {
          cwd: join(artifactDir, 'src'), env, cleanEnv: true, onLine: output.line, timeoutMs: 900_000, killGroup: true, signal: ctx.signal,
          onSpawn: (pid) => recordGroup(group, pid, `release command of ${ctx.app} v${version}`),
        });
      } finally {
        rmSync(group, { force: true });
      }
    }
  } finally {
    output.close();
  }
}

/** The phases that run the app's own commands, each recorded while it runs. */
type CommandPhase = 'build' | 'release';

/** Where the process group of an app's running build or release command is recorded. */
export const commandGroupFile = (layout: Layout, app: string, phase: CommandPhase) => join(layout.run, `${phase}-${app}.pgid`);

/** The recorded groups of app commands (running, or left by a killed daemon). */
export function recordedCommandGroups(layout: Layout): { app: string; phase: CommandPhase; file: string }[] {
  const names = existsSync(layout.run) ? readdirSync(layout.run) : [];
  return names.flatMap((f) => {
    const m = /^(build|release)-(.+)\.pgid$/.exec(f);
    return m ? [{ app: m[2]!, phase: m[1] as CommandPhase, file: join(layout.run, f) }] : [];
  });
}

export async function stopLeftoverCommand(
  ctx: Pick<ExecContext, 'store' | 'log'> & { app: string }, file: string, version: number | null, phase: CommandPhase,
): Promise<void> {
  const stopped = await stopRecordedGroup(file);
  if (!stopped) return;
  ctx.log.warn({ app: ctx.app, pgid: stopped.pgid, phase }, 'stopped an app command a previous hop3-server left running');
  const line = `-----> Stopped the ${stopped.what} (process group ${stopped.pgid}), left running by a hop3-server that was killed`;
  if (version !== null) ctx.store.addEvent(ctx.app, 'output', { release: version, phase, line });
}

export const cancelled = (version: number) => userError('RELEASE_CANCELLED', `release v${version} was cancelled before it went live`);

/** The abort reason of a rollout the daemon interrupts because it stops (not a cancel). */
export const SHUTDOWN = 'hop3-server is stopping';

/**
 * Why a rollout's signal fired: a cancel fails the release; a daemon that stops leaves it as it
 * is, to be resumed at the next start.
 */
export function interrupted(signal: AbortSignal, version: number) {
  return signal.reason === SHUTDOWN
    ? operationalError('SHUTTING_DOWN', `the rollout of v${version} was interrupted: ${SHUTDOWN}`, { hint: 'it resumes when hop3-server starts again' })
    : cancelled(version);
}

/**
 * A health check reads at most this much of the answer; a longer one fails it (an endless or
 * huge answer is no sign of health, and the daemon never holds more than this of it).
 */
export const HEALTH_BODY_LIMIT = 64 * 1024;

/** A unit its supervisor has given up on (it keeps dying) will not become healthy. */
async function cursedUnit(ctx: ExecContext, check: HealthCheck): Promise<string | null> {
  const stats = await ctx.plugins.supervisor.stats(1000).catch(() => null);
  return check.units.find((u) => stats?.get(`${u.name}.ini`)?.cursed)?.name ?? null;
}

/** The last lines of a log, read from its last 16 KiB only: an app's log may be any size. */
function tail(path: string, lines: number): string[] {
  let text = '';
  try {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      const length = Math.min(size, 16 * 1024);
      const buf = Buffer.alloc(length);
      readSync(fd, buf, 0, length, size - length);
      text = buf.toString('utf8');
    } finally {
      closeSync(fd);
    }
  } catch {
    return [];
  }
  return text.split('\n').filter(Boolean).slice(-lines).map((l) => (l.length > 2000 ? `${l.slice(0, 2000)} [cut]` : l));
}

async function awaitHealthy(ctx: ExecContext, version: number, check: HealthCheck): Promise<void> {
  try {
    await pollHealthy(ctx, check);
  } catch (err) {
    if (ctx.signal?.aborted) throw interrupted(ctx.signal, version);
    // Show the pusher why: the last lines the new processes wrote.
    for (const u of check.units) {
      for (const line of tail(u.log, 8)) ctx.store.addEvent(ctx.app, 'output', { release: version, phase: `log ${basename(u.log)}`, line: cutLine(line) });
    }
    throw err;
  }
}

async function pollHealthy(ctx: ExecContext, check: HealthCheck): Promise<void> {
  const deadline = Date.now() + check.timeoutMs;
  // Each instance must answer once; the one still waiting is what a failure names.
  const waiting = [...check.urls];
  let last = 'no answer yet';
  for (let i = 0; Date.now() < deadline && !ctx.signal?.aborted; i++) {
    if (i % 5 === 4) {
      const cursed = await cursedUnit(ctx, check);
      if (cursed) throw operationalError('PROCESS_CRASHING', `process ${cursed} keeps exiting before it serves`, { hint: `its log is in apps/${ctx.app}/log/` });
    }
    try {
      // One deadline for the whole check: no single answer may run past it, however it drips.
      const res = await httpGet(waiting[0]!, check.host, Math.max(100, deadline - Date.now()), { maxBytes: HEALTH_BODY_LIMIT, signal: ctx.signal });
      if (res.status === check.expectStatus) {
        waiting.shift();
        if (waiting.length === 0) return;
        continue;
      }
      last = `status ${res.status}`;
    } catch (err) {
      last = errorMessage(err);
    }
    await sleep(50);
  }
  throw operationalError('HEALTH_CHECK_FAILED', `health check ${waiting[0]} did not answer ${check.expectStatus} within ${check.timeoutMs / 1000} s (last: ${last})`, {
    hint: `see the process log in apps/${ctx.app}/log/; set [healthcheck] path or timeout in hop3.toml`,
  });
}

function markLive(ctx: ExecContext, version: number): void {
  const { store, app } = ctx;
  if (!store.markLive(app, version)) throw cancelled(version);
  store.addEvent(app, 'release.live', { release: version });
  failpoint(ctx, 'after-mark-live', 'before anyone hears', { app, release: version });
}

function providerOf(ctx: ExecContext, kind: string) {
  const provider = ctx.plugins.providers.find((p) => p.kind === kind);
  if (!provider) throw new Error(`no provider of ${kind} resources is registered`);
  return provider;
}

/** Apply one action. Every action is idempotent: running it twice changes nothing more. */
export async function execute(ctx: ExecContext, action: Action): Promise<void> {
  switch (action.type) {
    case 'build':
      return build(ctx, action.version, action.builder);
    case 'release-phase':
      return releasePhase(ctx, action.version, action.commands);
    case 'await-healthy':
      return awaitHealthy(ctx, action.version, action.check);
    case 'mark-live':
      return markLive(ctx, action.version);
    case 'acknowledge':
      return providerOf(ctx, action.kind).acknowledge?.(action.name, action.live);
    case 'resource': {
      const provider = providerOf(ctx, action.kind);
      if (action.op === 'delete') {
        // What may still send work to the retiring resource (requests the proxy still passes
        // to an old release) finishes first.
        for (const kind of provider.retireAfter ?? []) await ctx.plugins.providers.find((p) => p.kind === kind)?.settle?.();
      }
      const event = (e: Hop3Event) => void ctx.store.addEvent(ctx.app, e.kind, e.data as never);
      return provider.apply(action.op, action.name, action.desired, action.live, { owner: ctx.app, log: ctx.log, signal: ctx.signal, event });
    }
    default: {
      const never: never = action;
      throw new Error(`unknown action ${JSON.stringify(never)}`);
    }
  }
}
