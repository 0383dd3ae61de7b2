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
import { backupService } from '../plugins/addons/backups/service.js';
import { addonsOfRecords } from '../plugins/addons/backups/resolver.js';
import { loadPlugins } from '../plugins/registry.js';
import type { CommandContext } from '../commands/context.js';
import { Reconciler } from '../reconcile/reconciler.js';
import { Store } from '../store/store.js';
import { createRenderer } from '../lib/render.js';
import { createExec } from '../lib/exec.js';

/**
 * The one context object: everything a component needs, passed explicitly. The proxy's running
 * server is `plugins.proxy.server`, the unit supervisor `plugins.supervisor`.
 */
export interface Hop3 extends CommandContext {
  lifecycles: Lifecycles;
  reconciler: Reconciler;
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
  const pctx = { config, layout, log, render: createRenderer(), exec, addonRecords: store };
  const plugins = loadPlugins(pctx);
  const lifecycles = new Lifecycles(store, (app, err) => log.warn({ app, code: asHop3Error(err).code, err: asHop3Error(err).message }, 'lifecycle snapshot not saved yet; will retry'));
  const reconciler = new Reconciler({ config, layout, store, plugins, exec, lifecycles, log: log.child({ component: 'reconcile' }) });
  const backups = backupService(layout, log, exec, addonsOfRecords(plugins.addons, store));
  return { config, layout, log, store, plugins, exec, lifecycles, reconciler, deployLocks: new KeyedMutex(), backups };
}

