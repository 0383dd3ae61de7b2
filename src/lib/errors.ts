/**
 * Every error hop3 raises on purpose carries a stable code, a category and a hint; the code
 * comes from the catalogue in error-codes.ts, which also gives its category and terminal flag.
 * Only entry points (CLI, RPC) turn them into exit codes or JSON-RPC errors.
 */
import { ERRORS, isErrorCode, type CodeOf, type ErrorCategory, type ErrorCode } from './error-codes.js';

export type { CodeOf, ErrorCategory, ErrorCode } from './error-codes.js';

export interface ErrorInit {
  hint?: string;
  details?: unknown;
  cause?: unknown;
}

/** A code and category as another hop3 sent them over the wire, not checked against this catalogue. */
interface WireCode {
  readonly code: string;
  readonly category: ErrorCategory;
}

export class Hop3Error extends Error {
  /** An ErrorCode, except for an error relayed from the daemon's answer (see remoteError). */
  readonly code: string;
  readonly category: ErrorCategory;
  readonly hint: string | undefined;
  readonly details: unknown;

  constructor(code: ErrorCode | WireCode, message: string, init: ErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'Hop3Error';
    if (typeof code === 'string') {
      const spec: { category: ErrorCategory; hint?: string } = ERRORS[code];
      this.code = code;
      this.category = spec.category;
      this.hint = init.hint ?? spec.hint;
    } else {
      this.code = code.code;
      this.category = code.category;
      this.hint = init.hint;
    }
    this.details = init.details;
  }
}

/** Something the user sent or wrote is wrong; retrying without changing it will not help. */
export const userError = (code: CodeOf<'user'>, message: string, init?: ErrorInit) => new Hop3Error(code, message, init);

/** The machine or a managed system misbehaved (nginx refused a config, a build failed). */
export const operationalError = (code: CodeOf<'operational'>, message: string, init?: ErrorInit) =>
  new Hop3Error(code, message, init);

/** An error the daemon answered with, relayed by the CLI as it came (its code may be newer than this catalogue). */
export const remoteError = (code: string, category: ErrorCategory, message: string, init?: ErrorInit) =>
  new Hop3Error({ code, category }, message, init);

/**
 * A failure that is the release's own, so it fails the release instead of being retried
 * (the catalogue's `terminal`).
 */
export function isTerminal(err: unknown): boolean {
  const code = asHop3Error(err).code;
  return isErrorCode(code) && ERRORS[code].terminal;
}

/**
 * Failures of the machine underneath (a locked database, a full disk, an I/O error), told apart
 * by the stable codes SQLite and the kernel give them: they are operational, never the user's
 * fault, and never internal. Null for anything else.
 */
export function systemError(err: unknown): Hop3Error | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'string') return null;
  const detail = err instanceof Error ? err.message : code;
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return operationalError('DB_BUSY', 'the database is busy; try again', { cause: err });
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') {
    return operationalError('DISK_FULL', `the disk holding HOP3_HOME is full (${detail})`, { cause: err });
  }
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') {
    return operationalError('IO_ERROR', `reading or writing the disk of HOP3_HOME failed (${detail})`, { cause: err });
  }
  return null;
}

export function asHop3Error(err: unknown): Hop3Error {
  if (err instanceof Hop3Error) return err;
  const system = systemError(err);
  if (system) return system;
  const message = err instanceof Error ? err.message : String(err);
  return new Hop3Error('INTERNAL', message, { cause: err });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
