import type { Builder, Deployer, OsPlugin, Plugin, PluginContext, PluginFactory, Proxy } from './types.js';
import pythonBuilder from './builders/python/index.js';
import staticBuilder from './builders/static/index.js';
import uwsgiDeployer from './deployers/uwsgi/index.js';
import staticDeployer from './deployers/static/index.js';
import nginxProxy from './proxies/nginx/index.js';
import debianOs from './os/debian/index.js';

/** Every plugin hop3 ships, registered statically. Order matters: the first that accepts wins. */
export const PLUGINS: PluginFactory[] = [staticBuilder, pythonBuilder, uwsgiDeployer, staticDeployer, nginxProxy, debianOs];

export interface Plugins {
  builders: Builder[];
  deployers: Deployer[];
  proxy: Proxy;
  oses: OsPlugin[];
}

export function loadPlugins(ctx: PluginContext, factories: PluginFactory[] = PLUGINS): Plugins {
  const all: Plugin[] = factories.map((f) => f(ctx));
  const of = <K extends Plugin['kind']>(kind: K) => all.filter((p): p is Extract<Plugin, { kind: K }> => p.kind === kind);
  const proxy = of('proxy')[0];
  if (!proxy) throw new Error('no proxy plugin registered');
  return { builders: of('builder'), deployers: of('deployer'), proxy, oses: of('os') };
}
