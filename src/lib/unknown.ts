import { readFileSync } from 'node:fs';

/**
 * An observation that could not be made (a server that does not answer, a file that cannot be
 * read). Unknown is not absent: nothing is deleted, pruned or recreated on it.
 */
export const UNKNOWN = Symbol('unknown');
export type Unknown = typeof UNKNOWN;

/** A file's content, null when it is absent, UNKNOWN when it cannot be read. */
export function readObserved(path: string): string | null | Unknown {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? null : UNKNOWN;
  }
}
