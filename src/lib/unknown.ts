/**
 * An observation that could not be made (a server that does not answer, a file that cannot be
 * read). Unknown is not absent: nothing is deleted, pruned or recreated on it.
 */
export const UNKNOWN = Symbol('unknown');
export type Unknown = typeof UNKNOWN;
