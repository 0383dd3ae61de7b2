import { ExecError } from '../../lib/exec.js';

/** Lines of a compiler's (or linter's) output kept in the release's error message (all of them are in the build output). */
const MESSAGE_LINES = 20;

/** A failed toolchain run, rethrown with the tool's own last words, so the failed release says what to fix. */
export function withToolMessage(err: unknown, what: string): never {
  if (!(err instanceof ExecError) || err.exitCode === undefined) throw err;
  const lines = err.output.split('\n').filter((l) => l.trim() !== '').slice(-MESSAGE_LINES);
  throw new ExecError(err.command, err.exitCode, err.output, `${what} failed (exit ${err.exitCode}):\n${lines.join('\n')}`);
}
