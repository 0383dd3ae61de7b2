/**
 * The addon servers' client libraries, each loaded on first use: a daemon with no addon of a type
 * never loads its client (the three cost about 20 MB of memory together).
 */
function onFirstUse<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | null = null;
  return () => (loaded ??= load());
}

export const redisLibrary = onFirstUse(() => import('redis'));
export const pgLibrary = onFirstUse(async () => (await import('pg')).default);
export const mysqlLibrary = onFirstUse(async () => (await import('mysql2/promise')).default);
