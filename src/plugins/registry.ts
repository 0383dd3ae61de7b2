import { userError } from '../lib/errors.js';
import type { Builder, Deployer, OsPlugin, Plugin, PluginContext, PluginFactory, Proxy, Scheduler, UnitSupervisor } from './types.js';
import { runFileProvider } from './files/run-file-provider.js';
import { releaseDirProvider } from './files/release-dir-provider.js';
import type { Provider } from './provider.js';
import pythonBuilder from './builders/python/index.js';
import staticBuilder from './builders/static/index.js';
import nodeBuilder from './builders/node/index.js';
import goBuilder from './builders/go/index.js';
import rustBuilder from './builders/rust/index.js';
import rubyBuilder from './builders/ruby/index.js';
import phpBuilder from './builders/php/index.js';
import genericBuilder from './builders/generic/index.js';
import uwsgiDeployer from './deployers/uwsgi/index.js';
import staticDeployer from './deployers/static/index.js';
import nginxProxy from './proxies/nginx/index.js';
import caddyProxy from './proxies/caddy/index.js';
import debianOs from './os/debian/index.js';
import cronScheduler from './schedulers/cron/index.js';
import { loadAddons, type AddonPlugins } from './addons/index.js';

/** Every plugin hop3 ships, registered statically. Order matters: the first that accepts wins. */
export const PLUGINS: PluginFactory[] = [staticBuilder, pythonBuilder, nodeBuilder, goBuilder, rustBuilder, rubyBuilder, phpBuilder, genericBuilder, uwsgiDeployer, staticDeployer, nginxProxy, caddyProxy, debianOs, cronScheduler];

export interface Plugins {
  builders: Builder[];
  deployers: Deployer[];
  /** The proxy HOP3_PROXY names. */
  proxy: Proxy;
  /** The server that runs units (one deployer brings it). */
  supervisor: UnitSupervisor;
  oses: OsPlugin[];
  /** What runs a release's scheduled processes (Procfile `cron:`). */
  schedulers: Scheduler[];
  /**
   * Every resource provider, one per kind, in the order their actions run within a phase: the
   * generic ones first (the files a unit reads exist before the unit starts).
   */
  providers: Provider[];
  /**
   * The providers of host resources (the servers apps need: the unit supervisor, the proxy's
   * server), one per kind, in the order the host pass starts them: the proxy's first, so a proxy
   * that cannot start (its port taken) leaves nothing else started behind it.
   */
  hostProviders: Provider[];
  /** hop3's addon servers and their instances (src/plugins/addons). */
  addons: AddonPlugins;
}

export function loadPlugins(ctx: PluginContext, factories: PluginFactory[] = PLUGINS): Plugins {
  const all: Plugin[] = factories.map((f) => f(ctx));
  const of = <K extends Plugin['kind']>(kind: K) => all.filter((p): p is Extract<Plugin, { kind: K }> => p.kind === kind);
  const proxies = of('proxy');
  if (proxies.length === 0) throw new Error('no proxy plugin registered');
  const proxy = proxies.find((p) => p.name === ctx.config.proxy);
  if (!proxy) throw userError('CONFIG_INVALID', `HOP3_PROXY=${ctx.config.proxy} names no proxy hop3 has; it has ${proxies.map((p) => p.name).join(', ')}`);
  const supervisor = of('deployer').find((d) => d.supervisor)?.supervisor;
  if (!supervisor) throw new Error('no deployer brings a unit supervisor');
  // Only the chosen proxy's providers: the other proxy's resources are not hop3's to manage.
  // Providers plan in this order within a phase: release directories are pruned last, after the
  // units that run from them and the site that sends them requests.
  // Host servers start in this order: the proxy's first (see Plugins.hostProviders).
  const brought = [...(proxy.providers ?? []), ...all.filter((p) => p.kind !== 'proxy').flatMap((p) => p.providers ?? [])];
  const addons = loadAddons(ctx);
  // Addon instances exist before the units that connect to them start (both in the sync phase).
  const providers: Provider[] = [runFileProvider(), ...addons.providers.filter((p) => !p.host), ...all.filter((p) => p.kind !== 'proxy' || p === proxy).flatMap((p) => p.providers ?? []).filter((p) => !p.host), releaseDirProvider(ctx.layout)];
  const hostProviders = [...brought, ...addons.providers].filter((p) => p.host);
  const kinds = [...providers, ...hostProviders].map((p) => p.kind);
  const twice = kinds.find((k, i) => kinds.indexOf(k) !== i);
  if (twice) throw new Error(`two providers of ${twice} resources are registered`);
  return { builders: of('builder'), deployers: of('deployer'), proxy, supervisor, oses: of('os'), schedulers: of('scheduler'), providers, hostProviders, addons };
}
