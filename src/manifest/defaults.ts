/** What an app gets for a key it does not set (also for releases recorded before the key existed). */

// nginx's own default (1m) refuses ordinary photo uploads; 10m is piku's habit too.
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
// A body past the proxy's buffer goes to a temp file under HOP3_HOME, so the disk bounds it.
export const MAX_BODY_BYTES = 4 * 1024 ** 3;
export const DEFAULT_STATIC_MAX_AGE = 3600;
export const DEFAULT_TLS = { mode: 'auto', httpsOnly: false, hsts: false } as const;
