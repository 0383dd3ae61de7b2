import { constants } from 'node:os';
import type { RunOutcome } from '../commands/run.js';
import { asHop3Error } from '../lib/errors.js';

export type { RunOutcome };

/** `hop3 run`'s own failures, kept apart from any status the command itself could exit with (as `docker run`). */
export const RUN_EXIT = { timedOut: 124, hop3Failed: 125, notExecutable: 126, notFound: 127 } as const;

/**
 * The exit status of `hop3 run`: the command's own; 128 + the signal that ended it; 124 when the
 * time limit stopped it; 127 or 126 when it could not be started (not found, not executable);
 * 125 when hop3 failed before it ran (unknown or stopped app, no live release, daemon unreachable).
 */
export function runExitCode(r: RunOutcome | null, err: unknown): number {
  if (r === null) {
    const e = asHop3Error(err);
    if (e.code !== 'RUN_START_FAILED') return RUN_EXIT.hop3Failed;
    return (e.details as { errno?: string } | undefined)?.errno === 'ENOENT' ? RUN_EXIT.notFound : RUN_EXIT.notExecutable;
  }
  if (r.timedOut) return RUN_EXIT.timedOut;
  if (r.exitCode !== null) return r.exitCode;
  const n = r.signal === null ? undefined : constants.signals[r.signal as NodeJS.Signals];
  return n === undefined ? RUN_EXIT.hop3Failed : 128 + n;
}

/** Write to a stream, resolving once it can take more (a slow pipe holds the reading of the answer, not memory). */
export function writeOutput(stream: NodeJS.WritableStream, data: string | Uint8Array): void | Promise<void> {
  if (stream.write(data)) return;
  return new Promise((resolve) => stream.once('drain', () => resolve()));
}
