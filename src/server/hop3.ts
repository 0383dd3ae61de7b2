import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { readTextOrNull, writeIfDifferent } from '../lib/fs-atomic.js';
import { ensureLayout, layoutOf, type Layout } from '../lib/layout.js';
import type { Logger } from '../lib/logger.js';
import { TEMPLATES_DIR } from '../lib/paths.js';
import { KeyedMutex } from '../lib/keyed-mutex.js';
import { asHop3Error } from '../lib/errors.js';
import { Lifecycles } from '../lifecycle/lifecycles.js';
import { loadPlugins, type Plugins } from '../plugins/registry.js';
import type { ProxyServer, UnitSupervisor } from '../plugins/types.js';
import { Reconciler } from '../reconcile/reconciler.js';
import { Store } from '../store/store.js';
import { createRenderer } from '../lib/render.js';
import { createExec, type Exec } from '../lib/exec.js';

/** The one context object: everything a component needs, passed explicitly. */
export interface Hop3 {
  config: Config;
  layout: Layout;
  log: Logger;
  store: Store;
  plugins: Plugins;
  /** How programs are run (and counted). */
  exec: Exec;
  /** The proxy's running server (HOP3_PROXY). */
  proxyServer: ProxyServer;
  /** The server that runs app processes. */
  supervisor: UnitSupervisor;
  lifecycles: Lifecycles;
  reconciler: Reconciler;
  /** Serializes deploys per app: a second one waits until the first is live or failed. */
  deployLocks: KeyedMutex;
}

/** Runtime helpers the app processes load, copied into HOP3_HOME so apps never depend on the checkout. */
function installRuntime(layout: Layout): void {
  const dir = join(TEMPLATES_DIR, 'runtime');
  for (const f of readdirSync(dir)) writeIfDifferent(join(layout.lib, f), readTextOrNull(join(dir, f)) ?? '');
}

export function createHop3(config: Config, log: Logger): Hop3 {
  const layout = layoutOf(config.home);
  ensureLayout(layout);
  installRuntime(layout);
  const store = new Store(layout.db);
  const exec = createExec();
  const pctx = { config, layout, log, render: createRenderer(), exec };
  const plugins = loadPlugins(pctx);
  const { supervisor } = plugins;
  const proxyServer = plugins.proxy.server;
  const lifecycles = new Lifecycles(store, (app, err) => log.warn({ app, code: asHop3Error(err).code, err: asHop3Error(err).message }, 'lifecycle snapshot not saved yet; will retry'));
  const reconciler = new Reconciler({ config, layout, store, plugins, exec, supervisor, lifecycles, log: log.child({ component: 'reconcile' }) });
  return { config, layout, log, store, plugins, exec, proxyServer, supervisor, lifecycles, reconciler, deployLocks: new KeyedMutex() };
}

