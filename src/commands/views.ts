import { userError } from '../lib/errors.js';
import { serverNames } from '../reconcile/desired.js';
import type { AppRecord, ReleaseRecord } from '../store/types.js';
import type { CommandContext } from './context.js';

export function requireApp(ctx: CommandContext, name: string): AppRecord {
  const app = ctx.store.getApp(name);
  if (!app) throw userError('APP_NOT_FOUND', `no app named ${name}`, { hint: 'see `hop3 apps`' });
  return app;
}

/** Summary shown by `hop3 apps` and `hop3 status`. */
export function appView(ctx: CommandContext, app: AppRecord) {
  const release = app.currentRelease === null ? null : `v${app.currentRelease}`;
  return {
    name: app.name,
    state: ctx.lifecycles.state(app.name),
    desiredState: app.desiredState,
    sync: app.sync,
    health: app.health,
    release,
    desiredRelease: app.desiredRelease === null ? null : `v${app.desiredRelease}`,
    generation: app.generation,
    observedGeneration: app.observedGeneration,
    message: app.message,
    urls: urlsOf(ctx, app),
    updatedAt: app.updatedAt,
  };
}

/**
 * Where the serving release is published: every name over http, then, unless its [tls] mode is
 * "off", over https (`hop3 certs` says whether its certificate is stored).
 */
function urlsOf(ctx: CommandContext, app: AppRecord): string[] {
  const release = app.currentRelease === null ? null : ctx.store.getRelease(app.name, app.currentRelease);
  if (!release) return [];
  const names = serverNames(app.name, release, ctx.config);
  const at = (scheme: string, port: number, standard: number) => names.map((host) => `${scheme}://${host}${port === standard ? '' : `:${port}`}/`);
  return [...at('http', ctx.config.httpPort, 80), ...(release.spec.tls.mode === 'off' ? [] : at('https', ctx.config.httpsPort, 443))];
}

export function releaseView(r: ReleaseRecord, current: number | null) {
  return {
    version: `v${r.version}`,
    commit: r.commit,
    source: r.source,
    createdAt: r.createdAt,
    status: r.status,
    current: r.version === current,
    message: r.message,
  };
}
