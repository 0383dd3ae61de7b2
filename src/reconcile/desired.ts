import { join } from 'node:path';
import type { Config } from '../config.js';
import { certPaths } from '../plugins/certs/cert-files.js';
import { desiredCert } from '../plugins/certs/desired-cert.js';
import type { Plugins } from '../plugins/registry.js';
import type { DeploymentInfo, ProxySite } from '../plugins/types.js';
import type { DesiredResource } from '../plugins/provider.js';
import { SITE_KIND } from '../plugins/proxies/site-provider.js';
import { upstreamPorts } from '../plugins/proxies/upstream-ports.js';
import { keptReleaseDirs } from '../plugins/files/release-dir-provider.js';
import { layoutOf } from '../lib/layout.js';
import type { AppRecord, ReleaseRecord } from '../store/types.js';
import type { DesiredApp, HealthCheck } from './types.js';

/** The release to run: the desired one unless it failed, then the one still live. */
export function targetRelease<R extends Pick<ReleaseRecord, 'status'>>(app: AppRecord, get: (version: number) => R | null): R | null {
  const desired = app.desiredRelease === null ? null : get(app.desiredRelease);
  if (desired && desired.status !== 'failed') return desired;
  return app.currentRelease === null ? null : get(app.currentRelease);
}

export function serverNames(app: string, release: ReleaseRecord, config: Config): string[] {
  return [...new Set([`${app}.${config.domain}`, ...release.spec.domains])];
}

/** What an app's attachments add: the instances it needs and the variables it reaches them with. */
export interface AttachedResources {
  resources: DesiredResource[];
  env: Record<string, string>;
}

/**
 * Everything the records say about one app, with config files rendered. Pure. `releases`: all of
 * the app's release records, for what retention keeps; `certRenewal`: when a new certificate was
 * last asked for; `attached`: the addon instances it is attached to, needed while it runs (their
 * URLs are given to its processes, never stored in a release).
 */
export function desiredApp(
  app: AppRecord, target: ReleaseRecord | null, plugins: Plugins, config: Config, releases: ReleaseRecord[], certRenewal: string | null = null,
  attached: AttachedResources = { resources: [], env: {} },
): DesiredApp {
  const rollingOut = app.desiredState === 'running' && target?.status === 'built' && target.version === app.desiredRelease ? target.version : null;
  const kept = keptReleaseDirs(layoutOf(config.home), app.name, releases, app.desiredRelease, config.keepReleases, rollingOut);
  const base: DesiredApp = {
    app: app.name,
    state: app.desiredState,
    healPolicy: app.healPolicy,
    settled: app.generation === app.observedGeneration && target?.status === 'live',
    target,
    health: null,
    resources: kept,
  };
  const names = target ? serverNames(app.name, target, config) : [];
  // The certificate outlives a stop and a failed first release (issuing again would cost a CA
  // order, and CAs limit those); it goes with TLS or the app.
  const certFrom = target?.artifact ? target : releases.find((r) => r.artifact !== null) ?? null;
  const cert = certFrom ? desiredCert(app.name, serverNames(app.name, certFrom, config), certFrom.spec.tls, config, certRenewal) : null;
  if (cert) base.resources = [...kept, { kind: 'cert', name: cert.name, spec: cert }];
  if (!target?.artifact || app.desiredState === 'stopped') return base;
  const bundle = cert && certPaths(layoutOf(config.home).certs, cert.name).bundle;
  const site = (to: ProxySite['target']): ProxySite => ({
    app: app.name,
    release: target.version,
    serverNames: names,
    target: to,
    // A paused app serves nothing of its own, files included.
    staticPaths: to.protocol === 'paused' ? [] : staticPaths(target, config),
    staticMaxAge: target.spec.static.maxAge,
    maxBodyBytes: target.spec.run.maxBodyBytes,
    tls: bundle ? { certFile: bundle, keyFile: bundle, httpsOnly: target.spec.tls.httpsOnly, hsts: target.spec.tls.hsts } : null,
  });
  const siteResource = (to: ProxySite['target']): DesiredResource =>
    ({ kind: SITE_KIND, name: app.name, spec: { path: plugins.proxy.sitePath(app.name), content: plugins.proxy.render(site(to)) } });
  // A paused app keeps its names: the proxy answers for it while no process runs.
  if (app.desiredState === 'paused') return { ...base, resources: [...base.resources, siteResource({ protocol: 'paused' })] };
  const deployer = plugins.deployers.find((d) => d.accept(target.artifact!));
  if (!deployer) throw new Error(`no deployer accepts a ${target.artifact.kind} artifact`);
  const withAddons = Object.keys(attached.env).length === 0 ? target : { ...target, env: { ...target.env, ...attached.env } };
  const { units, resources, info } = deployer.plan(withAddons, { restartCount: app.restartCount });
  const scheduled = plugins.schedulers.flatMap((s) => s.plan(withAddons));
  return {
    ...base,
    resources: [...base.resources, ...attached.resources, ...resources, ...scheduled, ...(info ? [siteResource(info)] : [])],
    ...(info ? { probe: { host: names[0]!, path: info.protocol === 'http' ? target.spec.healthcheck.path : '/' } } : {}),
    health: info ? healthCheck(info, target, names[0]!, config, units.map((u) => ({ name: u.name, log: u.log }))) : null,
  };
}

/** `[static] paths` as absolute directories of the release's source (checked inside it when it was built). */
function staticPaths(release: ReleaseRecord, config: Config): ProxySite['staticPaths'] {
  const src = join(config.home, release.artifact!.dir, 'src');
  return release.spec.static.paths.map(({ prefix, dir }) => ({ prefix, root: dir === '.' ? src : join(src, dir) }));
}

function healthCheck(info: DeploymentInfo, release: ReleaseRecord, host: string, config: Config, units: HealthCheck['units']): DesiredApp['health'] {
  if (info.protocol !== 'http') return null;
  const hc = release.spec.healthcheck;
  return {
    urls: upstreamPorts(info).map((port) => `http://127.0.0.1:${port}${hc.path}`),
    host,
    expectStatus: hc.expectStatus,
    timeoutMs: hc.timeout === null ? config.healthTimeoutMs : hc.timeout * 1000,
    units,
  };
}
