/**
 * Every error hop3 raises on purpose carries a stable code, a category and a hint.
 * Only entry points (CLI, RPC) turn them into exit codes or JSON-RPC errors.
 */
export type ErrorCategory = 'user' | 'operational' | 'internal';

export interface ErrorInit {
  hint?: string;
  details?: unknown;
  cause?: unknown;
}

export class Hop3Error extends Error {
  readonly code: string;
  readonly category: ErrorCategory;
  readonly hint: string | undefined;
  readonly details: unknown;

  constructor(category: ErrorCategory, code: string, message: string, init: ErrorInit = {}) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'Hop3Error';
    this.category = category;
    this.code = code;
    this.hint = init.hint;
    this.details = init.details;
  }
}

/** Something the user sent or wrote is wrong; retrying without changing it will not help. */
export const userError = (code: string, message: string, init?: ErrorInit) =>
  new Hop3Error('user', code, message, init);

/** The machine or a managed system misbehaved (nginx refused a config, a build failed). */
export const operationalError = (code: string, message: string, init?: ErrorInit) =>
  new Hop3Error('operational', code, message, init);

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
    return operationalError('DB_BUSY', 'the database is busy; try again', {
      hint: 'another process holds a lock on HOP3_HOME/hop3.db (a backup, a sqlite3 shell?); nothing was changed: retry once it lets go',
      cause: err,
    });
  }
  if (code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT') {
    return operationalError('DISK_FULL', `the disk holding HOP3_HOME is full (${detail})`, {
      hint: 'free disk space (old logs, builds) on the file system of HOP3_HOME, then try again; a change that failed was not made',
      cause: err,
    });
  }
  if (code.startsWith('SQLITE_IOERR') || code === 'EIO') {
    return operationalError('IO_ERROR', `reading or writing the disk of HOP3_HOME failed (${detail})`, {
      hint: 'check the disk (dmesg) and that HOP3_HOME has free space; a change that failed was not made',
      cause: err,
    });
  }
  return null;
}

export function asHop3Error(err: unknown): Hop3Error {
  if (err instanceof Hop3Error) return err;
  const system = systemError(err);
  if (system) return system;
  const message = err instanceof Error ? err.message : String(err);
  return new Hop3Error('internal', 'INTERNAL', message, { cause: err });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
