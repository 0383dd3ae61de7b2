import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { Hop3Error } from './errors.js';
import { stopGroup } from './process-group.js';

export interface ExecOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Replace the environment instead of extending the daemon's. */
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
    super('operational', 'EXEC_FAILED', `${command[0]} ${reason}`, {
      details: { command, exitCode, output: output.slice(-4000) },
    });
    this.command = command;
    this.exitCode = exitCode;
    this.output = output;
  }
}

/** Counts spawned processes so benchmarks can prove a converged pass spawns nothing. */
export const execStats = { spawns: 0 };

/**
 * The only way hop3 runs a program: an argv array (never a shell string), a timeout,
 * and a typed error carrying the command, its output and its exit code.
 */
export async function run(argv: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...args] = argv;
  if (!file) throw new Error('run: empty argv');
  execStats.spawns++;
  // Loaded on first use: short-lived programs (the git hook, the CLI) start faster without it.
  const { execa } = await import('execa');
  const child = execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: !opts.cleanEnv,
    timeout: opts.timeoutMs ?? 120_000,
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    reject: false,
    all: true,
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
  if (opts.onLine) {
    const onLine = opts.onLine;
    let pending = '';
    child.all?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    });
    child.all?.on('end', () => {
      if (pending) onLine(pending);
    });
  }
  const result = await child;
  const output = String(result.all ?? '');
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
 * running when the daemon stops or is killed. Its output goes to `logFile`.
 */
export function spawnDetached(argv: string[], logFile: string): number {
  const [file, ...args] = argv;
  if (!file) throw new Error('spawnDetached: empty argv');
  execStats.spawns++;
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (child.pid === undefined) throw new ExecError(argv, undefined, '', 'could not be started');
    return child.pid;
  } finally {
    closeSync(fd);
  }
}
