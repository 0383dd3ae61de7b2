import { mkdirSync, rmSync } from 'node:fs';
import { matches, parseCron, type Cron } from '../../../lib/cron.js';
import { errorMessage } from '../../../lib/errors.js';
import { ObservedFiles } from '../../../lib/file-signature.js';
import { UNKNOWN } from '../../../lib/unknown.js';
import { ExecError, type Exec } from '../../../lib/exec.js';
import { readTextOrNull, writeFileAtomic } from '../../../lib/fs-atomic.js';
import type { Logger } from '../../../lib/logger.js';
import { recordedGroupRuns, recordGroup, stopRecordedGroup } from '../../../lib/process-group.js';
import type { CronOutcome, Hop3Event } from '../../../store/events.js';
import { entryFiles, parseEntry, readCronDir, type CronEntry } from './entry-files.js';
import { RunOutput } from './run-output.js';

export type CronRan = Extract<Hop3Event, { kind: 'cron.ran' }>;

/** What the scheduler keeps of an entry's last run (`<name>.last`). */
export interface LastRun {
  /** The minute the last run was due at (ISO): a restart within that minute does not run it again. */
  due: string;
  /** The release whose command ran (the entry may have moved on since). */
  release: number;
  startedAt: string;
  endedAt: string | null;
  outcome: CronOutcome | null;
  exitCode: number | null;
}

export interface CronSchedulerDeps {
  dir: string;
  exec: Exec;
  log: Logger;
  /** What time it is: the daemon's clock, or one a test moves. */
  clock: () => Date;
  /** A run still going after this long is stopped (its whole process group). */
  timeoutMs: number;
  record(app: string, e: CronRan): void;
}

const MINUTE_MS = 60_000;

/** Whether `cron` names the minute starting at `minute` (a multiple of 60 s). */
export const dueAt = (cron: Cron, minute: number): boolean => matches(cron, new Date(minute));

export function readLastRun(file: string): LastRun | null {
  const text = readTextOrNull(file);
  if (text === null) return null;
  try {
    return JSON.parse(text) as LastRun;
  } catch {
    return null;
  }
}

/**
 * Runs armed cron entries (the files of the cron provider) in the daemon, each in its minute and
 * never two runs of one entry at a time. A run is `/bin/sh -c COMMAND` in the release's directory
 * with the release's environment only, in a process group of its own, recorded in `<name>.pgid`
 * while it runs: a daemon started after a killed one finds a run still under way by looking at
 * that group, and does not start another beside it. A minute that comes while the last run still
 * goes is skipped, not made up later; so are minutes hop3-server was down.
 */
export class CronScheduler {
  private readonly d: CronSchedulerDeps;
  private timer: NodeJS.Timeout | null = null;
  private readonly running = new Map<string, { done: Promise<void>; abort: AbortController }>();
  /** The minute each entry was last due at, as this daemon saw it. */
  private readonly lastDue = new Map<string, number>();
  private readonly warned = new Set<string>();
  /** When this daemon found each run an earlier one left, for a run whose start is not on record. */
  private readonly foundAt = new Map<string, number>();
  /** The minute of the last look. */
  private looked: number | null = null;
  /** Entry files, read again only when they changed (see ObservedFiles), and each as last parsed. */
  private readonly files = new ObservedFiles();
  private readonly parsed = new Map<string, { content: string; entry: CronEntry | null; cron: Cron | null }>();

  constructor(deps: CronSchedulerDeps) {
    this.d = deps;
  }

  /** Looks once a second: a run starts within about a second of its minute. */
  start(tickMs = 1000): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.tick(), tickMs);
    this.tick();
  }

  /** Stop looking, and stop the runs under way (SIGTERM to their groups, SIGKILL after a grace period). */
  async stop(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const r of this.running.values()) r.abort.abort();
    await this.idle();
  }

  /** Resolves once the runs under way have ended and been recorded. */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.running.values()].map((r) => r.done));
  }

  /** Whether a run of the entry is under way, started by this daemon or by one before it. */
  inFlight(name: string): boolean {
    return this.running.has(name) || recordedGroupRuns(entryFiles(this.d.dir, name).pgid);
  }

  /**
   * Start the runs due in the current minute, on the first look in it (the others return at once:
   * runs start at their minute, as cron's do). Never throws.
   */
  tick(): void {
    const minute = Math.floor(this.d.clock().getTime() / MINUTE_MS) * MINUTE_MS;
    if (minute === this.looked) return;
    this.looked = minute;
    let entries: ReturnType<typeof readCronDir>['entries'];
    let groups: Set<string>;
    try {
      ({ entries, groups } = readCronDir(this.d.dir));
    } catch (err) {
      this.d.log.warn({ err: errorMessage(err) }, 'cron entries could not be listed');
      return;
    }
    const names = new Set(entries.map((e) => e.name));
    for (const name of this.parsed.keys()) if (!names.has(name)) this.parsed.delete(name);
    for (const { name } of entries) {
      try {
        this.look(name, minute, groups.has(name));
      } catch (err) {
        this.d.log.warn({ entry: name, err: errorMessage(err) }, 'a cron entry could not be looked at');
      }
    }
    // A run left behind whose entry was removed since: still held to the time limit.
    for (const name of groups) {
      if (names.has(name) || this.running.has(name)) continue;
      try {
        this.leftBehind(name);
      } catch (err) {
        this.d.log.warn({ entry: name, err: errorMessage(err) }, 'a cron run left behind could not be looked at');
      }
    }
  }

  /** The entry file, parsed, and its schedule; null when it is gone. */
  private read(name: string): { entry: CronEntry | null; cron: Cron | null } | null {
    const file = entryFiles(this.d.dir, name).entry;
    const content = this.files.read(file);
    if (content === UNKNOWN) throw new Error(`${file} cannot be read`);
    if (content === null) return null;
    // An unchanged file is the same string again: parsed once.
    const known = this.parsed.get(name);
    if (known?.content === content) return known;
    const entry = parseEntry(content);
    let cron: Cron | null = null;
    try {
      cron = entry && parseCron(entry.schedule);
    } catch {
      cron = null;
    }
    const value = { content, entry, cron };
    this.parsed.set(name, value);
    return value;
  }

  /** `recorded`: the listing showed a run's group recorded for it. */
  private look(name: string, minute: number, recorded: boolean): void {
    const files = entryFiles(this.d.dir, name);
    if (recorded && !this.running.has(name)) this.leftBehind(name);
    const read = this.read(name);
    if (read === null) return;
    const { entry, cron } = read;
    if (!entry || !cron) {
      if (!this.warned.has(name)) this.d.log.warn({ entry: name }, 'a cron entry file is not one hop3 wrote; it is not run');
      this.warned.add(name);
      return;
    }
    this.warned.delete(name);
    if (!dueAt(cron, minute)) return;
    const last = this.lastDue.get(name) ?? Date.parse(readLastRun(files.last)?.due ?? '');
    if (last >= minute) return;
    this.lastDue.set(name, minute);
    if (this.inFlight(name)) {
      this.d.log.info({ entry: name, due: new Date(minute).toISOString() }, 'cron run skipped: the last one still runs');
      return;
    }
    const abort = new AbortController();
    const done = this.run(name, entry, new Date(minute), abort.signal)
      // The store or the disk failing to record it: the log has it.
      .catch((err: unknown) => this.d.log.warn({ entry: name, err: errorMessage(err) }, 'a cron run could not be recorded'))
      .finally(() => this.running.delete(name));
    this.running.set(name, { done, abort });
  }

  /**
   * A run recorded by a daemon that was killed. Once its group has ended, its exit status and
   * output went with that daemon: said once, as unobserved, and the record dropped. While it
   * goes, it is held to the time limit its own daemon would have held it to, counted from the
   * start its last-run record gives (or from when this daemon found it).
   */
  private leftBehind(name: string): void {
    const files = entryFiles(this.d.dir, name);
    if (readTextOrNull(files.pgid) === null) return;
    const last = readLastRun(files.last);
    const entry = parseEntry(readTextOrNull(files.entry) ?? '');
    const now = this.d.clock().getTime();
    const recorded = last?.endedAt === null ? Date.parse(last.startedAt) : NaN;
    // Never later than when this daemon found it: a start in the future (a clock set back) holds it no longer.
    const found = this.foundAt.get(name) ?? now;
    const since = Number.isFinite(recorded) ? Math.min(recorded, found) : found;
    const say = (outcome: CronOutcome) => {
      this.foundAt.delete(name);
      if (!entry) return;
      this.d.record(entry.app, {
        kind: 'cron.ran',
        data: {
          process: entry.process, release: last?.release ?? entry.release, schedule: entry.schedule, startedAt: new Date(since).toISOString(),
          seconds: outcome === 'timed-out' ? Math.round((now - since) / 1000) : 0, outcome, exitCode: null, output: [], dropped: 0,
        },
      });
      if (last) writeFileAtomic(files.last, `${JSON.stringify({ ...last, outcome, ...(outcome === 'timed-out' ? { endedAt: new Date(now).toISOString() } : {}) } satisfies LastRun)}\n`, 0o600);
    };
    if (!recordedGroupRuns(files.pgid)) {
      rmSync(files.pgid, { force: true });
      say('unobserved');
      return;
    }
    this.foundAt.set(name, since);
    if (now - since < this.d.timeoutMs) return;
    // Held in `running` while it is stopped: no run starts beside it, and stop() waits for it.
    const done = stopRecordedGroup(files.pgid)
      .then((stopped) => stopped && say('timed-out'))
      .catch((err: unknown) => this.d.log.warn({ entry: name, err: errorMessage(err) }, 'a cron run left by an earlier daemon could not be stopped'))
      .finally(() => this.running.delete(name));
    this.running.set(name, { done: done.then(() => undefined), abort: new AbortController() });
  }

  private async run(name: string, entry: CronEntry, due: Date, signal: AbortSignal): Promise<void> {
    const files = entryFiles(this.d.dir, name);
    const startedAt = this.d.clock().toISOString();
    const t0 = performance.now();
    const last: LastRun = { due: due.toISOString(), release: entry.release, startedAt, endedAt: null, outcome: null, exitCode: null };
    writeFileAtomic(files.last, `${JSON.stringify(last)}\n`, 0o600);
    const output = new RunOutput();
    let outcome: CronOutcome = 'succeeded';
    let exitCode: number | null = 0;
    try {
      if (entry.env.HOME) mkdirSync(entry.env.HOME, { recursive: true, mode: 0o700 });
      await this.d.exec.run(['/bin/sh', '-c', entry.command], {
        cwd: entry.cwd, env: entry.env, cleanEnv: true, killGroup: true, timeoutMs: this.d.timeoutMs, signal, onLine: output.line,
        onSpawn: (pid) => recordGroup(files.pgid, pid, `cron run of ${name}`),
      });
    } catch (err) {
      exitCode = err instanceof ExecError ? (err.exitCode ?? null) : null;
      const elapsed = performance.now() - t0;
      outcome = signal.aborted ? 'stopped' : exitCode === null && elapsed >= this.d.timeoutMs ? 'timed-out' : 'failed';
      if (exitCode === null && outcome === 'failed') output.line(`hop3: ${errorMessage(err)}`);
    } finally {
      rmSync(files.pgid, { force: true });
    }
    const seconds = Math.round((performance.now() - t0) / 100) / 10;
    this.d.record(entry.app, {
      kind: 'cron.ran',
      data: { process: entry.process, release: entry.release, schedule: entry.schedule, startedAt, seconds, outcome, exitCode, output: output.lines(), dropped: output.dropped },
    });
    // An entry removed while it ran keeps nothing behind.
    if (readTextOrNull(files.entry) === null) return;
    writeFileAtomic(files.last, `${JSON.stringify({ ...last, endedAt: this.d.clock().toISOString(), outcome, exitCode } satisfies LastRun)}\n`, 0o600);
  }
}
