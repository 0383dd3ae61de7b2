import { Command, Option } from 'commander';
import { basename, resolve } from 'node:path';
import { asHop3Error, userError, type Hop3Error } from '../lib/errors.js';
import { quoteValue, validateAppName, validateEnvEntry } from '../manifest/app-name.js';
import type { SpecIssue } from '../manifest/types.js';
import type { DriftRecord, EventRecord } from '../store/types.js';
import rpcSchema from '../../schemas/rpc.json' with { type: 'json' };
import { acrossRestart, call, callRecording, callStream, clientConfig } from './client.js';
import { formatLogLine, type LogLine } from '../lib/process-log.js';
import { runExitCode, writeOutput, type RunOutcome } from './run-output.js';
import type { CertView } from '../commands/cert-status.js';
import type { ScheduledEntry } from '../plugins/types.js';
import { awaitRenewal, renewDetachOption, renewTimeoutOption } from './cert-renewal.js';
import { lastEventId, releaseRecord } from './follow.js';
import { runAddonShell } from './addon-shell.js';
import { formatDrift, formatEvent, formatManifestDetach, table } from './format.js';
import { usageErrorJson, wholeNumber } from './options.js';
import { awaitOwnRelease, cancelOrSettled, detachOption, followHint, interruption, timeoutOption, type WaitOptions } from './waiting.js';

const cfg = clientConfig(process.env);
// Only hop3's own options: after `--`, `hop3 run APP -- CMD --json` passes --json to CMD.
const ownArgs = process.argv.includes('--') ? process.argv.slice(0, process.argv.indexOf('--')) : process.argv;
const asJson = ownArgs.includes('--json');
// Set before the subcommands are added, which inherit it: with --json, usage errors are JSON too.
const program = new Command('hop3').description('hop3 client: deploy apps and edit their desired state').showHelpAfterError()
  .configureOutput({ outputError: (text, write) => (asJson ? console.log(usageErrorJson(text)) : write(text)) });
const json = () => new Option('--json', 'machine-readable output on stdout');

const out = (v: unknown, asJson: boolean, human: () => string) => console.log(asJson ? JSON.stringify(v, null, 2) : human());

type AppStatus = { name: string; state: string; sync: string; health: string; release: string | null; message: string; urls: string[] } & Record<string, unknown>;

type BackupStatus = { name: string; cron: string; lastRun: string | null; lastResult: string | null; lastError: string | null; nextRun: string | null; problem: string | null };

/** A schedule in one line; a failed, unverified or late last run leads it, in capitals. */
function backupLine(b: BackupStatus): string {
  const last = b.lastRun === null ? 'not run yet' : `last ${b.lastResult ?? '-'} at ${b.lastRun}`;
  const problem = b.problem === null ? '' : `${b.problem.toUpperCase()}: `;
  return `${problem}${b.name} (${b.cron}) ${last}${b.lastError ? ` (${b.lastError})` : ''}, next ${b.nextRun ?? '-'}`;
}

function statusText(s: AppStatus): string {
  return Object.entries(s).flatMap(([k, v]) => {
    if (k === 'backups') return (v as BackupStatus[]).map((b, i) => `${(i === 0 ? k : '').padEnd(20)} ${backupLine(b)}`);
    return [`${k.padEnd(20)} ${Array.isArray(v) ? v.join(' ') : String(v ?? '-')}`];
  }).join('\n');
}

/** The upload limit the daemon enforces (schemas/rpc.json), checked here to fail before sending. */
const MAX_ARCHIVE = rpcSchema.methods['apps.deploy'].params.properties.archive.maxLength;
const EVENTS_LIMIT = rpcSchema.methods['apps.events'].params.properties.limit;
const VERSION = rpcSchema.methods['releases.rollback'].params.properties.version;
const LOG_LINES = rpcSchema.methods['apps.logs'].params.properties.lines;
const RUN_TIMEOUT = rpcSchema.methods['apps.run'].params.properties.timeout;

/** The app name checked here, before any request: the same message and hint as hop3.toml's. */
function appArg(app: string): string {
  validateAppName(app);
  return app;
}

/** A release version argument (`vN`), checked here against the daemon's schema. */
function versionArg(version: string | undefined): { version?: string } {
  if (version === undefined) return {};
  if (!new RegExp(VERSION.pattern).test(version)) {
    throw userError('VERSION_INVALID', `${quoteValue(version)} is not a valid ${VERSION.title}`, { hint: VERSION.description });
  }
  return { version };
}

/** Pack a directory (without .git) as a gzipped tar, base64. */
/**
 * Loaded by the commands that read an app directory only: the manifest loader (its schemas) and
 * tar took about 0.25 s of every command's start, a third of `hop3 addons attach` on Redis.
 */
const manifestLoader = () => import('../manifest/load.js');

async function packDir(dir: string): Promise<string> {
  const { c: tarCreate } = await import('tar');
  const chunks: Buffer[] = [];
  const stream = tarCreate({ gzip: true, cwd: dir, portable: true, filter: (p) => !/(^|\/)\.git(\/|$)/.test(p) }, ['.']);
  for await (const c of stream as AsyncIterable<Buffer>) chunks.push(c);
  const archive = Buffer.concat(chunks).toString('base64');
  if (archive.length > MAX_ARCHIVE) {
    throw userError('ARCHIVE_TOO_LARGE', `${dir} packs to ${Math.round(archive.length / 1048576)} MiB (base64), over the ${MAX_ARCHIVE / 1048576} MiB upload limit`, {
      hint: 'leave build outputs and dependencies out of the directory, or deploy with git push',
    });
  }
  return archive;
}

const stderr = (line: string) => process.stderr.write(`${line}\n`);

/** What the daemon answers when it records a release. */
type Recorded = { app: string; release: string; version: number; desiredState: string };
const stoppedNote = (r: Recorded) => `${r.app} is ${r.desiredState}: ${r.release} is recorded and runs when it starts`;

type Waiting = WaitOptions & { json?: boolean };

/**
 * Follow a release this command recorded until it serves, then print the app's status; giving
 * up (--timeout, Ctrl-C) cancels it. With --detach, say it is recorded and how to follow it.
 */
async function followAndReport(app: string, version: number, after: number, o: Waiting, signal: AbortSignal): Promise<void> {
  if (o.detach) {
    out({ app, release: `v${version}`, version, detached: true }, Boolean(o.json), () => `${app} v${version} is recorded and rolls out on its own; ${followHint(app)}`);
    return;
  }
  await awaitOwnRelease(cfg, app, version, after, o, signal, stderr);
  // The release is live: a daemon restarting just now must not turn that into a failed deploy.
  const status = await acrossRestart(() => call<AppStatus>(cfg, 'apps.status', { app }));
  out(status, Boolean(o.json), () => `${app} v${version} is serving at ${status.urls.join(' ')}`);
}

/** Ctrl-C while waiting cancels; with --detach there is nothing to wait for, so it stays Ctrl-C. */
const interruptionUnless = (detach: boolean | undefined) => (detach ? new AbortController().signal : interruption());

program
  .command('deploy')
  .description('upload DIR as a new release and wait until it serves (or fails)')
  .argument('[dir]', 'app directory', '.')
  .option('--app <name>', 'app name (default: [metadata] id, else the directory name)')
  .addOption(timeoutOption())
  .addOption(detachOption())
  .addOption(json())
  .action(async (dirArg: string, o: Waiting & { app?: string }) => {
    const dir = resolve(dirArg);
    const { loadAppDir, formatIssue } = await manifestLoader();
    const local = loadAppDir(dir);
    if (local.issues.length > 0) throw specError(dir, local.issues, formatIssue);
    const app = o.app ?? local.spec?.name ?? basename(dir);
    validateAppName(app);
    const after = await acrossRestart(() => lastEventId(cfg, app)).catch(() => 0);
    stderr(`-----> Uploading ${dir} to ${app}`);
    // Installed before the upload: a Ctrl-C while the release is being recorded still cancels it.
    const signal = interruptionUnless(o.detach);
    const started = await callRecording<{ release: string; version: number; detached?: { addon: string; env: string }[] }>(cfg, 'apps.deploy', { app, archive: await packDir(dir) });
    for (const d of started.detached ?? []) stderr(formatManifestDetach(d));
    await followAndReport(app, started.version, after, o, signal);
  });

program
  .command('rollback')
  .description('roll back to an earlier release (default: the previous good one) without rebuilding')
  .argument('<app>')
  .argument('[version]', 'release to roll back to, e.g. v3')
  .addOption(timeoutOption())
  .addOption(detachOption())
  .addOption(json())
  .action(async (app: string, version: string | undefined, o: Waiting) => {
    const params = { app: appArg(app), ...versionArg(version) };
    const after = await acrossRestart(() => lastEventId(cfg, app));
    const signal = interruptionUnless(o.detach);
    const r = await callRecording<Recorded & { from: string | null }>(cfg, 'releases.rollback', params);
    stderr(`-----> Rolling back ${app} to ${r.from ?? "an earlier release"} as v${r.version}`);
    if (r.desiredState === 'running') await followAndReport(app, r.version, after, o, signal);
    else out(r, Boolean(o.json), () => stoppedNote(r));
  });

program
  .command('cancel')
  .description('cancel a deploy in progress: its build stops and the release that was live keeps serving')
  .argument('<app>')
  .argument('[version]', 'release to cancel (default: the one being deployed)')
  .addOption(json())
  .action(async (app: string, version: string | undefined, o: { json?: boolean }) => {
    const r = await call<{ release: string; cancelled: boolean; status: string }>(cfg, 'releases.cancel', { app: appArg(app), ...versionArg(version) });
    out(r, Boolean(o.json), () => (r.cancelled ? `${app} ${r.release} cancelled` : `${app} ${r.release} was not cancelled: it is ${r.status}`));
    if (!r.cancelled) process.exitCode = 1;
  });

program.command('apps').description('list apps').addOption(json()).action(async (o: { json?: boolean }) => {
  const apps = await call<AppStatus[]>(cfg, 'apps.list');
  out(apps, Boolean(o.json), () => (apps.length ? table(apps, ['name', 'state', 'sync', 'health', 'release']) : 'no apps'));
});

program.command('status').description('status of one app').argument('<app>').addOption(json()).action(async (app: string, o: { json?: boolean }) => {
  const s = await call<AppStatus>(cfg, 'apps.status', { app: appArg(app) });
  out(s, Boolean(o.json), () => statusText(s));
});

program.command('reconcile').description('run a reconcile pass over an app now and show what it did').argument('<app>').addOption(json())
  .action(async (app: string, o: { json?: boolean }) => {
    type Done = { type: string; op?: string; resource?: string; version?: number; builder?: string | null; drift: { kind: string; resource: string } | null };
    const r = await call<{ actions: Done[]; error: string | null }>(cfg, 'apps.reconcile', { app: appArg(app) });
    const what = (a: Done) => (a.type === 'resource' ? `${a.op} ${a.resource}`
      : a.type === 'build' ? `build v${a.version} with ${a.builder ?? 'no builder that accepts it'}` : a.type);
    out(r, Boolean(o.json), () => (r.actions.length ? r.actions.map((a) => `${what(a)}${a.drift ? ` (drift: ${a.drift.kind} ${a.drift.resource})` : ''}`).join('\n') : 'converged: nothing to do') + (r.error ? `\nerror: ${r.error}` : ''));
    if (r.error) process.exitCode = 2;
  });

program.command('set').description('per-app settings: deploy branch, heal policy').argument('<app>')
  .option('--deploy-branch <branch>', 'branch whose pushes deploy (default: main or master)')
  .addOption(new Option('--heal-policy <policy>', 'repair drift, or only report it').choices(['heal', 'report']))
  .addOption(json())
  .action(async (app: string, o: { deployBranch?: string; healPolicy?: string; json?: boolean }) => {
    const r = await call<{ deployBranches: string[]; healPolicy: string }>(cfg, 'apps.configure', {
      app: appArg(app), ...(o.deployBranch === undefined ? {} : { deployBranch: o.deployBranch }), ...(o.healPolicy === undefined ? {} : { healPolicy: o.healPolicy }),
    });
    out(r, Boolean(o.json), () => `${app}: deploys from ${r.deployBranches.join(' or ')}; drift is ${r.healPolicy === 'heal' ? 'repaired' : 'only reported'}`);
  });

program.command('drift').description('recent drift findings, healed ones too').argument('[app]').addOption(json()).action(async (app: string | undefined, o: { json?: boolean }) => {
  const d = await call<DriftRecord[]>(cfg, 'apps.drift', app ? { app: appArg(app) } : {});
  out(d, Boolean(o.json), () => (d.length ? d.map(formatDrift).join('\n') : 'no drift found'));
});

program.command('events').description('event history').argument('[app]')
  .addOption(new Option('--limit <n>', 'how many').argParser(wholeNumber(EVENTS_LIMIT.minimum, EVENTS_LIMIT.maximum)).default(50)).addOption(json())
  .action(async (app: string | undefined, o: { limit: number; json?: boolean }) => {
    const e = await call<EventRecord[]>(cfg, 'apps.events', { ...(app ? { app: appArg(app) } : {}), limit: o.limit });
    out(e, Boolean(o.json), () => (e.length ? e.map(formatEvent).join('\n') : 'no events'));
  });

program.command('logs').description("the app's process logs, merged in time order: `TIME PROCESS: line`").argument('<app>')
  .option('--process <name>', 'only this process (web, worker, ...)')
  .addOption(new Option('--lines <n>', 'how many of the last lines').argParser(wholeNumber(LOG_LINES.minimum, LOG_LINES.maximum)).default(100))
  .option('--follow', 'go on printing lines as they are written, until Ctrl-C')
  .addOption(json())
  .action(async (app: string, o: { process?: string; lines: number; follow?: boolean; json?: boolean }) => {
    const signal = interruption();
    const params = { app: appArg(app), lines: o.lines, ...(o.process === undefined ? {} : { process: o.process }), ...(o.follow ? { follow: true } : {}) };
    const show = (piece: unknown) => writeOutput(process.stdout, `${o.json ? JSON.stringify(piece) : formatLogLine(piece as LogLine)}\n`);
    try {
      const r = await callStream<{ ended?: string }>(cfg, 'apps.logs', params, show, { signal });
      if (r.ended) stderr(`hop3 logs: no longer following: ${r.ended}`);
    } catch (err) {
      // Ctrl-C ends following: that is how it is meant to end.
      if (!signal.aborted) throw err;
    }
  });

program.command('run').description("run a one-off command in the live release's directory and environment; exits with its status")
  .argument('<app>').argument('<command...>', 'program and arguments, after --')
  .addOption(new Option('--timeout <s>', 'stop the command after this many seconds').argParser(wholeNumber(RUN_TIMEOUT.minimum, RUN_TIMEOUT.maximum)))
  .addOption(json())
  .action(async (app: string, command: string[], o: { timeout?: number; json?: boolean }) => {
    const signal = interruption();
    const params = { app: appArg(app), command, ...(o.timeout === undefined ? {} : { timeout: o.timeout }) };
    const show = (piece: unknown) => {
      const { fd, data } = piece as { fd: 1 | 2; data: string };
      if (o.json) return writeOutput(process.stdout, `${JSON.stringify(piece)}\n`);
      return writeOutput(fd === 1 ? process.stdout : process.stderr, Buffer.from(data, 'base64'));
    };
    let r: RunOutcome;
    try {
      r = await callStream<RunOutcome>(cfg, 'apps.run', params, show, { signal });
    } catch (err) {
      if (signal.aborted) {
        stderr(`hop3 run: ${String(signal.reason)}; the command was stopped`);
        process.exitCode = 130;
        return;
      }
      fail(err);
      process.exitCode = runExitCode(null, err);
      return;
    }
    if (o.json) console.log(JSON.stringify(r));
    else if (r.timedOut) stderr(`hop3 run: stopped after the time limit (${o.timeout ?? 'default'} s)`);
    process.exitCode = runExitCode(r, null);
  });

program.command('releases').description('release history').argument('<app>').addOption(json()).action(async (app: string, o: { json?: boolean }) => {
  const r = await call<Record<string, unknown>[]>(cfg, 'releases.list', { app: appArg(app) });
  out(r, Boolean(o.json), () => table(r.map((x) => ({ ...x, current: x.current ? '*' : '' })), ['current', 'version', 'status', 'source', 'commit', 'createdAt']));
});

function cronText(app: string, rows: ScheduledEntry[]): string {
  if (rows.length === 0) return `${app} has no cron entry armed (Procfile \`cron:\` lines of its live release, while it runs)`;
  const last = (r: ScheduledEntry) => (r.lastRun ? `${r.lastRun.startedAt} ${r.lastRun.outcome ?? 'running'}${r.lastRun.exitCode !== null && r.lastRun.outcome !== 'succeeded' ? ` (exit ${r.lastRun.exitCode})` : ''}` : 'never');
  return table(rows.map((r) => ({ ...r, release: `v${r.release}`, lastRun: last(r), nextRun: r.nextRun ?? 'never', running: r.running ? 'yes' : '' })),
    ['process', 'schedule', 'release', 'lastRun', 'nextRun', 'running', 'command']);
}

program.command('cron').description('the app\'s cron entries (schedules in UTC) with their last and next runs').argument('<app>').addOption(json())
  .action(async (app: string, o: { json?: boolean }) => {
    const r = await call<ScheduledEntry[]>(cfg, 'cron.list', { app: appArg(app) });
    out(r, Boolean(o.json), () => cronText(app, r));
  });

const certColumns = ['app', 'status', 'mode', 'names', 'notAfter', 'issuer'];

function certsText(rows: CertView[]): string {
  if (rows.length === 0) return 'no app has [tls] on';
  const errors = rows.filter((r) => r.lastError).map((r) => `${r.app}: last issuance failed at ${r.lastError!.at}: ${r.lastError!.code}: ${r.lastError!.message}`);
  return [table(rows.map((r) => ({ ...r, names: r.names.join(' ') })), certColumns), ...errors].join('\n');
}

const certs = program.command('certs').description('TLS certificates: what each app asks for beside what is stored')
  .argument('[app]', 'only this app').addOption(json())
  .action(async (app: string | undefined, o: { json?: boolean }) => {
    const rows = await call<CertView[]>(cfg, 'certs.list', app === undefined ? {} : { app: appArg(app) });
    out(rows, Boolean(o.json), () => certsText(rows));
  });

certs.command('renew').description('ask for a new certificate for APP and wait until it is stored').argument('<app>')
  .addOption(renewTimeoutOption())
  .addOption(renewDetachOption())
  .addOption(json())
  .action(async (app: string, opts: Waiting) => {
    // `certs` takes --json too, and commander gives it to the parent when both have it.
    const o = { ...opts, json: Boolean(opts.json || certs.opts<{ json?: boolean }>().json) };
    const r = await acrossRestart(() => call<{ requestedAt: string; recorded: boolean }>(cfg, 'certs.renew', { app: appArg(app) }));
    if (o.detach) {
      out({ app, requestedAt: r.requestedAt, detached: true }, Boolean(o.json), () => `${app}: a new certificate is requested (${r.requestedAt}); see \`hop3 certs ${app}\``);
      return;
    }
    stderr(`-----> ${app}: ${r.recorded ? 'new certificate requested' : 'a renewal is already requested'} at ${r.requestedAt}`);
    const view = await awaitRenewal(cfg, app, r.requestedAt, o.timeout, interruption(), stderr);
    out(view, Boolean(o.json), () => `${app}: new certificate stored (issued ${view.issuedAt}, valid until ${view.notAfter}, ${view.issuer})`);
  });

type BackupRow = { id: string; addon: string; type: string; createdAt: string; bytes: number; verified: boolean; error?: string; trigger: string; status: string; problem?: string };
type ScheduleRow = { name: string; cron: string; keep: number; lastRun: string | null; lastResult: string | null; lastError: string | null; nextRun: string | null; missed: boolean };

const backupState = (b: BackupRow) => (b.status === 'corrupt' ? 'CORRUPT' : b.verified ? 'verified' : 'NOT verified');

function backupsText(r: { backups: BackupRow[]; schedules: ScheduleRow[] }): string {
  const rows = r.backups.map((b) => ({ ...b, state: backupState(b) }));
  const notes = r.backups.filter((b) => b.problem || (!b.verified && b.error)).map((b) => `${b.id}: ${b.problem ?? b.error}`);
  const schedules = r.schedules.map((s) => `schedule ${s.name}: "${s.cron}" keep ${s.keep}; last run ${s.lastRun ?? 'never'}${s.lastResult ? ` (${s.lastResult}${s.missed ? ', missed its time' : ''})` : ''}; next ${s.nextRun ?? 'never'}${s.lastError ? `; last error: ${s.lastError}` : ''}`);
  return [rows.length ? table(rows, ['id', 'addon', 'type', 'trigger', 'state', 'bytes', 'createdAt']) : 'no backups', ...notes, ...schedules].join('\n');
}

const backup = program.command('backup').description('verified backups of addons and of apps\' data directories (HOP3_HOME/backups)');

backup.command('create').description('back up an addon (or an app\'s data directory) and verify it by restoring it into a scratch instance')
  .argument('<name>', 'addon or app').addOption(json())
  .action(async (name: string, o: { json?: boolean }) => {
    const b = await call<BackupRow>(cfg, 'backups.create', { name });
    out(b, Boolean(o.json), () => `${b.id}: ${b.addon} (${b.type}), ${b.bytes} bytes, ${backupState(b)}${b.error ? `: ${b.error}` : ''}`);
    if (!b.verified) process.exitCode = 2;
  });

backup.command('list').description('backups on disk, newest first (each checked against its checksums), and schedules')
  .argument('[name]', 'only this addon or app').addOption(json())
  .action(async (name: string | undefined, o: { json?: boolean }) => {
    const r = await call<{ backups: BackupRow[]; schedules: ScheduleRow[] }>(cfg, 'backups.list', name === undefined ? {} : { name });
    out(r, Boolean(o.json), () => backupsText(r));
  });

backup.command('restore').description('restore a backup into its addon (after backing up what is there now), or into another one with --to')
  .argument('<id>').option('--to <name>', 'restore into this addon or app instead').addOption(json())
  .action(async (id: string, o: { to?: string; json?: boolean }) => {
    const r = await call<{ id: string; into: string; preRestore: string | null; created: boolean }>(cfg, 'backups.restore', { id, ...(o.to === undefined ? {} : { to: o.to }) });
    out(r, Boolean(o.json), () => `${r.id} restored into ${r.into}${r.created ? ' (new)' : ''}${r.preRestore ? `; what was there is backup ${r.preRestore}` : ''}`);
  });

backup.command('schedule').description('back up NAME on a cron schedule (5 fields, UTC) in the daemon, keeping the N newest scheduled backups')
  .argument('<name>').argument('<cron>', 'e.g. "30 3 * * *"')
  .requiredOption('--keep <n>', 'scheduled backups to keep (the newest verified one always stays)', wholeNumber(1, 1000)).addOption(json())
  .action(async (name: string, cron: string, o: { keep: number; json?: boolean }) => {
    const s = await call<ScheduleRow>(cfg, 'backups.schedule', { name, cron, keep: o.keep });
    out(s, Boolean(o.json), () => `${s.name}: backed up on "${s.cron}" (UTC), keeping ${s.keep}; next run ${s.nextRun ?? 'never'}`);
  });

for (const [name, description] of [
  ['start', 'start an app'], ['stop', 'stop an app (its records stay)'], ['restart', 'restart an app\'s processes'],
  ['pause', 'stop an app\'s processes but keep its names: nginx answers 503 until it resumes'], ['resume', 'run a paused app again'],
] as const) {
  program.command(name).description(description).argument('<app>').addOption(timeoutOption()).addOption(detachOption()).addOption(json())
    .action(async (app: string, o: Waiting) => {
      appArg(app);
      if (o.detach) {
        const s = await call<AppStatus>(cfg, `apps.${name}`, { app, detach: true });
        out({ ...s, detached: true }, Boolean(o.json), () => `${app}: ${name} is recorded and applied on its own; ${followHint(app)}`);
        return;
      }
      const deadline = Date.now() + o.timeout * 1000;
      const caused = name === 'start' || name === 'resume' ? await releaseStartWouldRollOut(app) : null;
      const after = caused === null ? 0 : await lastEventId(cfg, app);
      const signal = interruption();
      const giveUp = new AbortController();
      const timer = setTimeout(() => giveUp.abort(`the client gave up after ${o.timeout} s (--timeout)`), o.timeout * 1000);
      signal.addEventListener('abort', () => giveUp.abort(`the client was ${String(signal.reason)}`));
      let s: AppStatus;
      try {
        s = await call<AppStatus>(cfg, `apps.${name}`, { app }, { signal: giveUp.signal });
      } catch (err) {
        if (!giveUp.signal.aborted) throw err;
        const why = String(giveUp.signal.reason);
        // No release of its own to take back: the change stays recorded (stopping twice is harmless).
        if (caused === null) {
          throw userError('CHANGE_UNCONFIRMED', `${name} ${app} was not confirmed: ${why}`, { hint: `the change stays recorded and hop3-server goes on applying it; ${followHint(app)}` });
        }
        await cancelOrSettled(cfg, app, caused, why, stderr);
      } finally {
        clearTimeout(timer);
      }
      // The pass answers before a release it starts is live: the command waits for that too.
      if (caused !== null) {
        await awaitOwnRelease(cfg, app, caused, after, o, signal, stderr, deadline);
        s = await acrossRestart(() => call<AppStatus>(cfg, 'apps.status', { app }));
      }
      out(s!, Boolean(o.json), () => `${app}: ${s.state} (${s.sync}, ${s.health})`);
    });
}

/**
 * The release a start rolls out that is not live yet (a config change or rollback recorded
 * while the app was stopped): the one thing a start that gives up cancels. Null if none.
 */
async function releaseStartWouldRollOut(app: string): Promise<number | null> {
  const s = await call<AppStatus & { desiredState: string; desiredRelease: string | null }>(cfg, 'apps.status', { app });
  if (s.desiredState === 'running' || s.desiredRelease === null || s.desiredRelease === s.release) return null;
  const version = Number(s.desiredRelease.slice(1));
  const r = await releaseRecord(cfg, app, version);
  return r && (r.status === 'pending' || r.status === 'built') ? version : null;
}

program.command('destroy').description('stop an app and delete its files and records').argument('<app>').option('--yes', 'confirm').addOption(json())
  .action(async (app: string, o: { yes?: boolean; json?: boolean }) => {
    appArg(app);
    if (!o.yes) throw userError('CONFIRM', `destroying ${app} deletes its releases and data`, { hint: `run \`hop3 destroy ${app} --yes\`` });
    const r = await call(cfg, 'apps.destroy', { app });
    out(r, Boolean(o.json), () => `${app} destroyed`);
  });

const config = program.command('config').description('environment variables of an app');
config.command('get').argument('<app>').argument('[key]').option('--reveal', "show the passwords in attached addons' URLs").addOption(json())
  .action(async (app: string, key: string | undefined, o: { json?: boolean; reveal?: boolean }) => {
  const env = await call<Record<string, string>>(cfg, 'config.get', { app: appArg(app), ...(o.reveal ? { reveal: true } : {}) });
  if (key !== undefined) {
    if (!(key in env)) throw userError('ENV_NOT_SET', `${key} is not set for ${app}`);
    out({ [key]: env[key] }, Boolean(o.json), () => env[key]!);
    return;
  }
  out(env, Boolean(o.json), () => Object.entries(env).map(([k, v]) => `${k}=${v}`).join('\n'));
});
config.command('set').argument('<app>').argument('<pairs...>', 'KEY=VALUE ...').addOption(timeoutOption()).addOption(detachOption()).addOption(json()).action(async (app: string, pairs: string[], o: Waiting) => {
  appArg(app);
  const values: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw userError('ENV_INVALID', `${quoteValue(p)} is not KEY=VALUE`, { hint: 'e.g. hop3 config set APP DATABASE_URL=postgres://db/app' });
    validateEnvEntry(p.slice(0, i), p.slice(i + 1));
    values[p.slice(0, i)] = p.slice(i + 1);
  }
  const after = await acrossRestart(() => lastEventId(cfg, app));
  const signal = interruptionUnless(o.detach);
  const r = await callRecording<Partial<Recorded>>(cfg, 'config.set', { app, values });
  await followConfigRelease(app, r, after, o, signal, `set ${Object.keys(values).join(', ')}`);
});
config.command('unset').argument('<app>').argument('<keys...>').addOption(timeoutOption()).addOption(detachOption()).addOption(json()).action(async (app: string, keys: string[], o: Waiting) => {
  appArg(app);
  for (const k of keys) validateEnvEntry(k, '');
  const after = await acrossRestart(() => lastEventId(cfg, app));
  const signal = interruptionUnless(o.detach);
  const r = await callRecording<Partial<Recorded>>(cfg, 'config.unset', { app, keys });
  await followConfigRelease(app, r, after, o, signal, `unset ${keys.join(', ')}`);
});

const SCALE = rpcSchema.methods['apps.scale'].params.properties.counts;

/** `TYPE=N` arguments, checked here against the daemon's schema before any request. */
function scaleArgs(pairs: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const p of pairs) {
    const m = /^([^=]*)=(\d{1,4})$/.exec(p);
    const [name, n] = m ? [m[1]!, Number(m[2])] : [null, null];
    if (name === null || !new RegExp(SCALE.propertyNames.pattern).test(name)) {
      throw userError('SCALE_COUNT_INVALID', `${quoteValue(p)} is not PROCESS=COUNT`, { hint: 'e.g. hop3 scale APP web=3 worker=2' });
    }
    if (n! > SCALE.additionalProperties.maximum) {
      throw userError('SCALE_COUNT_INVALID', `${p}: a count is a whole number from 0 to ${SCALE.additionalProperties.maximum}`);
    }
    counts[name] = n!;
  }
  return counts;
}

program.command('scale').description('run COUNT instances of each PROCESS type (a new release from the same build) and wait until it serves')
  .argument('<app>').argument('<counts...>', 'PROCESS=COUNT ..., e.g. web=3 worker=2')
  .addOption(timeoutOption()).addOption(detachOption()).addOption(json())
  .action(async (app: string, pairs: string[], o: Waiting) => {
    appArg(app);
    const counts = scaleArgs(pairs);
    const after = await acrossRestart(() => lastEventId(cfg, app));
    const signal = interruptionUnless(o.detach);
    const r = await callRecording<Partial<Recorded>>(cfg, 'apps.scale', { app, counts });
    await followConfigRelease(app, r, after, o, signal, `scaled ${Object.entries(counts).map(([k, n]) => `${k}=${n}`).join(' ')}${r.version === undefined ? ' (already running: nothing to roll out)' : ''}`);
  });

type ProcessRow = { process: string; index: number; pid: number | null; state: string; uptime: number | null; restarts: number; release: string; port: number | null };
program.command('ps').description("the app's process instances as the process supervisor reports them").argument('<app>').addOption(json())
  .action(async (app: string, o: { json?: boolean }) => {
    const rows = await call<ProcessRow[]>(cfg, 'apps.ps', { app: appArg(app) });
    out(rows, Boolean(o.json), () => (rows.length === 0 ? `${app} runs no process`
      : table(rows.map((r) => ({ ...r, uptime: r.uptime === null ? '-' : `${r.uptime}s` })), ['process', 'index', 'state', 'pid', 'uptime', 'restarts', 'release', 'port'])));
  });

type AddonView = { name: string; type: string; createdAt: string; attachedTo: { app: string; env: string }[]; env?: string };
const addonRows = (rows: AddonView[]) => (rows.length === 0 ? 'no addons' : table(rows.map((r) => ({ ...r, attachedTo: r.attachedTo.map((a) => `${a.app} (${a.env})`).join(' ') || '-' })), ['name', 'type', 'attachedTo', 'createdAt']));

const addons = program.command('addons').description('databases and caches (PostgreSQL, MariaDB, Redis) hop3 runs and attaches to apps')
  .argument('[app]', 'only the addons this app is attached to').addOption(json())
  .action(async (app: string | undefined, o: { json?: boolean }) => {
    const rows = await call<AddonView[]>(cfg, 'addons.list', app === undefined ? {} : { app: appArg(app) });
    out(rows, Boolean(o.json), () => addonRows(rows));
  });
/** `addons` takes --json too, and commander gives it to the parent when both have it. */
const addonsJson = (o: { json?: boolean }) => Boolean(o.json || addons.opts<{ json?: boolean }>().json);

addons.command('create').description('create an addon: TYPE is postgres, mariadb (or mysql) or redis').argument('<type>').argument('<name>').addOption(json())
  .action(async (type: string, name: string, o: { json?: boolean }) => {
    const r = await call<AddonView>(cfg, 'addons.create', { type, name });
    out(r, addonsJson(o), () => `addon ${r.name} (${r.type}) created; attach it with \`hop3 addons attach APP ${r.name}\``);
  });
addons.command('attach').description("give APP the addon's connection URL (DATABASE_URL or REDIS_URL unless --as) in a new release")
  .argument('<app>').argument('<name>').option('--as <var>', 'the environment variable to put the URL in')
  .addOption(timeoutOption()).addOption(detachOption()).addOption(json())
  .action(async (app: string, name: string, opts: Waiting & { as?: string }) => {
    const o = { ...opts, json: addonsJson(opts) };
    appArg(app);
    const after = await acrossRestart(() => lastEventId(cfg, app));
    const signal = interruptionUnless(o.detach);
    const r = await callRecording<Partial<Recorded> & { env: string }>(cfg, 'addons.attach', { app, addon: name, ...(o.as === undefined ? {} : { as: o.as }) });
    await followConfigRelease(app, r, after, o, signal, `attached ${name} as ${r.env}`);
  });
addons.command('detach').description("remove the variable from APP in a new release and drop APP's own login to the addon")
  .argument('<app>').argument('<name>').addOption(timeoutOption()).addOption(detachOption()).addOption(json())
  .action(async (app: string, name: string, opts: Waiting) => {
    const o = { ...opts, json: addonsJson(opts) };
    appArg(app);
    const after = await acrossRestart(() => lastEventId(cfg, app));
    const signal = interruptionUnless(o.detach);
    const r = await callRecording<Partial<Recorded> & { env: string; revoked: boolean; hint?: string }>(cfg, 'addons.detach', { app, addon: name });
    await followConfigRelease(app, r, after, o, signal, `detached ${name} (${r.env})${r.revoked ? '; its old password no longer logs in' : `; its login is not dropped yet: ${r.hint ?? ''}`}`);
  });
addons.command('info').description('type, server version, size and attached apps of an addon').argument('<name>').addOption(json())
  .action(async (name: string, o: { json?: boolean }) => {
    const r = await call<Record<string, unknown>>(cfg, 'addons.info', { addon: name });
    out(r, addonsJson(o), () => Object.entries(r).map(([k, v]) => `${k.padEnd(12)} ${typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '-')}`).join('\n'));
  });
addons.command('shell').description("open the addon's own client (psql, mariadb, redis-cli) on it; piped input is run as a script")
  .argument('<name>')
  .action(async (name: string) => {
    process.exitCode = await runAddonShell(cfg, name);
  });
addons.command('destroy').description("delete an addon and its data (no app may be attached)").argument('<name>').option('--yes', 'confirm').addOption(json())
  .action(async (name: string, o: { json?: boolean; yes?: boolean }) => {
    if (!o.yes) throw userError('CONFIRM', `destroying addon ${name} deletes its data`, { hint: `run \`hop3 addons destroy ${name} --yes\`` });
    const r = await call(cfg, 'addons.destroy', { addon: name, yes: true });
    out(r, addonsJson(o), () => `addon ${name} destroyed`);
  });

/** A config change rolls out a new release, unless the app has none yet or is stopped. */
async function followConfigRelease(app: string, r: Partial<Recorded>, after: number, o: Waiting, signal: AbortSignal, what: string): Promise<void> {
  const rollsOut = r.version !== undefined && r.desiredState === 'running';
  if (rollsOut && o.detach) {
    out({ ...r, detached: true }, Boolean(o.json), () => `${what}; release ${r.release} is recorded and rolls out on its own; ${followHint(app)}`);
    return;
  }
  if (rollsOut) await awaitOwnRelease(cfg, app, r.version!, after, o, signal, stderr);
  out(r, Boolean(o.json), () => `${what}${r.version === undefined ? '' : r.desiredState === 'running' ? `; release ${r.release} is live` : `; ${stoppedNote(r as Recorded)}`}`);
}

function specError(dir: string, issues: SpecIssue[], formatIssue: (i: SpecIssue) => string): Hop3Error {
  return userError('SPEC_INVALID', `${issues.length} problem(s) in ${dir}:\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`, { details: issues });
}

program.command('validate').description('check an app directory locally').argument('[dir]', 'app directory', '.').addOption(json())
  .action(async (dirArg: string, o: { json?: boolean }) => {
    const dir = resolve(dirArg);
    const { loadAppDir, formatIssue } = await manifestLoader();
    const { spec, issues, builder } = loadAppDir(dir);
    if (o.json) console.log(JSON.stringify({ ok: issues.length === 0, issues, spec, builder: builder ?? null }, null, 2));
    if (issues.length > 0) {
      if (!o.json) console.error(issues.map(formatIssue).join('\n'));
      process.exitCode = 1;
      return;
    }
    if (!o.json) console.log(`${dir}: ok (${builder} build; ${spec!.processes.map((p) => `${p.name}: ${p.kind}`).join(', ') || 'no processes'})`);
  });

function fail(err: unknown): void {
  const e = asHop3Error(err);
  if (asJson) {
    console.log(JSON.stringify({ error: { code: e.code, category: e.category, message: e.message, hint: e.hint, details: e.details } }, null, 2));
  } else {
    console.error(`error: ${e.message}`);
    if (e.hint) console.error(`hint: ${e.hint}`);
  }
  process.exitCode = e.category === 'user' ? 1 : 2;
}

program.parseAsync().catch(fail);
