import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { finished, type Readable } from 'node:stream';
import { Hop3Error } from './errors.js';
import { stopGroup } from './process-group.js';

export interface ExecOptions {
  cwd?: string;
  /** Added to the allowlisted part of the daemon's environment (see `childEnv`). */
  env?: Record<string, string>;
  /** Exactly `env`, not even the allowlisted variables (app builds and release commands). */
  cleanEnv?: boolean;
  timeoutMs?: number;
  input?: string;
  /** Called for each output line (stdout and stderr) as it arrives. */
  onLine?: (line: string) => void;
  /**
   * Run in a process group of its own and kill the whole group when the program exits: an app's
   * shell command that leaves something in the background must not hold hop3 (or live on).
   */
  killGroup?: boolean;
  /** Aborting it kills the program (a cancelled release stops its build at once). */
  signal?: AbortSignal;
  /** Called with the program's pid once it runs, before anything waits on it. */
  onSpawn?: (pid: number) => void;
}

export interface ExecResult {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export class ExecError extends Hop3Error {
  readonly command: string[];
  readonly exitCode: number | undefined;
  readonly output: string;

  constructor(command: string[], exitCode: number | undefined, output: string, reason: string) {
    super('EXEC_FAILED', `${command[0]} ${reason}`, {
      details: { command, exitCode, output: output.slice(-4000) },
    });
    this.command = command;
    this.exitCode = exitCode;
    this.output = output;
  }
}

/** The daemon's variables a program hop3 runs for itself may see; nothing else gets through. */
const PASSED = new Set(['PATH', 'HOME', 'LANG', 'LANGUAGE', 'TZ', 'TMPDIR']);

/**
 * The environment of every program hop3 starts: the allowlisted variables of the daemon's
 * (renovate's getChildProcessEnv) plus what the call passes. A token or password exported in
 * the daemon's shell reaches no child. This is the one place below the entry points that reads
 * process.env, and it reads only these names.
 */
export function childEnv(extra: Record<string, string> = {}, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(from)) {
    if (v !== undefined && (PASSED.has(k) || k.startsWith('LC_'))) env[k] = v;
  }
  return { ...env, ...extra };
}
/** Output lines longer than this reach `onLine` cut short. */
export const MAX_LINE = 64 * 1024;
/** Output kept for the error of a streamed command. */
const TAIL_CHARS = 16_384;

/**
 * How hop3 runs programs: one per process (the daemon, a CLI command), created at the entry
 * point and passed in the context object. It counts what it starts, so a benchmark can prove a
 * converged pass spawns nothing; `from` is the environment the allowlist reads (the daemon's).
 */
export interface Exec {
  /** An argv array (never a shell string), a timeout, and a typed error carrying the command, its output and its exit code. */
  run(argv: string[], opts?: ExecOptions): Promise<ExecResult>;
  runPiped<T>(argv: string[], consume: (stdout: Readable) => Promise<T>, opts?: Pick<ExecOptions, 'env' | 'cwd' | 'timeoutMs'>): Promise<T>;
  /**
   * Run a program with `input` streamed into its stdin (a file decompressed as it is read), its
   * output kept as `run` keeps it. An input that fails is an ExecInputError, the program killed.
   */
  runFed(argv: string[], input: Readable, opts?: FedOptions): Promise<ExecResult>;
  spawnDetached(argv: string[], logFile: string, env?: Record<string, string>): number;
  /**
   * Run a program in a process group of its own with exactly `env`, handing its output over as
   * it comes; the group is stopped (TERM, KILL after a grace) on abort or after `timeoutMs`, and
   * killed once the program exits, so nothing it left behind lives on.
   */
  runStreamed(argv: string[], opts: StreamedOptions): Promise<StreamedExit>;
  /** Count a program started by other means (a CGI child whose streams hop3 wires itself). */
  counted(): void;
  /** Programs started so far. */
  readonly spawns: number;
}

export interface FedOptions extends Pick<ExecOptions, 'env' | 'cwd' | 'timeoutMs'> {
  /**
   * Read the input to its end even after the program stops reading it (`pg_restore --list` reads
   * only a dump's table of contents): an input that fails late, at a checksum at its end, still
   * fails the run.
   */
  readToEnd?: boolean;
}

export interface StreamedOptions {
  cwd: string;
  env: Record<string, string>;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Called with the program's pid (its group's id) once it runs, before anything waits on it. */
  onSpawn?: (pid: number) => void;
  /** Output as it comes (1: stdout, 2: stderr). A promise holds the program's output until it settles (a slow reader). */
  onOutput: (fd: 1 | 2, chunk: Buffer) => void | Promise<void>;
}

export interface StreamedExit {
  /** null when a signal ended it. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  aborted: boolean;
}

/** A program that could not be started at all (not found, not executable): `errno` says why. */
export class SpawnError extends ExecError {
  readonly errno: string;

  constructor(argv: string[], errno: string, message: string) {
    super(argv, undefined, '', `could not be started: ${message}`);
    this.errno = errno;
  }
}

/** The input of a `runFed` program failed (a corrupt or truncated compressed file): `inputError` says how. */
export class ExecInputError extends ExecError {
  readonly inputError: unknown;

  constructor(argv: string[], output: string, inputError: unknown) {
    super(argv, undefined, output, `had its input fail: ${inputError instanceof Error ? inputError.message : String(inputError)}`);
    this.inputError = inputError;
  }
}

function runStreamedProgram(argv: string[], opts: StreamedOptions): Promise<StreamedExit> {
  const [file, ...args] = argv;
  if (!file) throw new Error('runStreamed: empty argv');
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let timedOut = false;
    let aborted = false;
    let settled = false;
    const pid = child.pid;
    if (pid !== undefined) opts.onSpawn?.(pid);
    const stop = () => {
      if (pid !== undefined) void stopGroup(pid);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    const onAbort = () => {
      aborted = true;
      stop();
    };
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    child.once('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      done();
      reject(new SpawnError(argv, err.code ?? 'UNKNOWN', err.message));
    });
    let holds = 0;
    const streams = [child.stdout!, child.stderr!];
    for (const [i, stream] of streams.entries()) {
      stream.on('data', (chunk: Buffer) => {
        const held = opts.onOutput(i === 0 ? 1 : 2, chunk);
        if (!held) return;
        if (holds++ === 0) for (const s of streams) s.pause();
        void held.finally(() => {
          if (--holds === 0) for (const s of streams) s.resume();
        });
      });
    }
    child.once('exit', () => {
      if (pid === undefined) return;
      // What it left in the background would hold its output open and live on.
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
    });
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      if (settled) return;
      settled = true;
      done();
      resolve({ exitCode: code, signal, timedOut, aborted });
    });
  });
}

export function createExec(from: NodeJS.ProcessEnv = process.env): Exec {
  let spawns = 0;
  return {
    run: (argv, opts) => (spawns++, runProgram(argv, opts ?? {}, from)),
    runPiped: (argv, consume, opts) => (spawns++, runPipedProgram(argv, consume, opts ?? {}, from)),
    runFed: (argv, input, opts) => (spawns++, runFedProgram(argv, input, opts ?? {}, from)),
    spawnDetached: (argv, logFile, env) => (spawns++, spawnDetachedProgram(argv, logFile, env ?? {}, from)),
    runStreamed: (argv, opts) => (spawns++, runStreamedProgram(argv, opts)),
    counted: () => void spawns++,
    get spawns() {
      return spawns;
    },
  };
}

async function runProgram(argv: string[], opts: ExecOptions, from: NodeJS.ProcessEnv): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('run: empty argv');
  // Loaded on first use: short-lived programs (the git hook, the CLI) start faster without it.
  const { execa } = await import('execa');
  const streaming = opts.onLine !== undefined;
  const child = execa(file, args, {
    cwd: opts.cwd,
    env: opts.cleanEnv ? (opts.env ?? {}) : childEnv(opts.env, from),
    extendEnv: false,
    timeout: opts.timeoutMs ?? 120_000,
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    reject: false,
    all: true,
    // Streamed output is not buffered: a build may print far more than memory should hold (or
    // execa's maxBuffer allows); its error keeps the tail.
    buffer: !streaming,
    lines: false,
    stripFinalNewline: true,
    detached: opts.killGroup ?? false,
    // A group is stopped as a whole (below), so that every member can clean up.
    cancelSignal: opts.killGroup ? undefined : opts.signal,
  });
  const pid = child.pid;
  if (pid !== undefined) opts.onSpawn?.(pid);
  let cancelled = false;
  if (opts.killGroup && pid !== undefined) {
    // Cancelled: the whole group gets SIGTERM and a grace period (a release command that traps it
    // can release its locks); killing only the leader would SIGKILL the rest below at once.
    const cancel = () => {
      cancelled = true;
      void stopGroup(pid);
    };
    if (opts.signal?.aborted) cancel();
    else opts.signal?.addEventListener('abort', cancel, { once: true });
    child.nodeChildProcess.on('exit', () => {
      opts.signal?.removeEventListener('abort', cancel);
      if (cancelled) return;
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
    });
  }
  // A callback that throws (its store is locked, the disk is full) inside a stream handler would
  // be an uncaught exception; the first such error fails the run once the program has ended.
  let lineError: unknown = null;
  let tail = '';
  if (opts.onLine) {
    const given = opts.onLine;
    const onLine = (line: string) => {
      if (lineError !== null) return;
      try {
        given(line);
      } catch (err) {
        lineError = err;
      }
    };
    let pending = '';
    child.all?.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      tail = (tail + text).slice(-TAIL_CHARS);
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      // A program that never ends its line must not grow one string without end.
      if (pending.length > MAX_LINE) {
        lines.push(pending);
        pending = '';
      }
      for (const line of lines) onLine(line.length > MAX_LINE ? `${line.slice(0, MAX_LINE)} [line cut at ${MAX_LINE} characters]` : line);
    });
    child.all?.on('end', () => {
      if (pending) onLine(pending);
    });
  }
  const result = await child;
  const output = streaming ? tail.replace(/\n$/, '') : String(result.all ?? '');
  if (lineError !== null) throw lineError;
  if (result.isCanceled || cancelled) throw new ExecError(argv, undefined, output, 'was cancelled');
  if (result.timedOut) throw new ExecError(argv, undefined, output, `timed out after ${opts.timeoutMs ?? 120_000} ms`);
  if (result.failed) {
    const reason = result.exitCode === undefined ? `failed: ${result.originalMessage ?? result.message}` : `exited with code ${result.exitCode}`;
    throw new ExecError(argv, result.exitCode, output, reason);
  }
  return { stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? ''), exitCode: result.exitCode ?? 0 };
}

/**
 * Start a long-running program in its own session, detached from hop3-server, so that it keeps
 * running when the daemon stops or is killed. Its output goes to `logFile`; `env` is added to the
 * allowlisted environment.
 */
function spawnDetachedProgram(argv: string[], logFile: string, env: Record<string, string>, from: NodeJS.ProcessEnv): number {
  const [file, ...args] = argv;
  if (!file) throw new Error('spawnDetached: empty argv');
  const fd = openSync(logFile, 'a', 0o600);
  try {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd], env: childEnv(env, from) });
    child.unref();
    if (child.pid === undefined) throw new ExecError(argv, undefined, '', 'could not be started');
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/**
 * Run a program whose stdout is consumed as a stream (an archive unpacked as it is made), so
 * its output is never held in memory. If `consume` gives up, the program is killed and the
 * consumer's error is the one thrown; if the program fails, its error is.
 */
async function runPipedProgram<T>(argv: string[], consume: (stdout: Readable) => Promise<T>, opts: Pick<ExecOptions, 'env' | 'cwd' | 'timeoutMs'>, from: NodeJS.ProcessEnv): Promise<T> {
  const [file, ...args] = argv;
  if (!file) throw new Error('runPiped: empty argv');
  const { execa } = await import('execa');
  const child = execa(file, args, {
    cwd: opts.cwd, env: childEnv(opts.env, from), extendEnv: false, stdin: 'ignore', buffer: false, reject: false, timeout: opts.timeoutMs ?? 600_000,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 4000) stderr += chunk.toString('utf8');
  });
  let value: T | undefined;
  let failure: { err: unknown } | null = null;
  try {
    value = await consume(child.stdout!);
  } catch (err) {
    failure = { err };
    child.kill('SIGKILL');
  }
  const result = await child;
  if (result.timedOut) throw new ExecError(argv, undefined, stderr, `timed out after ${opts.timeoutMs ?? 600_000} ms`);
  // A consumer that gave up is the reason (the program then dies of SIGKILL or EPIPE).
  if (failure) throw failure.err;
  if (result.failed) throw new ExecError(argv, result.exitCode, stderr, result.exitCode === undefined ? 'failed' : `exited with code ${result.exitCode}`);
  return value as T;
}

function runFedProgram(argv: string[], input: Readable, opts: FedOptions, from: NodeJS.ProcessEnv): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('runFed: empty argv');
  const timeoutMs = opts.timeoutMs ?? 600_000;
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: childEnv(opts.env, from), stdio: ['pipe', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    let all = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout.push(chunk);
      all = (all + chunk.toString('utf8')).slice(-TAIL_CHARS);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      stderr = (stderr + text).slice(-TAIL_CHARS);
      all = (all + text).slice(-TAIL_CHARS);
    });
    let inputFailure: { err: unknown } | null = null;
    let inputDone = false;
    /** The input was ended on purpose (the program stopped reading, or timed out): no failure of it then counts. */
    let discarded = false;
    let exit: { code: number | null; spawnError?: NodeJS.ErrnoException } | null = null;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      discarded = true;
      child.kill('SIGKILL');
      input.destroy();
    }, timeoutMs);
    const settle = () => {
      if (!inputDone || exit === null) return;
      clearTimeout(timer);
      const output = all.replace(/\n$/, '');
      if (exit.spawnError) reject(new SpawnError(argv, exit.spawnError.code ?? 'UNKNOWN', exit.spawnError.message));
      else if (inputFailure) reject(new ExecInputError(argv, output, inputFailure.err));
      else if (timedOut) reject(new ExecError(argv, undefined, output, `timed out after ${timeoutMs} ms`));
      else if (exit.code !== 0) reject(new ExecError(argv, exit.code ?? undefined, output, exit.code === null ? 'was killed by a signal' : `exited with code ${exit.code}`));
      else resolve({ stdout: Buffer.concat(stdout).toString('utf8').replace(/\n$/, ''), stderr: stderr.replace(/\n$/, ''), exitCode: 0 });
    };
    // An error, or a close before its end (a destroyed stream), unless hop3 ended it itself.
    finished(input, (err) => {
      if (inputDone) return;
      inputDone = true;
      if (err && !discarded) {
        inputFailure = { err };
        child.kill('SIGKILL');
      }
      settle();
    });
    // The program stopped reading (it has all it wants, or it failed): what is left of the input
    // is read to its end only when asked, so that its own failure still shows.
    let stopped = false;
    const stopFeeding = () => {
      if (stopped || inputDone) return;
      stopped = true;
      input.unpipe(child.stdin);
      if (opts.readToEnd && !timedOut) {
        input.resume();
      } else {
        discarded = true;
        input.destroy();
      }
    };
    // EPIPE: the program closed its stdin or exited before the input ended.
    child.stdin.on('error', stopFeeding);
    child.once('error', (err: NodeJS.ErrnoException) => {
      exit = { code: null, spawnError: err };
      discarded = true;
      input.destroy();
    });
    child.once('close', (code) => {
      exit ??= { code };
      stopFeeding();
      settle();
    });
    input.pipe(child.stdin);
  });
}
