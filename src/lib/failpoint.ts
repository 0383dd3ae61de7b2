import type { Failpoint } from '../config.js';
import type { Logger } from './logger.js';

/**
 * For tests (HOP3_FAILPOINT): the daemon SIGKILLs itself at `at`, as a crash there would, so a
 * test can check what a restart does with the state left behind. `why` says what is cut short.
 */
export function failpoint(ctx: { config: { failpoint: Failpoint | null }; log: Logger }, at: Failpoint, why: string, data: Record<string, unknown> = {}): void {
  if (ctx.config.failpoint !== at) return;
  ctx.log.warn(data, `failpoint ${at}: hop3-server kills itself ${why}`);
  process.kill(process.pid, 'SIGKILL');
}
