import type { BuildContext } from '../types.js';

/** Builds see the release env and a minimal PATH, never the daemon's own environment. */
export function buildEnv(ctx: BuildContext, extraPath: string[] = []): Record<string, string> {
  return {
    ...ctx.env,
    PATH: [...extraPath, '/usr/local/bin', '/usr/bin', '/bin'].join(':'),
    HOME: ctx.releaseDir,
    LANG: 'C.UTF-8',
    HOP3_APP: ctx.app,
    HOP3_RELEASE: `v${ctx.version}`,
  };
}
