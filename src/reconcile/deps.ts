import type { Config } from '../config.js';
import type { Exec } from '../lib/exec.js';
import type { Layout } from '../lib/layout.js';
import type { Logger } from '../lib/logger.js';
import type { Lifecycles } from '../lifecycle/lifecycles.js';
import type { Plugins } from '../plugins/registry.js';
import type { Store } from '../store/store.js';

/** What the reconciler and the executor it drives are given: one context, passed in. */
export interface ReconcilerDeps {
  config: Config;
  layout: Layout;
  store: Store;
  plugins: Plugins;
  exec: Exec;
  lifecycles: Lifecycles;
  log: Logger;
}
