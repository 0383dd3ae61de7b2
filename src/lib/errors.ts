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

export function asHop3Error(err: unknown): Hop3Error {
  if (err instanceof Hop3Error) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new Hop3Error('internal', 'INTERNAL', message, { cause: err });
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
